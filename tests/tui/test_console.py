"""The console driven with Textual's Pilot on a real database; the database is checked after each action."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, DataTable, Input, Static, TextArea

from ndoto_cli.core.settings import Settings
from ndoto_cli.tui.app import InboxApp
from ndoto_cli.tui.modals import Confirm, Picker, TokenShown
from tests.conftest import World
from tests.sql import one, run_sql


def row(home: Path, sql: str) -> Any:
    return one(home, sql)


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


async def test_a_bots_outcomes_in_its_view(seeded: World, ndoto_home: Path) -> None:
    """The admin takes over the conversation OrderBot answered; the bot's view (B, then o) counts
    it as handed off, with the reason, over 7 days and all time, and per day."""
    app = InboxApp(Settings(home=ndoto_home), poll_interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await open_conversation(pilot, app, 1)
        await pilot.press("escape", "t")
        await pilot.pause()
        assert row(ndoto_home, "select outcome, reason from bot_stints") == ("handoff", "human_took_over")
        await pilot.press("escape", "B")
        await pilot.pause()
        await pilot.press("o")
        await pilot.pause()

        def figures() -> dict[str, str]:
            table = app.screen.query_one("#stats", DataTable)
            return {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}

        shown = figures()
        assert shown["conversations handled"] == "1" and shown["handed off"] == "1 (100%)"
        assert shown["  human_took_over"] == "1" and shown["resolved without a human"] == "0 (0%)"
        assert shown["rating, bot-resolved"] == "not asked"
        assert "OrderBot: the last 7 days" in str(app.screen.query_one("#stats-period", Static).render())
        await pilot.press("3")
        await pilot.pause()
        assert "all time" in str(app.screen.query_one("#stats-period", Static).render()) and figures()["handed off"] == "1 (100%)"
        assert app.screen.query_one("#stats-days", DataTable).row_count == 1
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.query_one("#bots", DataTable).row_count >= 1


async def test_drafted_faq_entries_are_reviewed_in_the_console(seeded: World, ndoto_home: Path) -> None:
    """B, then g on an AI agent: its drafts; e edits one (its personal data gone), a accepts it
    into the knowledge base; a flagged one asks before it is accepted; x rejects."""
    from ndoto_cli.core.ai import suggestions
    from ndoto_cli.core.db import Database
    from ndoto_cli.core.services import bots

    async def drafts() -> None:
        db = await Database(Settings(home=ndoto_home)).open()
        try:
            helper, _ = await db.write(lambda s: bots.create_bot(s, account_id=seeded.account_id, name="Helper", bot_type="ai"))
            for conv_id, question, answer in ((1, "Do you sell gift cards?", "Write to jane@acme.test for one."),
                                              (2, "Do you ship to Malawi?", "Yes, in 5 days.")):
                candidate = suggestions.Candidate(conv_id, conv_id, seeded.account_id, None, [])
                await db.write(lambda s, c=candidate, q=question, a=answer: suggestions.record(
                    s, bot_id=helper.id, candidate=c, draft=suggestions.Draft(q, a), model="test"))
        finally:
            await db.close()

    await drafts()
    app = InboxApp(Settings(home=ndoto_home), poll_interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("B")
        await pilot.pause()
        bots_table = app.screen.query_one("#bots", DataTable)
        bots_table.move_cursor(row=bots_table.get_row_index(str(row(ndoto_home, "select id from agent_bots where name = 'Helper'")[0])))
        await pilot.press("g")
        await pilot.pause()
        table = app.screen.query_one("#suggestions", DataTable)
        assert table.row_count == 2 and "email: jane@acme.test" in str(table.get_row_at(0)[4])
        await pilot.press("a")  # flagged: it asks first
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        await pilot.press("n")
        await pilot.pause()
        assert row(ndoto_home, "select status from kb_suggestions where conversation_id = 1") == ("pending",)
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#answer", TextArea).text = "Yes: ask in any of our shops."
        await pilot.click("#save")
        await pilot.pause()
        answer, flags = row(ndoto_home, "select answer, personal_data from kb_suggestions where conversation_id = 1")
        assert answer == "Yes: ask in any of our shops." and flags in ("[]", [])
        await pilot.press("a")
        await pilot.pause()
        assert row(ndoto_home, "select status from kb_suggestions where conversation_id = 1") == ("accepted",)
        assert row(ndoto_home, "select title from kb_documents where source = 'faq: Do you sell gift cards?'") == ("Do you sell gift cards?",)
        assert table.row_count == 1
        await pilot.press("x")
        await pilot.pause()
        assert row(ndoto_home, "select status from kb_suggestions where conversation_id = 2") == ("rejected",)
        assert "No drafted FAQ entries" in str(app.screen.query_one("#suggestions-empty", Static).render())


async def test_changes_from_outside_appear_without_losing_the_composer(seeded: World, ndoto_home: Path) -> None:
    app = InboxApp(Settings(home=ndoto_home), poll_interval=0.2)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await open_conversation(pilot, app, 1)
        await pilot.press("i", *"half-typed")
        # Another process (here: another connection) writes: a customer message.
        await say_elsewhere_and_see(pilot, app, seeded, ndoto_home, "Any news?")
        assert app.query_one("#composer", Input).value == "half-typed"
        assert app.current == 1
        table = app.query_one("#conversations", DataTable)
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == "1"


async def say_elsewhere_and_see(pilot: Any, app: InboxApp, seeded: World, home: Path, text: str) -> None:
    """Another process (here: another connection) writes a customer message; wait (10 s at most:
    a loaded machine, the PostgreSQL pass) for the open thread to show it."""
    from ndoto_cli.core.db import Database

    other = await Database(Settings(home=home)).open()
    await other.write(lambda s: _say(s, seeded.web_inbox_id, "Jane Doe", text))
    await other.close()
    for _ in range(100):
        await asyncio.sleep(0.1)
        await pilot.pause()
        if any(text in str(w.content) for w in app.query("#thread Static")):
            return
    raise AssertionError(f"the other process's message {text!r} never appeared")


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
    assert app.error is not None and "nobody@acme.test" in app.error


async def settle(pilot: Any, app: InboxApp) -> None:
    """Let the workers that read and write finish, then the screen catch up."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_search_by_message_text_and_filters(seeded: World, ndoto_home: Path) -> None:
    from ndoto_cli.tui.modals import SearchDialog

    app = InboxApp(Settings(home=ndoto_home), poll_interval=3600)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.screen, SearchDialog)
        await pilot.press(*"malawi", "enter")  # words of a message, any case
        await settle(pilot, app)
        table = app.query_one("#conversations", DataTable)
        assert table.row_count == 1 and table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == "2"
        assert "malawi" in str(app.query_one("#filters", Static).content)
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"jane", "enter")  # a contact's name
        await settle(pilot, app)
        assert table.row_count == 1 and table.get_row_at(0)[1] == "Jane Doe"
        await pilot.press("slash")
        await pilot.pause()
        await pilot.click("#clear")
        await settle(pilot, app)
        assert table.row_count == 2


