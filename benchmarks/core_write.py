"""Messages/s through the core's message-create service, beside raw sqlite3, in the same run.

Each message write = message row + conversation update + event row (payload rendered) + one
delivery row, committed. Run: ``.venv/bin/python benchmarks/core_write.py [--messages N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any


async def _world(home: Path) -> tuple[Any, int, list[int]]:
    from ndoto_cli.core.db import Database
    from ndoto_cli.core.models import Inbox
    from ndoto_cli.core.services import accounts, bots, customers, inboxes
    from ndoto_cli.core.settings import Settings

    # The flood guard (200 a minute per conversation) would refuse a benchmark's burst: lifted here.
    db = await Database(Settings(home=home, conversation_messages_per_minute=100_000)).open()
    boot = await db.write(lambda s: accounts.bootstrap(s))
    acc = boot.account.id
    inbox = await db.write(lambda s: inboxes.create_inbox(s, account_id=acc, name="Web", channel="web_widget"))
    bot, _ = await db.write(lambda s: bots.create_bot(s, account_id=acc, name="B", outgoing_url="https://127.0.0.1:9/h"))
    await db.write(lambda s: inboxes.set_inbox_bot(s, account_id=acc, inbox_id=inbox.id, bot_id=bot.id))
    display_ids = []
    for i in range(32):
        async def go(s: Any, i: int = i) -> Any:
            return await customers.say(s, inbox=await s.get(Inbox, inbox.id), contact_name=f"c{i}", content="hi")
        display_ids.append((await db.write(go)).bundle.conversation.display_id)
    return db, acc, display_ids


async def core_rate(n: int, concurrency: int) -> float:
    from ndoto_cli.core.actors import Actor
    from ndoto_cli.core.services import messages

    with tempfile.TemporaryDirectory() as tmp:
        db, acc, display_ids = await _world(Path(tmp))
        bot = Actor("agent_bot", 1, "B")
        per_worker = n // concurrency

        async def worker(w: int) -> None:
            display_id = display_ids[w % len(display_ids)]
            for i in range(per_worker):
                await db.write(
                    lambda s, i=i: messages.create_message(
                        s, account_id=acc, display_id=display_id, actor=bot, content=f"reply {i}"
                    )
                )

        start = time.perf_counter()
        await asyncio.gather(*[worker(w) for w in range(concurrency)])
        elapsed = time.perf_counter() - start
        await db.close()
        return per_worker * concurrency / elapsed


def raw_sqlite_rate(n: int, batch: int) -> float:
    """The ceiling: the same three rows per message with the stdlib driver, no ORM, no async."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(
            "create table m(id integer primary key, conversation_id int, content text, created_at real);"
            "create table e(id integer primary key, name text, payload text, created_at real);"
            "create table d(id integer primary key, event_id int, bot_id int, status text, next_attempt_at real);"
            "create table c(id integer primary key, last_activity_at real);"
            "insert into c values (1, 0);"
        )
        payload = json.dumps({"event": "message_created", "content": "x" * 200, "conversation": {"id": 1}})
        start = time.perf_counter()
        done = 0
        while done < n:
            conn.execute("BEGIN IMMEDIATE")
            for _ in range(batch):
                now = time.time()
                conn.execute("insert into m(conversation_id, content, created_at) values (1, 'reply', ?)", (now,))
                conn.execute("update c set last_activity_at=? where id=1", (now,))
                cur = conn.execute("insert into e(name, payload, created_at) values ('message_created', ?, ?)", (payload, now))
                conn.execute("insert into d(event_id, bot_id, status, next_attempt_at) values (?, 1, 'pending', ?)", (cur.lastrowid, now))
            conn.execute("COMMIT")
            done += batch
        elapsed = time.perf_counter() - start
        conn.close()
        return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    n = args.messages
    print(f"core message-create, 1 caller:      {asyncio.run(core_rate(n // 2, 1)):8.0f} messages/s")
    print(f"core message-create, 32 callers:    {asyncio.run(core_rate(n, 32)):8.0f} messages/s")
    print(f"raw sqlite3, 1 message per commit:  {raw_sqlite_rate(n, 1):8.0f} messages/s")
    print(f"raw sqlite3, 100 messages per commit:{raw_sqlite_rate(n * 5, 100):8.0f} messages/s")


if __name__ == "__main__":
    main()
