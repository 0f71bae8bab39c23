"""A real HTTP receiver on 127.0.0.1 for webhook tests: records requests, answers as scripted."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """``respond(request_number, received) -> (status, headers, body)`` scripts the answers;
    ``delay`` (seconds) slows every answer."""

    respond: Callable[[int, Received], tuple[int, dict[str, str], str]] = lambda n, r: (200, {}, "ok")
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    concurrent: int = 0  # requests being answered right now
    max_concurrent: int = 0
    answered: list[float] = field(default_factory=list)  # when each answer went back (time.time())
    url: str = ""
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def _handle(self, request: web.Request) -> web.Response:
        item = Received(dict(request.headers), await request.read(), time.time())
        self.received.append(item)
        self._arrived.set()
        self.concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            status, headers, body = self.respond(len(self.received), item)
            return web.Response(status=status, headers=headers, text=body)
        finally:
            self.concurrent -= 1
            self.answered.append(time.time())

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/webhook"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"expected {count} requests, got {len(self.received)}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.2))
            except TimeoutError:
                pass
        return self.received[:count]
