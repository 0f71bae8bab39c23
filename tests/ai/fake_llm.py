"""A local OpenAI-compatible chat server on 127.0.0.1 that records every request."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    content: str | None = "Here is what I found."
    handoff: str | None = None  # a tool call handoff_to_human(reason)
    delay: float = 0.0
    status: int = 200
    echo_headers: bool = False  # an error body that repeats the request's headers (a hostile server)
    tool_calls: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)  # (name, arguments) the model calls


@dataclass
class FakeLLM:
    script: Callable[[dict[str, Any]], Reply] = lambda request: Reply()
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)  # each request's headers, lower-case names
    base: str = ""
    embedding: Callable[[str], list[float]] | None = None
    in_flight: int = 0
    most_in_flight: int = 0  # the most chat requests answered at the same time

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        reply = self.script(body)
        if reply.delay:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                await asyncio.sleep(reply.delay)
            finally:
                self.in_flight -= 1
        if reply.status != 200:
            message = json.dumps(dict(request.headers)) if reply.echo_headers else "model overloaded"
            return web.json_response({"error": {"message": message, "type": "server_error"}}, status=reply.status)
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.handoff is not None:
            message["content"] = None
            message["tool_calls"] = [{
                "id": "call_1", "type": "function",
                "function": {"name": "handoff_to_human", "arguments": json.dumps({"reason": reply.handoff})},
            }]
        if reply.tool_calls:
            message["content"] = None
            message["tool_calls"] = [
                {"id": f"call_{len(self.requests)}_{i}", "type": "function",
                 "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
                for i, (name, args) in enumerate(reply.tool_calls)
            ]
        calls = bool(reply.handoff is not None or reply.tool_calls)
        return web.json_response({
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "test-model"),
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49},
        })

    async def _embed(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        assert self.embedding is not None
        data = [{"object": "embedding", "index": i, "embedding": self.embedding(t)} for i, t in enumerate(texts)]
        return web.json_response({"object": "list", "data": data, "model": body.get("model"), "usage": {"prompt_tokens": 1, "total_tokens": 1}})

    async def start(self) -> FakeLLM:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embed)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}/v1"
        return self

    async def stop(self) -> None:
        await self._runner.cleanup()
