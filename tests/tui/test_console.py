"""The console driven with Textual's Pilot on a real database; the database is checked after each action."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Input, Static, TextArea

from ndoto_cli.core.settings import Settings
from ndoto_cli.tui.app import InboxApp
from ndoto_cli.tui.modals import Confirm, Picker, TokenShown
from tests.conftest import World


def row(home: Path, sql: str, *params: Any) -> Any:
    with sqlite3.connect(home / "ndoto.db") as conn:
        return conn.execute(sql, params).fetchone()


async def open_conversation(pilot: Any, app: InboxApp, display_id: int) -> None:
    table = app.query_one("#conversations", DataTable)
    table.focus()
    table.move_cursor(row=table.get_row_index(str(display_id)))
    await pilot.press("enter")
    await pilot.pause()
    assert app.current == display_id


async def test_reply_note_takeover_handback_resolve_reopen_assign(seeded: World, ndoto_home: Path) -> None:
    app = InboxApp(Settings(home=ndoto_home), as_email="ann@acme.test", poll_interval=0.2)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        assert app.query_one("#conversations", DataTable).row_count == 2
        await open_conversation(pilot, app, 1)
        # A private note does not take over.
        await pilot.press("ctrl+n", "i")
        await pilot.press(*"checking")
        await pilot.press("enter")
        await pilot.pause()
        assert row(ndoto_home, "select private, content from messages order by id desc limit 1") == (1, "checking")
        assert row(ndoto_home, "select status, assignee_id from conversations where display_id = 1") == ("pending", None)
        # Take over: assigned to Ann, open.
        await pilot.press("escape", "t")
        await pilot.pause()
        assert row(ndoto_home, "select status, assignee_id from conversations where display_id = 1") == ("open", seeded.agent_id)
        # A public reply, sent as Ann.
        await pilot.press("ctrl+n", "i", *"On its way", "enter")
        await pilot.pause()
        assert row(ndoto_home, "select private, content, sender_type, sender_id from messages order by id desc limit 1") == (
            0, "On its way", "user", seeded.agent_id)
        # Hand back to the bot.
        await pilot.press("escape", "b")
        await pilot.pause()
        assert row(ndoto_home, "select status, assignee_id from conversations where display_id = 1") == ("pending", None)
        # Resolve and reopen.
        await pilot.press("r")
        await pilot.pause()
        assert row(ndoto_home, "select status from conversations where display_id = 1") == ("resolved",)
        await pilot.press("o")
        await pilot.pause()
        assert row(ndoto_home, "select status from conversations where display_id = 1") == ("open",)
        # Assign to another agent through the picker.
        await pilot.press("a")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, Picker)
        admin_index = [value for _label, value in picker.options].index(f"user:{seeded.admin_id}")
        for _ in range(admin_index):
            await pilot.press("down")
        await pilot.press("enter")
        await pilot.pause()
        assert row(ndoto_home, "select assignee_id from conversations where display_id = 1") == (seeded.admin_id,)


async def test_an_action_the_core_refuses_is_a_notification(seeded: World, ndoto_home: Path) -> None:
    app = InboxApp(Settings(home=ndoto_home), poll_interval=0.2)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await open_conversation(pilot, app, 2)
        await pilot.press("b")  # hand back a conversation that no human holds: fine, nothing to do
        await pilot.press("r", "r")  # resolving twice is a no-op, not a crash
        await pilot.pause()
        await pilot.press("i", "enter")  # empty message: ignored
        await pilot.pause()
        assert app.is_running


async def test_token_reset_from_the_bots_screen(seeded: World, ndoto_home: Path) -> None:
    before = row(ndoto_home, "select token_hash from access_tokens where owner_type = 'agent_bot'")
    app = InboxApp(Settings(home=ndoto_home), poll_interval=0.2)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await pilot.press("B")
        await pilot.pause()
        await pilot.press("k")  # one key never destroys: it asks first
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        await pilot.press("n")
        await pilot.pause()
        assert row(ndoto_home, "select token_hash from access_tokens where owner_type = 'agent_bot'") == before
        await pilot.press("k")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, TokenShown) and modal.token.startswith("ndb_")
        await pilot.press(*"typed over")  # the one-time token cannot be typed over
        await pilot.pause()
        assert modal.query_one(TextArea).text == modal.token
    after = row(ndoto_home, "select token_hash from access_tokens where owner_type = 'agent_bot'")
    assert after != before
    import hashlib

    assert after[0] == hashlib.sha256(modal.token.encode()).hexdigest()


async def test_changes_from_outside_appear_without_losing_the_composer(seeded: World, ndoto_home: Path) -> None:
    app = InboxApp(Settings(home=ndoto_home), poll_interval=0.2)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await open_conversation(pilot, app, 1)
        await pilot.press("i", *"half-typed")
        # Another process (here: another connection) writes: a customer message.
        from ndoto_cli.core.db import Database

        other = await Database(Settings(home=ndoto_home)).open()
        await other.write(lambda s: _say(s, seeded.web_inbox_id, "Jane Doe", "Any news?"))
        await other.close()
        for _ in range(30):
            await asyncio.sleep(0.1)
            await pilot.pause()
            texts = [str(w.content) for w in app.query("#thread Static")]
            if any("Any news?" in t for t in texts):
                break
        else:
            raise AssertionError("the new message never appeared")
        assert app.query_one("#composer", Input).value == "half-typed"
        assert app.current == 1
        table = app.query_one("#conversations", DataTable)
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == "1"


async def _say(s: Any, inbox_id: int, name: str, text: str) -> Any:
    from ndoto_cli.core.models import Inbox
    from ndoto_cli.core.services import customers

    return await customers.say(s, inbox=await s.get(Inbox, inbox_id), contact_name=name, content=text)


async def test_empty_states_teach(ndoto_home: Path) -> None:
    from ndoto_cli.core.db import Database
    from ndoto_cli.core.services import accounts

    db = await Database(Settings(home=ndoto_home)).open()
    await db.write(lambda s: accounts.bootstrap(s))
    await db.close()
    app = InboxApp(Settings(home=ndoto_home), poll_interval=0.2)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        assert "ndoto inboxes create" in str(app.query_one("#conv-empty", Static).content)
        await pilot.press("B")
        await pilot.pause()
        assert "ndoto bots create" in str(app.screen.query_one("#bots-empty", Static).content)


async def test_unknown_agent_exits_with_a_clear_message(seeded: World, ndoto_home: Path) -> None:
    app = InboxApp(Settings(home=ndoto_home), as_email="nobody@acme.test")
    async with app.run_test() as pilot:
        await pilot.pause()
    assert app.return_code == 1