async def test_a_narrow_window_shows_the_list_or_the_thread(seeded: World, ndoto_home: Path) -> None:
    app = InboxApp(Settings(home=ndoto_home), poll_interval=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        assert app.focused is app.query_one("#conversations")  # the hint "Enter on a row" works at once
        assert app.query_one("#middle").display and not app.query_one("#right").display
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.current is not None and app.query_one("#right").display and not app.query_one("#middle").display
        await pilot.press("escape")
        await pilot.pause()
        assert app.query_one("#middle").display and not app.query_one("#right").display


async def test_wide_windows_show_every_column(seeded: World, ndoto_home: Path) -> None:
    app = InboxApp(Settings(home=ndoto_home), poll_interval=3600)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot, app)
        table = app.query_one("#conversations", DataTable)
        assert [str(c.label) for c in table.columns.values()] == ["#", "contact", "last message", "time", "status", "owner", "inbox"]
        assert app.query_one("#inboxes").display


async def test_bots_screen_creates_changes_shows_the_secret_and_deletes(seeded: World, ndoto_home: Path) -> None:
    from ndoto_cli.tui.modals import BotForm

    app = InboxApp(Settings(home=ndoto_home), poll_interval=3600)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot, app)
        await pilot.press("B", "c")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, BotForm)
        form.query_one("#name", Input).value = "Helper"
        form.query_one("#url", Input).value = "not a url"
        app.screen.query_one("#save", Button).press()
        await pilot.pause()
        assert isinstance(app.screen, BotForm) and "malformed URL" in str(form.query_one("#form-error", Static).content)
        form.query_one("#url", Input).value = "https://127.0.0.1:9/helper"
        app.screen.query_one("#save", Button).press()
        await settle(pilot, app)
        assert isinstance(app.screen, TokenShown), str(form.query_one("#form-error", Static).content)
        assert app.screen.token.startswith("ndb_")
        await pilot.press("escape")
        await settle(pilot, app)
        assert row(ndoto_home, "select outgoing_url from agent_bots where name = 'Helper'") == ("https://127.0.0.1:9/helper",)
        # An AI agent's settings of the product document, through the form.
        run_sql(ndoto_home, "update agent_bots set bot_type = 'ai_agent', outgoing_url = null where name = 'Helper'")
        await app.screen.reload()  # type: ignore[attr-defined]
        table = app.screen.query_one("#bots", DataTable)
        table.move_cursor(row=[r[1] for r in (table.get_row_at(i) for i in range(table.row_count))].index("Helper"))
        await pilot.press("e")
        await pilot.pause()
        form = app.screen
        form.query_one("#temperature", Input).value = "0.7"
        form.query_one("#max_exchanges", Input).value = "4"
        form.query_one("#handoff_keywords", Input).value = "human please, speak to agent"
        app.screen.query_one("#save", Button).press()
        await settle(pilot, app)
        assert row(ndoto_home, "select temperature, max_exchanges, CAST(handoff_keywords AS TEXT) from agent_bots where name = 'Helper'") == (
            0.7, 4, '["human please", "speak to agent"]')
        # The signing secret, read-only.
        await pilot.press("s")
        await settle(pilot, app)
        assert isinstance(app.screen, TokenShown)
        assert app.screen.token == row(ndoto_home, "select secret from agent_bots where name = 'Helper'")[0]
        await pilot.press("escape")
        await pilot.pause()
        # Delete asks; No keeps it, Yes removes it.
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        await pilot.press("n")
        await pilot.pause()
        assert row(ndoto_home, "select count(*) from agent_bots where name = 'Helper'") == (1,)
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot, app)
        assert row(ndoto_home, "select count(*) from agent_bots where name = 'Helper'") == (0,)


