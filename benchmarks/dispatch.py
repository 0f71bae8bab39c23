"""Webhook delivery throughput and latency, beside the ceiling of a bare client, in one run.

* sustained: N message events queued, then the dispatcher delivers them (signed, each outcome and
  attempt durably recorded) to a minimal aiohttp receiver on 127.0.0.1, in its own process as a
  bot would be: deliveries/s.
* latency: events committed at ~200/s while the dispatcher runs; commit-to-receipt p50/p99.
* ceiling: the same receiver driven by a bare aiohttp client loop (no database, no signing).
Run: ``.venv/bin/python benchmarks/dispatch.py [--events N] [--runs N] [--postgresql [--processes N]] [--compare]``
(``--compare``: SQLite, PostgreSQL in one process and PostgreSQL with 3 ``ndoto worker``
processes, one after another in the same run).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


RECEIVER = r"""
import json, sys, time
from aiohttp import web
arrivals = {}
posts = [0]
async def hook(request):
    await request.read()
    posts[0] += 1
    arrivals[request.headers.get("webhook-id", str(len(arrivals)))] = time.time()
    return web.Response(text="ok")
async def stats(request):
    return web.json_response({"count": len(arrivals), "posts": posts[0], "arrivals": arrivals if request.query.get("all") else {}})
async def reset(request):
    arrivals.clear()
    posts[0] = 0
    return web.Response(text="ok")
app = web.Application()
app.router.add_post("/hook", hook)
app.router.add_get("/stats", stats)
app.router.add_post("/reset", reset)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


CONVERSATIONS = 1000  # deliveries of one conversation go one at a time: throughput needs many


class Sink:
    """A minimal receiver in its own process (as a bot would be), so it does not share our CPU."""

    def __init__(self) -> None:
        import socket
        import subprocess

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.proc = subprocess.Popen([sys.executable, "-c", RECEIVER, str(self.port)])
        self.url = f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> str:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(f"http://127.0.0.1:{self.port}/stats"):
                        return self.url
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
        raise RuntimeError("receiver did not start")

    async def stats(self, *, full: bool = False) -> dict[str, Any]:
        params = {"all": "1"} if full else {}
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{self.port}/stats", params=params) as resp:
            return await resp.json()

    async def reset(self) -> None:
        async with aiohttp.ClientSession() as session, session.post(f"http://127.0.0.1:{self.port}/reset"):
            pass

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def ceiling(url: str, n: int, concurrency: int = 50) -> float:
    body = b'{"event":"message_created","content":"' + b"x" * 600 + b'"}'
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        left = n

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
                    await resp.read()

        start = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        return n / (time.perf_counter() - start)


NEW_DATABASE: Any = lambda: None


async def world(home: Path, url: str) -> tuple[Any, Any, int, list[int]]:
    from ndoto_cli.core.db import Database
    from ndoto_cli.core.models import Inbox
    from ndoto_cli.core.services import accounts, bots, customers, inboxes
    from ndoto_cli.core.settings import Settings

    settings = Settings(home=home, allow_private_addresses=True, database_url=NEW_DATABASE())
    db = await Database(settings).open()
    boot = await db.write(lambda s: accounts.bootstrap(s))
    acc = boot.account.id
    inbox = await db.write(lambda s: inboxes.create_inbox(s, account_id=acc, name="Web", channel="web_widget"))
    bot, _ = await db.write(lambda s: bots.create_bot(s, account_id=acc, name="B", outgoing_url=url))
    await db.write(lambda s: inboxes.set_inbox_bot(s, account_id=acc, inbox_id=inbox.id, bot_id=bot.id))
    ids = []
    for i in range(CONVERSATIONS):
        async def go(s: Any, i: int = i) -> Any:
            return await customers.say(s, inbox=await s.get(Inbox, inbox.id), contact_name=f"c{i}", content="hi")
        ids.append((await db.write(go)).bundle.conversation.display_id)
    return db, settings, acc, ids


