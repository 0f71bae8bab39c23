"""The website chat's live connections, against a real ``ndoto serve`` (SQLite, dispatcher off),
beside a bare SSE fan-out on the same stack (``_sse_echo.py``: FastAPI + uvicorn, nothing behind
it) as the ceiling, in one run:

1. memory: the server's resident size before, with N open idle widget streams, and after they
   have sat idle a while (target: N >= 2,000 held within the stated ceiling);
2. push latency: with those N open, agents reply at R messages/s (REST API, admin token) into C
   conversations watched by two tabs each; latency is from the moment the reply is sent to the
   moment each tab receives it (target: p99 < 100 ms at 200 messages/s).

Everything talks to 127.0.0.1; every loop is bounded.
Run: ``.venv/bin/python benchmarks/widget.py [--idle N] [--rate R] [--seconds S]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MEMORY_CEILING_MB = 300  # the stated figure: one server holding 2,000 idle visitors stays under it
P99_TARGET_MS = 100.0
TABS = 2  # streams per active conversation: "all visitors of a conversation"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class Streams:
    """Open SSE streams; each records when it received which message content."""

    session: aiohttp.ClientSession
    received: dict[str, list[float]] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    opened: int = 0
    failed: int = 0

    async def _read(self, url: str, ready: asyncio.Event) -> None:
        try:
            async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as resp:
                if resp.status != 200:
                    self.failed += 1
                    ready.set()
                    return
                self.opened += 1
                ready.set()
                async for raw in resp.content:
                    line = raw.decode().strip()
                    if line.startswith("data:"):
                        item = json.loads(line[5:])
                        message = item.get("message") if isinstance(item, dict) else None
                        if message and message.get("content"):
                            self.received.setdefault(message["content"], []).append(time.perf_counter())
        except (aiohttp.ClientError, asyncio.CancelledError):
            pass
        finally:
            ready.set()

    async def open(self, urls: list[str], batch: int = 200) -> None:
        for start in range(0, len(urls), batch):
            events = []
            for url in urls[start:start + batch]:
                ready = asyncio.Event()
                events.append(ready)
                self.tasks.append(asyncio.create_task(self._read(url, ready)))
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), timeout=60)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def push(send: Callable[[int, str], Awaitable[None]], conversations: int, rate: float, seconds: float) -> dict[str, float]:
    """Send ``rate`` messages/s round-robin over the conversations; return content -> send time."""
    sent: dict[str, float] = {}
    total = int(rate * seconds)
    start = time.perf_counter()
    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        content = f"m{i}"
        sent[content] = time.perf_counter()
        tasks.append(asyncio.create_task(send(i % conversations, content)))
    await asyncio.gather(*tasks)
    return sent


def latencies(sent: dict[str, float], streams: Streams, expected_per_message: int) -> tuple[list[float], int]:
    out, missing = [], 0
    for content, t0 in sent.items():
        got = streams.received.get(content, [])
        missing += max(0, expected_per_message - len(got))
        out.extend((t - t0) * 1000 for t in got)
    return out, missing


def p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1] if len(values) > 1 else values[0]


async def wait_received(streams: Streams, sent: dict[str, float], expected: int, timeout: float = 10) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if all(len(streams.received.get(c, [])) >= expected for c in sent):
            return
        await asyncio.sleep(0.05)


async def load(pid: int, idle_urls: list[str], active_urls: list[str], send: Callable[[int, str], Awaitable[None]], active: int,
               rate: float, seconds: float, idle_wait: float) -> dict[str, Any]:
    """The same load on either server: open the streams, idle, push, and measure."""
    before = rss_mb(pid)
    streams = Streams(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
    try:
        await streams.open(idle_urls)
        await streams.open(active_urls)
        held = rss_mb(pid)
        await asyncio.sleep(idle_wait)
        idled = rss_mb(pid)
        sent = await push(send, active, rate, seconds)
        await wait_received(streams, sent, TABS)
        after = rss_mb(pid)
        values, missing = latencies(sent, streams, TABS)
    finally:
        await streams.close()
        await streams.session.close()
    return {"before": before, "held": held, "idled": idled, "after": after, "opened": streams.opened, "failed": streams.failed,
            "latencies": values, "missing": missing, "messages": len(sent)}


# -- Ndoto ------------------------------------------------------------------------------------

async def bench_ndoto(idle: int, active: int, rate: float, seconds: float, idle_wait: float) -> dict[str, Any]:
    from tests.serve_process import start_serve

    with tempfile.TemporaryDirectory() as tmp:
        env = {"NDOTO_DISPATCHER": "false", "NDOTO_PUBLIC_REQUESTS_PER_MINUTE": "1000000", "NDOTO_PUBLIC_MESSAGES_PER_MINUTE": "100000",
               "NDOTO_CONVERSATION_MESSAGES_PER_MINUTE": "100000", "NDOTO_AUTH_FAILURES_PER_MINUTE": "100000"}
        served = start_serve(Path(tmp) / "home", extra_env=env)
        try:
            admin = {"api_access_token": served.token or ""}
            base = served.base_url
            connector = aiohttp.TCPConnector(limit=0, force_close=False)
            async with aiohttp.ClientSession(connector=connector) as http:
                inbox = await (await http.post(f"{base}/api/v1/accounts/1/inboxes", headers=admin,
                                               json={"name": "Website Chat", "channel": {"type": "web_widget"}})).json()
                site = inbox["website_token"]
                w = f"{base}/api/v1/widget"

                async def visitor() -> str:
                    async with http.post(f"{w}/session", params={"website_token": site}, json={}) as r:
                        return (await r.json())["token"]

                tokens = [await visitor() for _ in range(idle + active)]
                conversations = []
                for token in tokens[idle:]:
                    async with http.post(f"{w}/messages", params={"website_token": site}, json={"content": "hello"},
                                         headers={"X-Ndoto-Visitor": token}) as r:
                        conversations.append((await r.json())["conversation_id"])
                for display_id in conversations:  # the takeover (status change) before measuring
                    await http.post(f"{base}/api/v1/accounts/1/conversations/{display_id}/messages", headers=admin,
                                    json={"content": "warm-up"})
                mark = (await (await http.get(f"{w}/conversation", params={"website_token": site},
                                              headers={"X-Ndoto-Visitor": tokens[-1]})).json())["last_event_id"]
                stream_url = f"{w}/stream?website_token={site}&after={mark}&token="

                async def send(i: int, content: str) -> None:
                    async with http.post(f"{base}/api/v1/accounts/1/conversations/{conversations[i]}/messages", headers=admin,
                                         json={"content": content}) as r:
                        assert r.status == 200, await r.text()

                return await load(served.process.pid, [stream_url + t for t in tokens[:idle]],
                                  [stream_url + t for t in tokens[idle:] for _ in range(TABS)], send, active, rate, seconds, idle_wait)
        finally:
            served.stop()


# -- The bare ceiling --------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def bench_echo(idle: int, active: int, rate: float, seconds: float, idle_wait: float) -> dict[str, Any]:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(sys.executable, str(Path(__file__).with_name("_sse_echo.py")), str(port),
                                                stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            for _ in range(200):  # up within 20 s
                try:
                    async with http.get(f"{base}/health") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)

            async def send(i: int, content: str) -> None:
                async with http.post(f"{base}/publish/c{i}", json={"content": content}) as r:
                    assert r.status == 200

            return await load(proc.pid, [f"{base}/sse/idle{i}" for i in range(idle)],
                              [f"{base}/sse/c{i}" for i in range(active) for _ in range(TABS)], send, active, rate, seconds, idle_wait)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=10)


def report(name: str, r: dict[str, Any]) -> None:
    lat = r["latencies"]
    print(f"{name}: {r['opened']} streams open ({r['failed']} refused); resident memory {r['before']:.0f} MB before, "
          f"{r['held']:.0f} MB with them open, {r['idled']:.0f} MB after idling, {r['after']:.0f} MB after the pushes")
    print(f"{'':{len(name)}}  {r['messages']} messages pushed, {len(lat)} receipts, {r['missing']} missing: "
          f"latency p50 {p(lat, 50):.1f} ms, p99 {p(lat, 99):.1f} ms, max {max(lat, default=float('nan')):.1f} ms")


async def main(idle: int, active: int, rate: float, seconds: float, idle_wait: float) -> int:
    raise_fd_limit()
    echo = await bench_echo(idle, active, rate, seconds, idle_wait)
    ndoto = await bench_ndoto(idle, active, rate, seconds, idle_wait)
    total = idle + active * TABS
    print(f"{total} widget streams ({idle} idle visitors + {active} conversations x {TABS} tabs), replies at {rate:.0f} messages/s "
          f"for {seconds:.0f} s")
    report("bare SSE fan-out (ceiling)", echo)
    report("ndoto serve", ndoto)
    p99 = p(ndoto["latencies"], 99)
    ok = ndoto["opened"] >= total and ndoto["missing"] == 0 and ndoto["after"] < MEMORY_CEILING_MB and p99 < P99_TARGET_MS
    print(f"targets: {total} streams held under {MEMORY_CEILING_MB} MB (peak {max(ndoto['held'], ndoto['idled'], ndoto['after']):.0f} MB), "
          f"p99 under {P99_TARGET_MS:.0f} ms ({p99:.1f} ms), nothing missing: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=1800, help="idle visitors, one stream each")
    parser.add_argument("--active", type=int, default=100, help="conversations receiving replies, two streams each")
    parser.add_argument("--rate", type=float, default=200.0, help="replies per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--idle-wait", type=float, default=10.0, help="seconds the streams sit idle before the pushes")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(asyncio.run(main(args.idle, args.active, args.rate, args.seconds, args.idle_wait)))
