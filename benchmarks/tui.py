"""The console on real volumes: 10,000 conversations and 200,000 messages.

Prints the time from starting the app to the first screen with rows (headless, Textual's test
driver), and the time of a tab switch and of opening a thread. Seeding uses raw inserts (fast)
shaped like what the core writes. Run: ``.venv/bin/python benchmarks/tui.py``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CONVERSATIONS = 10_000
MESSAGES = 200_000


def seed(home: Path) -> None:
    from ndoto_cli.core.db import Database
    from ndoto_cli.core.services import accounts, bots, inboxes
    from ndoto_cli.core.settings import Settings

    async def base() -> None:
        db = await Database(Settings(home=home)).open()
        boot = await db.write(lambda s: accounts.bootstrap(s))
        inbox = await db.write(lambda s: inboxes.create_inbox(s, account_id=boot.account.id, name="Web", channel="web_widget"))
        bot, _ = await db.write(lambda s: bots.create_bot(s, account_id=1, name="Bot", outgoing_url="https://127.0.0.1:9/h"))
        await db.write(lambda s: inboxes.set_inbox_bot(s, account_id=1, inbox_id=inbox.id, bot_id=bot.id))
        await db.close()

    asyncio.run(base())
    now = time.time() - 86400
    statuses = ["pending", "open", "resolved", "pending", "resolved"]
    with sqlite3.connect(home / "ndoto.db") as conn:
        conn.executemany(
            "INSERT INTO contacts (id, account_id, name, additional_attributes, custom_attributes, created_at) VALUES (?, 1, ?, '{}', '{}', ?)",
            [(i, f"Customer {i}", now) for i in range(1, CONVERSATIONS + 1)],
        )
        conn.executemany(
            "INSERT INTO contact_inboxes (id, contact_id, inbox_id, source_id, created_at) VALUES (?, ?, 1, ?, ?)",
            [(i, i, f"src-{i}", now) for i in range(1, CONVERSATIONS + 1)],
        )
        conn.executemany(
            "INSERT INTO conversations (id, account_id, display_id, uuid, inbox_id, contact_id, contact_inbox_id, status, "
            "additional_attributes, custom_attributes, created_at, updated_at, last_activity_at) "
            "VALUES (?, 1, ?, ?, 1, ?, ?, ?, '{}', '{}', ?, ?, ?)",
            [(i, i, f"u-{i}", i, i, statuses[i % 5], now, now + i, now + i) for i in range(1, CONVERSATIONS + 1)],
        )
        per = MESSAGES // CONVERSATIONS
        conn.executemany(
            "INSERT INTO messages (account_id, inbox_id, conversation_id, message_type, content, content_type, content_attributes, "
            "additional_attributes, private, status, sender_type, sender_id, created_at, updated_at) "
            "VALUES (1, 1, ?, ?, ?, 'text', '{}', '{}', 0, 'sent', ?, ?, ?, ?)",
            [
                (c, k % 2, f"message {k} in conversation {c}: " + "lorem ipsum " * 4, "contact" if k % 2 == 0 else "agent_bot",
                 c if k % 2 == 0 else 1, now + c + k, now + c + k)
                for c in range(1, CONVERSATIONS + 1) for k in range(per)
            ],
        )
        conn.execute("INSERT INTO events (account_id, name, payload, created_at) VALUES (1, 'seed', ?, ?)", (json.dumps({}), now))


async def measure(home: Path) -> None:
    from textual.widgets import DataTable

    from ndoto_cli.core.settings import Settings
    from ndoto_cli.tui.app import InboxApp

    app = InboxApp(Settings(home=home), poll_interval=3600)
    start = time.perf_counter()
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.query_one("#conversations", DataTable)
        while table.row_count == 0:
            await pilot.pause(0.01)
        first = time.perf_counter() - start
        t0 = time.perf_counter()
        await app.action_tab("resolved")
        await pilot.pause()
        await app.refresh_conversations()
        switch = time.perf_counter() - t0
        t0 = time.perf_counter()
        await app.show_thread(int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))
        thread = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(50):
            await pilot.press("down")
        scroll = (time.perf_counter() - t0) / 50
    print(f"first screen with rows ({CONVERSATIONS:,} conversations, {MESSAGES:,} messages): {first * 1000:.0f} ms")
    print(f"tab switch: {switch * 1000:.0f} ms; open a thread: {thread * 1000:.0f} ms; one row down: {scroll * 1000:.1f} ms")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        t0 = time.perf_counter()
        seed(home)
        print(f"seeded in {time.perf_counter() - t0:.1f} s")
        asyncio.run(measure(home))


if __name__ == "__main__":
    main()
