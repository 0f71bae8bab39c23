"""Does Ndoto slow down as its database grows? The same figures on a nearly empty database and
on one already holding 100,000 conversations and 1,000,000 messages (with their events and
delivered deliveries), in one run, each seeded one beside its empty one (ceiling: 1.5x).

* listings: the REST API's conversation listing (first page, a later page, by status), the
  console's tabs, the deliveries listing (all, last hour), one conversation's messages: the
  median of repeated reads, in ms;
* ingest: bot replies through the core (message + event + delivery, committed), 32 callers;
* dispatch: those replies' deliveries, signed and durably logged, to a receiver on 127.0.0.1.

Seeding: ``benchmarks/_seed.py`` (bulk inserts shaped like what the core writes). SQLite (the
embedded default), or with ``--postgresql`` a throwaway PostgreSQL cluster (Debian's server).
Run: ``.venv/bin/python benchmarks/growth.py [--conversations N] [--messages N] [--postgresql]``.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _seed import seed, seed_postgresql, size_mb

CEILING = 1.5
REPLIES = 4000
EMPTY_CONVERSATIONS = 1000  # and 10 messages each: the "empty" database the grown one is compared with


async def _median_ms(fn: Any, runs: int = 15) -> float:
    await fn()  # warm: the first read pays for opening connections and the page cache
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


async def measure(home: Path, sink: Any, database_url: str | None = None) -> dict[str, float]:
    from sqlalchemy import text

    from ndoto_cli.core import queries
    from ndoto_cli.core.actors import Actor
    from ndoto_cli.core.db import Database
    from ndoto_cli.core.services import deliveries, messages
    from ndoto_cli.core.settings import Settings
    from ndoto_cli.dispatch.worker import Dispatcher

    settings = Settings(home=home, allow_private_addresses=True, conversation_messages_per_minute=100_000,
                        database_url=database_url)
    db = await Database(settings).open()
    figures: dict[str, float] = {}
    async with db.read() as s:
        newest = (await s.execute(text("SELECT id FROM conversations ORDER BY last_activity_at DESC LIMIT 1"))).scalar_one()

    def read(fn: Any) -> Any:
        async def go() -> None:
            async with db.read() as s:
                await fn(s)
        return go

    listings = {
        "API: conversations, all, page 1": lambda s: queries.list_conversations(s, account_id=1, status="all", user_id=1),
        "API: conversations, open, page 1": lambda s: queries.list_conversations(s, account_id=1, status="open", user_id=1),
        "API: conversations, all, page 20": lambda s: queries.list_conversations(s, account_id=1, status="all", user_id=1, page=20),
        "console: tab all, 100 rows": lambda s: queries.conversation_rows(s, account_id=1, tab="all", user_id=1),
        "console: tab mine, 100 rows": lambda s: queries.conversation_rows(s, account_id=1, tab="mine", user_id=1),
        "deliveries, newest 50": lambda s: deliveries.list_deliveries(s, account_id=1),
        "deliveries, last hour": lambda s: deliveries.list_deliveries(s, account_id=1, since=time.time() - 3600),
        "a conversation's messages": lambda s: messages.list_messages(s, conversation_id=newest),
    }
    for label, fn in listings.items():
        figures[label] = await _median_ms(read(fn))

    bot = Actor("agent_bot", 1, "Bot")
    async with db.read() as s:  # the bot answers the newest of the conversations it holds
        targets = list((await s.execute(text(
            "SELECT display_id FROM conversations WHERE status = 'pending' AND assignee_id IS NULL ORDER BY id DESC LIMIT :n"),
            {"n": EMPTY_CONVERSATIONS // 4})).scalars())
    left = REPLIES

    async def writer(w: int) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            display_id = targets[(left * 7 + w) % len(targets)]
            await db.write(lambda s, d=display_id: messages.create_message(s, account_id=1, display_id=d, actor=bot, content="On its way"))

    start = time.perf_counter()
    await asyncio.gather(*[writer(w) for w in range(32)])
    figures["ingest"] = REPLIES / (time.perf_counter() - start)
    async with db.read() as s:
        queued = (await s.execute(text("SELECT count(*) FROM deliveries WHERE status != 'delivered'"))).scalar_one()
    dispatcher = Dispatcher(db, settings)
    start = time.perf_counter()
    await dispatcher.start()
    deadline = time.monotonic() + 300
    while dispatcher.delivered < queued and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    figures["dispatch"] = dispatcher.delivered / (time.perf_counter() - start)
    await dispatcher.stop()
    if dispatcher.delivered < queued:
        raise SystemExit(f"benchmark broken: {dispatcher.delivered} of {queued} deliveries delivered")
    await db.close()
    return figures


def run(conversations: int, messages: int, sink: Any, url: str, cluster: Any = None) -> dict[str, float]:
    """Seed a fresh database (a SQLite file, or a new database on ``cluster``) and measure it."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        t0 = time.perf_counter()
        database_url = None
        if cluster is not None:
            from tests.postgres import empty_database

            database_url = empty_database(cluster)
            seed_postgresql(home, database_url, conversations, messages, url=url)
        else:
            seed(home, conversations, messages, url=url)
        size = size_mb(home, database_url)
        print(f"seeded {conversations:,} conversations, {messages:,} messages in {time.perf_counter() - t0:.0f} s ({size:,.0f} MB)", flush=True)
        return asyncio.run(measure(home, sink, database_url))


def main() -> int:
    from dispatch import Sink

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--postgresql", action="store_true",
                        help="on a throwaway PostgreSQL (Debian's server, its default durability) instead of SQLite files")
    args = parser.parse_args()
    cluster = None
    if args.postgresql:
        from tests.postgres import Cluster

        cluster = Cluster(durable=True)
        cluster.start()
        print("PostgreSQL: a throwaway cluster with its default durability (fsync, synchronous commit)")
    sink = Sink()
    url = asyncio.run(sink.start())
    try:
        empty = run(EMPTY_CONVERSATIONS, EMPTY_CONVERSATIONS * 10, sink, url, cluster)
        grown = run(args.conversations, args.messages, sink, url, cluster)
    finally:
        sink.stop()
        if cluster is not None:
            cluster.stop()
    misses = 0
    print(f"{'':36} {'empty':>10} {'grown':>10}  ratio (ceiling {CEILING}x)")
    for label in empty:
        rate = label in ("ingest", "dispatch")
        ratio = empty[label] / grown[label] if rate else grown[label] / empty[label]
        unit = "/s" if rate else " ms"
        name = {"ingest": "ingest: bot replies, 32 callers", "dispatch": "dispatch: signed, logged deliveries"}.get(label, label)
        verdict = "ok" if ratio <= CEILING else "MISSES"
        misses += ratio > CEILING
        fmt = "{:10.0f}" if rate else "{:10.2f}"
        print(f"{name:36} {fmt.format(empty[label])}{unit:3} {fmt.format(grown[label])}{unit:3} {ratio:5.2f}x {verdict}")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