async def sustained(n: int, processes: int = 0) -> tuple[float, float, int]:
    from ndoto_cli.core.actors import Actor
    from ndoto_cli.core.services import messages
    from ndoto_cli.dispatch.worker import Dispatcher

    sink = Sink()
    url = await sink.start()
    ceil = await ceiling(url, n)
    with tempfile.TemporaryDirectory() as tmp:
        db, settings, acc, ids = await world(Path(tmp), url)
        bot = Actor("agent_bot", 1, "B")

        async def writer(w: int) -> None:
            for i in range(n // 50):
                display_id = ids[(w * 7 + i) % len(ids)]
                await db.write(lambda s, d=display_id: messages.create_message(s, account_id=acc, display_id=d, actor=bot, content="x" * 600))

        await asyncio.gather(*[writer(w) for w in range(50)])
        await sink.reset()
        from sqlalchemy import text

        async def undelivered() -> int:
            async with db.read() as s:
                return (await s.execute(text("select count(*) from deliveries where status != 'delivered'"))).scalar_one()

        # Every queued delivery counts: the N message events and the conversations' own first events.
        target = await undelivered()
        if processes:
            elapsed = await _in_worker_processes(db, settings, processes, sink, undelivered)
        else:
            dispatcher = Dispatcher(db, settings)
            start = time.perf_counter()
            await dispatcher.start()
            # Durably logged: the dispatcher counts a delivery only after its outcome is committed.
            # (Watching its counter, not polling the table, keeps the benchmark's own work out.)
            while dispatcher.delivered < target:
                await asyncio.sleep(0.005)
            elapsed = time.perf_counter() - start
            await dispatcher.stop()
        left = await undelivered()
        out_of_order = await _out_of_order(db)
        await db.close()
        stats = await sink.stats()
    sink.stop()
    if left or stats["count"] < target or out_of_order:
        raise SystemExit(f"benchmark broken: {left} deliveries not delivered, {stats['count']} of {target} received, "
                         f"{out_of_order} conversations delivered out of order")
    if stats["posts"] != stats["count"]:
        raise SystemExit(f"benchmark broken: {stats['posts'] - stats['count']} deliveries sent twice with no process killed")
    return target / elapsed, ceil, target


async def _in_worker_processes(db: Any, settings: Any, processes: int, sink: Sink, undelivered: Any) -> float:
    """``processes`` real ``ndoto worker`` processes share the queue. Timed from the first
    arrival to the last outcome committed, so their start-up (imports) is not counted."""
    import os
    import signal
    import subprocess

    from sqlalchemy import text

    env = {**os.environ, "NDOTO_DATABASE_URL": db.url, "NDOTO_HOME": str(settings.home), "NDOTO_ALLOW_PRIVATE_ADDRESSES": "true"}
    workers = [await asyncio.create_subprocess_exec(sys.executable, "-m", "ndoto_cli", "worker", "--log-level", "warning", env=env,
                                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL) for _ in range(processes)]
    try:
        deadline = time.monotonic() + 600
        while await undelivered() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            await asyncio.wait_for(w.wait(), 30)
    arrivals = (await sink.stats(full=True))["arrivals"]
    async with db.read() as s:
        last = (await s.execute(text("select max(updated_at) from deliveries"))).scalar_one()
    return float(last) - min(arrivals.values())


async def _out_of_order(db: Any) -> int:
    """Conversations whose deliveries were not delivered in id order (by the time each outcome was recorded)."""
    from sqlalchemy import text

    async with db.read() as s:
        rows = (await s.execute(text("select conversation_id, id, updated_at from deliveries order by conversation_id, id"))).all()
    bad: set[int] = set()
    last: dict[int, float] = {}
    for conversation_id, _id, done_at in rows:
        if conversation_id in last and done_at < last[conversation_id]:
            bad.add(conversation_id)
        last[conversation_id] = done_at
    return len(bad)


async def latency(rate: float = 200.0, seconds: float = 5.0) -> tuple[float, float]:
    from sqlalchemy import text

    from ndoto_cli.core.actors import Actor
    from ndoto_cli.core.services import messages
    from ndoto_cli.dispatch.worker import Dispatcher

    sink = Sink()
    url = await sink.start()
    with tempfile.TemporaryDirectory() as tmp:
        db, settings, acc, ids = await world(Path(tmp), url)
        dispatcher = Dispatcher(db, settings)
        await dispatcher.start()
        await asyncio.sleep(0.5)
        await sink.reset()
        bot = Actor("agent_bot", 1, "B")
        committed: dict[int, float] = {}
        interval = 1.0 / rate
        start = time.perf_counter()
        i = 0
        while time.perf_counter() - start < seconds:
            display_id = ids[i % len(ids)]
            result = await db.write(lambda s, d=display_id: messages.create_message(s, account_id=acc, display_id=d, actor=bot, content="ping"))
            committed[result.message.id] = time.time()
            i += 1
            await asyncio.sleep(max(0.0, start + i * interval - time.perf_counter()))
        await asyncio.sleep(1.0)
        async with db.read() as s:
            rows = (await s.execute(text(
                "select d.webhook_id, e.payload from deliveries d join events e on e.id = d.event_id where e.name = 'message_created'"
            ))).all()
        import json

        arrivals = (await sink.stats(full=True))["arrivals"]
        samples = []
        for webhook_id, payload in rows:
            mid = json.loads(payload)["id"]
            if mid in committed and webhook_id in arrivals:
                samples.append((arrivals[webhook_id] - committed[mid]) * 1000)
        await dispatcher.stop()
        await db.close()
    sink.stop()
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    try:  # `ndoto serve` runs on uvloop (uvicorn picks it when installed): measure the same loop
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"
    print(f"event loop: {loop_name}")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3, help="sustained runs, each beside its own ceiling; the median ratio last")
    parser.add_argument("--postgresql", action="store_true", help="on a throwaway PostgreSQL (Debian's server) instead of SQLite")
    parser.add_argument("--processes", type=int, default=0,
                        help="PostgreSQL: deliver with this many `ndoto worker` processes instead of one in-process dispatcher")
    parser.add_argument("--compare", action="store_true",
                        help="in one run: SQLite, PostgreSQL in one process, PostgreSQL with --processes workers (default 3)")
    args = parser.parse_args()
    if args.processes and not (args.postgresql or args.compare):
        parser.error("--processes needs --postgresql: worker processes share a PostgreSQL database")
    cluster = None
    global NEW_DATABASE
    if args.postgresql or args.compare:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.postgres import Cluster, empty_database

        cluster = Cluster(durable=True)
        cluster.start()
        print("PostgreSQL: a throwaway cluster with its default durability (fsync, synchronous commit)")
    try:
        if args.compare:
            many = args.processes or 3
            for label, on_pg, processes in (("SQLite, 1 process", False, 0), ("PostgreSQL, 1 process", True, 0),
                                            (f"PostgreSQL, {many} worker processes", True, many)):
                NEW_DATABASE = (lambda: empty_database(cluster)) if on_pg else (lambda: None)
                _measure(args.events, label, processes, latency_too=not processes, runs=args.runs)
        else:
            if cluster is not None:
                NEW_DATABASE = lambda: empty_database(cluster)
            _measure(args.events, "PostgreSQL" if cluster else "SQLite", args.processes, latency_too=not args.processes, runs=args.runs)
    finally:
        if cluster is not None:
            cluster.stop()


def _measure(events: int, label: str, processes: int = 0, *, latency_too: bool = True, runs: int = 1) -> None:
    ratios = []
    for n in range(runs):
        rate, ceil, deliveries = asyncio.run(sustained(events, processes))
        ratios.append(rate / ceil)
        run = f" (run {n + 1} of {runs})" if runs > 1 else ""
        print(f"{label}{run}: ceiling: bare aiohttp client loop, no database:   {ceil:8.0f} POSTs/s")
        print(f"{label}{run}: dispatcher: signed, durably logged deliveries:    {rate:8.0f} deliveries/s ({rate / ceil:.0%} of the ceiling; "
              f"{deliveries} deliveries over {CONVERSATIONS} conversations, each in order, none twice)")
    if runs > 1:
        ratio = statistics.median(ratios)
        print(f"{label}: dispatcher against the bare client loop, median of {runs} runs: {ratio:.0%} "
              f"(target 50%: {'ok' if ratio >= 0.5 else 'MISSES'})")
    if latency_too:
        p50, p99 = asyncio.run(latency())
        print(f"{label}: commit-to-receipt latency at 200 events/s:        p50 {p50:.1f} ms, p99 {p99:.1f} ms")


if __name__ == "__main__":
    main()
