"""The benchmarks' seeding: an account, a web inbox with a webhook bot, and conversations with
their messages, events and delivered deliveries, written with raw inserts shaped like what the
core writes (seconds for a million messages, where the core would take minutes). Used by
``growth.py`` and ``tui.py``."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path


async def _world(home: Path, url: str) -> None:
    from ndoto_cli.core.db import Database
    from ndoto_cli.core.services import accounts, bots, inboxes
    from ndoto_cli.core.settings import Settings

    db = await Database(Settings(home=home)).open()
    boot = await db.write(lambda s: accounts.bootstrap(s))
    inbox = await db.write(lambda s: inboxes.create_inbox(s, account_id=boot.account.id, name="Web", channel="web_widget"))
    bot, _ = await db.write(lambda s: bots.create_bot(s, account_id=1, name="Bot", outgoing_url=url))
    await db.write(lambda s: inboxes.set_inbox_bot(s, account_id=1, inbox_id=inbox.id, bot_id=bot.id))
    await db.close()


def seed(home: Path, conversations: int, messages: int, *, url: str = "https://127.0.0.1:9/h") -> None:
    """An account, a web inbox with a webhook bot, and ``conversations`` conversations holding
    ``messages`` messages between them, each message with its event and a delivered delivery."""
    asyncio.run(_world(home, url))
    now = time.time() - 30 * 86400
    statuses = ["pending", "open", "resolved", "pending", "resolved", "snoozed", "resolved", "resolved"]
    per = max(1, messages // conversations)
    with sqlite3.connect(home / "ndoto.db") as conn:
        conn.executemany(
            "INSERT INTO contacts (id, account_id, name, additional_attributes, custom_attributes, created_at) VALUES (?, 1, ?, '{}', '{}', ?)",
            [(i, f"Customer {i}", now) for i in range(1, conversations + 1)],
        )
        conn.executemany(
            "INSERT INTO contact_inboxes (id, contact_id, inbox_id, source_id, created_at) VALUES (?, ?, 1, ?, ?)",
            [(i, i, f"src-{i}", now) for i in range(1, conversations + 1)],
        )
        conn.executemany(
            "INSERT INTO conversations (id, account_id, display_id, uuid, inbox_id, contact_id, contact_inbox_id, status, "
            "assignee_id, snoozed_until, additional_attributes, custom_attributes, created_at, updated_at, last_activity_at) "
            "VALUES (?, 1, ?, ?, 1, ?, ?, ?, ?, ?, '{}', '{}', ?, ?, ?)",
            [(i, i, f"u-{i}", i, i, statuses[i % 8], 1 if statuses[i % 8] in ("open", "resolved") and i % 3 else None,
              now + 86400 * 60 if statuses[i % 8] == "snoozed" else None, now, now + i, now + i)
             for i in range(1, conversations + 1)],
        )
        message_id = 0
        for start in range(1, conversations + 1, 10_000):
            batch = range(start, min(start + 10_000, conversations + 1))
            rows, events, deliveries = [], [], []
            for c in batch:
                for k in range(per):
                    message_id += 1
                    at = now + c + k / per
                    incoming = k % 2 == 0
                    rows.append((message_id, c, 0 if incoming else 1, f"message {k} in conversation {c}: " + "lorem ipsum " * 4,
                                 "contact" if incoming else "agent_bot", c if incoming else 1, at, at))
                    events.append((message_id, c, '{"event":"message_created"}', at))
                    deliveries.append((message_id, message_id, c, f"msg_seed{message_id}", at, at, at, at))
            conn.executemany(
                "INSERT INTO messages (id, account_id, inbox_id, conversation_id, message_type, content, content_type, content_attributes, "
                "additional_attributes, private, status, sender_type, sender_id, created_at, updated_at) "
                "VALUES (?, 1, 1, ?, ?, ?, 'text', '{}', '{}', 0, 'sent', ?, ?, ?, ?)", rows)
            conn.executemany("INSERT INTO events (id, account_id, conversation_id, name, payload, created_at) "
                             "VALUES (?, 1, ?, 'message_created', ?, ?)", events)
            conn.executemany(
                "INSERT INTO deliveries (id, event_id, agent_bot_id, account_id, conversation_id, webhook_id, status, attempts, "
                "next_attempt_at, handed_off, created_at, updated_at, delivered_at) "
                "VALUES (?, ?, 1, 1, ?, ?, 'delivered', 1, ?, 0, ?, ?, ?)", deliveries)
