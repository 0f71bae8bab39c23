"""The benchmarks' seeding: an account, a web inbox with a webhook bot, and conversations with
their messages, events and delivered deliveries, written with bulk inserts shaped like what the
core writes (seconds for a million messages, where the core would take minutes): ``executemany``
on a SQLite file, ``COPY`` on PostgreSQL. Used by ``growth.py`` and ``tui.py``."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# (table, columns) in the order the rows below give them.
TABLES: dict[str, tuple[str, ...]] = {
    "contacts": ("id", "account_id", "name", "additional_attributes", "custom_attributes", "created_at"),
    "contact_inboxes": ("id", "contact_id", "inbox_id", "source_id", "created_at"),
    "conversations": ("id", "account_id", "display_id", "uuid", "inbox_id", "contact_id", "contact_inbox_id", "status",
                      "assignee_id", "snoozed_until", "additional_attributes", "custom_attributes", "created_at", "updated_at",
                      "last_activity_at"),
    "messages": ("id", "account_id", "inbox_id", "conversation_id", "message_type", "content", "content_type",
                 "content_attributes", "additional_attributes", "private", "status", "sender_type", "sender_id",
                 "created_at", "updated_at"),
    "events": ("id", "account_id", "conversation_id", "name", "payload", "created_at"),
    "deliveries": ("id", "event_id", "agent_bot_id", "account_id", "conversation_id", "webhook_id", "status", "attempts",
                   "next_attempt_at", "handed_off", "created_at", "updated_at", "delivered_at"),
}
STATUSES = ["pending", "open", "resolved", "pending", "resolved", "snoozed", "resolved", "resolved"]
BATCH = 10_000  # conversations per batch of messages


async def _world(home: Path, url: str, database_url: str | None) -> None:
    from ndoto_cli.core.db import Database
    from ndoto_cli.core.services import accounts, bots, inboxes
    from ndoto_cli.core.settings import Settings

    db = await Database(Settings(home=home, database_url=database_url)).open()
    boot = await db.write(lambda s: accounts.bootstrap(s))
    inbox = await db.write(lambda s: inboxes.create_inbox(s, account_id=boot.account.id, name="Web", channel="web_widget"))
    bot, _ = await db.write(lambda s: bots.create_bot(s, account_id=1, name="Bot", outgoing_url=url))
    await db.write(lambda s: inboxes.set_inbox_bot(s, account_id=1, inbox_id=inbox.id, bot_id=bot.id))
    await db.close()


def _batches(conversations: int, messages: int) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    """The rows, table by table, a batch at a time (the people and conversations first)."""
    now = time.time() - 30 * 86400
    per = max(1, messages // conversations)
    ids = range(1, conversations + 1)
    yield {
        "contacts": [(i, 1, f"Customer {i}", "{}", "{}", now) for i in ids],
        "contact_inboxes": [(i, i, 1, f"src-{i}", now) for i in ids],
        "conversations": [
            (i, 1, i, f"u-{i}", 1, i, i, STATUSES[i % 8], 1 if STATUSES[i % 8] in ("open", "resolved") and i % 3 else None,
             now + 86400 * 60 if STATUSES[i % 8] == "snoozed" else None, "{}", "{}", now, now + i, now + i)
            for i in ids
        ],
    }
    message_id = 0
    for start in range(1, conversations + 1, BATCH):
        rows: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        deliveries: list[tuple[Any, ...]] = []
        for c in range(start, min(start + BATCH, conversations + 1)):
            for k in range(per):
                message_id += 1
                at = now + c + k / per
                incoming = k % 2 == 0
                rows.append((message_id, 1, 1, c, 0 if incoming else 1, f"message {k} in conversation {c}: " + "lorem ipsum " * 4,
                             "text", "{}", "{}", False, "sent", "contact" if incoming else "agent_bot", c if incoming else 1, at, at))
                events.append((message_id, 1, c, "message_created", '{"event":"message_created"}', at))
                deliveries.append((message_id, message_id, 1, 1, c, f"msg_seed{message_id}", "delivered", 1, at, False, at, at, at))
        yield {"messages": rows, "events": events, "deliveries": deliveries}


def seed(home: Path, conversations: int, messages: int, *, url: str = "https://127.0.0.1:9/h") -> None:
    """An account, a web inbox with a webhook bot, and ``conversations`` conversations holding
    ``messages`` messages between them, each message with its event and a delivered delivery,
    in ``home``'s SQLite file."""
    asyncio.run(_world(home, url, None))
    with sqlite3.connect(home / "ndoto.db") as conn:
        for batch in _batches(conversations, messages):
            for table, rows in batch.items():
                columns = TABLES[table]
                conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)


def seed_postgresql(home: Path, database_url: str, conversations: int, messages: int, *, url: str = "https://127.0.0.1:9/h") -> None:
    """The same on PostgreSQL (``COPY``), then the id sequences moved past the rows and the
    tables analyzed, as a database that grew by use would be."""
    asyncio.run(_world(home, url, database_url))
    asyncio.run(_copy(database_url, conversations, messages))


async def _copy(database_url: str, conversations: int, messages: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for batch in _batches(conversations, messages):
            for table, rows in batch.items():
                await conn.copy_records_to_table(table, records=rows, columns=list(TABLES[table]))
        for table in TABLES:
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            await conn.execute(f"ANALYZE {table}")
    finally:
        await conn.close()


def size_mb(home: Path, database_url: str | None) -> float:
    """The database's size on disk, in MB."""
    if not database_url:
        return (home / "ndoto.db").stat().st_size / 1e6

    async def ask() -> float:
        import asyncpg

        conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return float(await conn.fetchval("SELECT pg_database_size(current_database())")) / 1e6
        finally:
            await conn.close()

    return asyncio.run(ask())