async def test_deliveries_screen_is_live_and_filters_by_status(seeded: World, ndoto_home: Path) -> None:
    app = InboxApp(Settings(home=ndoto_home), poll_interval=3600)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("D")
        await settle(pilot, app)
        table = app.screen.query_one("#deliveries", DataTable)
        assert table.row_count == 3  # every recent delivery, not only failures
        app.screen.poll_interval = 0.1  # type: ignore[attr-defined]
        from ndoto_cli.core.db import Database

        other = await Database(Settings(home=ndoto_home)).open()
        await other.write(lambda s: _say(s, seeded.web_inbox_id, "Jane Doe", "Still there?"))
        await other.close()
        for _ in range(40):
            await asyncio.sleep(0.1)
            await settle(pilot, app)
            if table.row_count == 4:
                break
        assert table.row_count == 4
        await pilot.press("5")  # failed only
        await settle(pilot, app)
        assert table.row_count == 0 and "No failed deliveries" in str(app.screen.query_one("#deliveries-empty", Static).content)


async def test_the_palette_lists_the_consoles_actions_first(seeded: World, ndoto_home: Path) -> None:
    from ndoto_cli.tui.app import Actions

    app = InboxApp(Settings(home=ndoto_home), poll_interval=3600)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        provider = Actions(app.screen)
        labels = [str(hit.display) async for hit in provider.discover()]
        assert labels[0] == "Search conversations" and "Take over from the bot" in labels


async def test_typing_shows_both_ways(seeded: World, ndoto_home: Path) -> None:
    """The customer's typing (from the widget, in another process) shows under the thread; the
    human's typing of a reply becomes an event the customer's widget shows (a note's never does)."""
    from ndoto_cli.core.actors import Actor
    from ndoto_cli.core.db import Database
    from ndoto_cli.core.models import Contact
    from ndoto_cli.core.services import conversations

    app = InboxApp(Settings(home=ndoto_home), poll_interval=0.2)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await open_conversation(pilot, app, 1)
        other = await Database(Settings(home=ndoto_home)).open()

        async def customer_types(s: Any, on: bool) -> None:
            bundle = await conversations.load(s, account_id=seeded.account_id, display_id=1)
            contact = await s.get(Contact, bundle.contact.id)
            await conversations.emit_typing(s, conversation=bundle.conversation, actor=Actor.of_contact(contact), on=on)

        await other.write(lambda s: customer_types(s, True))
        line = app.query_one("#typing", Static)
        for _ in range(50):
            await asyncio.sleep(0.1)
            if line.display and "Jane Doe is typing" in str(line.content):
                break
        else:
            raise AssertionError("the customer's typing never showed")
        await other.write(lambda s: customer_types(s, False))
        for _ in range(50):
            await asyncio.sleep(0.1)
            if not line.display:
                break
        else:
            raise AssertionError("the customer's typing never stopped showing")

        async def bot_types(s: Any, on: bool) -> None:  # an AI agent preparing an answer
            from ndoto_cli.core.models import AgentBot

            bundle = await conversations.load(s, account_id=seeded.account_id, display_id=1)
            await conversations.emit_typing(s, conversation=bundle.conversation, actor=Actor.of_bot(await s.get(AgentBot, seeded.bot_id)), on=on)

        await other.write(lambda s: bot_types(s, True))
        for _ in range(50):
            await asyncio.sleep(0.1)
            if line.display and "is typing" in str(line.content) and "Jane" not in str(line.content):
                break
        else:
            raise AssertionError("the bot's typing never showed")
        await other.write(lambda s: bot_types(s, False))
        for _ in range(50):
            await asyncio.sleep(0.1)
            if not line.display:
                break
        else:
            raise AssertionError("the bot's typing never stopped showing")
        await other.close()

        await pilot.press("i", *"On it")
        for _ in range(50):
            await asyncio.sleep(0.1)
            if row(ndoto_home, "SELECT count(*) FROM events WHERE name = 'conversation_typing_on' AND CAST(payload AS TEXT) LIKE '%\"user\"%'")[0]:
                break
        else:
            raise AssertionError("the human's typing was never told")
        await pilot.press("ctrl+u", "ctrl+n", *"internal")  # a note: nothing more is told
        before = row(ndoto_home, "SELECT count(*) FROM events WHERE name = 'conversation_typing_on'")[0]
        await asyncio.sleep(0.5)
        await pilot.pause()
        assert row(ndoto_home, "SELECT count(*) FROM events WHERE name = 'conversation_typing_on'")[0] == before


@pytest.mark.postgresql_only("other processes' commits reach the console by LISTEN/NOTIFY only on PostgreSQL")
async def test_another_process_commit_wakes_the_console_without_polling(seeded: World, ndoto_home: Path) -> None:
    app = InboxApp(Settings(home=ndoto_home), poll_interval=3600)  # no polling within the test: only NOTIFY
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await open_conversation(pilot, app, 1)
        db = app.inbox.session.db
        for _ in range(50):
            if db.listening.is_set():
                break
            await asyncio.sleep(0.1)
        assert db.listening.is_set(), "the console never started listening"
        await say_elsewhere_and_see(pilot, app, seeded, ndoto_home, "Woken by a notice?")
