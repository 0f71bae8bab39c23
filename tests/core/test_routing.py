"""Ownership and routing: who receives which event, in every case of DESIGN.md."""

from __future__ import annotations

from typing import Any

import pytest

from ndoto_cli.core.actors import Actor
from ndoto_cli.core.errors import Forbidden, Invalid
from ndoto_cli.core.models import Conversation, Inbox
from ndoto_cli.core.services import bots, contacts, conversations, customers, inboxes, messages
from tests.conftest import World
from tests.core.helpers import delivered_to, last_event_id, outbox

ADMIN = Actor("user", 1, "Admin")


async def say(world: World, text: str, *, inbox_id: int | None = None, name: str = "Jane") -> Any:
    async def go(s: Any) -> Any:
        inbox = await s.get(Inbox, inbox_id or world.web_inbox_id)
        return await customers.say(s, inbox=inbox, contact_name=name, content=text)

    return await world.db.write(go)


async def status_of(world: World, display_id: int) -> str:
    async with world.db.read() as s:
        conv = await conversations.load(s, account_id=world.account_id, display_id=display_id)
        return conv.conversation.status


def bot(world: World) -> Actor:
    return Actor("agent_bot", world.bot_id, "OrderBot")


async def test_new_conversation_in_a_bot_inbox_is_pending_and_the_bot_hears_everything(world: World) -> None:
    result = await say(world, "Where is my order?")
    display_id = result.bundle.conversation.display_id
    assert result.bundle.conversation.status == "pending"
    await world.db.write(
        lambda s: messages.create_message(s, account_id=world.account_id, display_id=display_id, actor=bot(world), content="Looking")
    )
    await world.db.write(
        lambda s: messages.create_message(
            s, account_id=world.account_id, display_id=display_id, actor=bot(world), content="note", private=True
        )
    )
    sent = await outbox(world.db)
    # Its own outgoing messages and private notes included (the product document says so).
    assert delivered_to(sent, world.bot_id) == ["message_created"] * 3
    assert [s.payload["message_type"] for s in sent if s.bots] == ["incoming", "outgoing", "outgoing"]


async def test_inbox_without_bot_starts_open_and_delivers_nothing(world: World) -> None:
    result = await say(world, "hello", inbox_id=world.api_inbox_id)
    assert result.bundle.conversation.status == "open"
    assert all(not s.bots for s in await outbox(world.db))


async def test_human_takeover_stops_events_to_the_bot(world: World) -> None:
    display_id = (await say(world, "I want a human")).bundle.conversation.display_id
    mark = await last_event_id(world.db)
    agent = Actor("user", world.agent_id, "Ann Agent")
    await world.db.write(
        lambda s: conversations.assign_user(s, account_id=world.account_id, display_id=display_id, user_id=world.agent_id, actor=agent)
    )
    assert await status_of(world, display_id) == "open"
    handoff = await outbox(world.db, after=mark)
    # It hears the change that ends its ownership...
    assert delivered_to(handoff, world.bot_id) == ["conversation_updated", "conversation_opened", "conversation_status_changed"]
    mark = await last_event_id(world.db)
    await say(world, "are you there?")
    await world.db.write(
        lambda s: messages.create_message(s, account_id=world.account_id, display_id=display_id, actor=agent, content="Yes, Ann here")
    )
    # ...and nothing after it.
    assert delivered_to(await outbox(world.db, after=mark), world.bot_id) == []


async def test_a_humans_public_reply_takes_over(world: World) -> None:
    display_id = (await say(world, "hello")).bundle.conversation.display_id
    agent = Actor("user", world.agent_id, "Ann Agent")
    mark = await last_event_id(world.db)
    await world.db.write(
        lambda s: messages.create_message(s, account_id=world.account_id, display_id=display_id, actor=agent, content="Ann here")
    )
    async with world.db.read() as s:
        conv = await s.get(Conversation, (await conversations.load(s, account_id=world.account_id, display_id=display_id)).conversation.id)
    assert conv.status == "open" and conv.assignee_id == world.agent_id
    sent = await outbox(world.db, after=mark)
    assert "message_created" not in delivered_to(sent, world.bot_id)  # the human's reply is not the bot's business
    assert "conversation_opened" in delivered_to(sent, world.bot_id)


async def test_a_private_note_by_a_human_does_not_take_over(world: World) -> None:
    display_id = (await say(world, "hello")).bundle.conversation.display_id
    agent = Actor("user", world.agent_id, "Ann Agent")
    await world.db.write(
        lambda s: messages.create_message(
            s, account_id=world.account_id, display_id=display_id, actor=agent, content="watching", private=True
        )
    )
    assert await status_of(world, display_id) == "pending"


async def test_unassigning_gives_the_conversation_back_to_the_bot(world: World) -> None:
    display_id = (await say(world, "hello")).bundle.conversation.display_id
    agent = Actor("user", world.agent_id, "Ann Agent")
    await world.db.write(
        lambda s: conversations.assign_user(s, account_id=world.account_id, display_id=display_id, user_id=world.agent_id, actor=agent)
    )
    await world.db.write(
        lambda s: conversations.assign_user(s, account_id=world.account_id, display_id=display_id, user_id=None, actor=agent)
    )
    assert await status_of(world, display_id) == "pending"
    mark = await last_event_id(world.db)
    await say(world, "back to the bot?")
    assert delivered_to(await outbox(world.db, after=mark), world.bot_id) == ["message_created"]


async def test_bot_handoff_by_status_open(world: World) -> None:
    display_id = (await say(world, "hello")).bundle.conversation.display_id
    mark = await last_event_id(world.db)
    await world.db.write(
        lambda s: conversations.change_status(s, account_id=world.account_id, display_id=display_id, status="open", actor=bot(world))
    )
    sent = await outbox(world.db, after=mark)
    assert delivered_to(sent, world.bot_id) == ["conversation_opened", "conversation_status_changed"]
    activity = next(s for s in sent if s.name == "message_created").payload
    assert activity["message_type"] == "activity" and "handed off" in activity["content"]
    mark = await last_event_id(world.db)
    await say(world, "still there?")
    assert delivered_to(await outbox(world.db, after=mark), world.bot_id) == []


async def test_conversation_bot_overrides_the_inbox_bot(world: World) -> None:
    other, _token = await world.db.write(
        lambda s: bots.create_bot(s, account_id=world.account_id, name="Specialist", outgoing_url="https://127.0.0.1:9/hook")
    )
    display_id = (await say(world, "hello")).bundle.conversation.display_id
    mark = await last_event_id(world.db)
    await world.db.write(
        lambda s: conversations.assign_bot(s, account_id=world.account_id, display_id=display_id, bot_id=other.id, actor=ADMIN)
    )
    sent = await outbox(world.db, after=mark)
    assert delivered_to(sent, world.bot_id) == ["conversation_updated"]  # the old owner hears it lost the conversation
    assert delivered_to(sent, other.id) == ["conversation_updated"]  # the new one hears it got it
    mark = await last_event_id(world.db)
    await say(world, "for the specialist")
    sent = await outbox(world.db, after=mark)
    assert delivered_to(sent, other.id) == ["message_created"]
    assert delivered_to(sent, world.bot_id) == []
    # The inbox bot may no longer act on it; the conversation bot may.
    with pytest.raises(Forbidden):
        await world.db.write(
            lambda s: messages.create_message(s, account_id=world.account_id, display_id=display_id, actor=bot(world), content="x")
        )


async def test_assigning_a_bot_takes_the_conversation_from_a_human(world: World) -> None:
    display_id = (await say(world, "hello")).bundle.conversation.display_id
    await world.db.write(
        lambda s: conversations.assign_user(s, account_id=world.account_id, display_id=display_id, user_id=world.agent_id, actor=ADMIN)
    )
    bundle = await world.db.write(
        lambda s: conversations.assign_bot(s, account_id=world.account_id, display_id=display_id, bot_id=world.bot_id, actor=ADMIN)
    )
    assert bundle.conversation.status == "pending"
    assert bundle.conversation.assignee_id is None
    assert bundle.conversation.assignee_agent_bot_id == world.bot_id


async def test_incoming_message_reopens_a_resolved_conversation_back_to_the_bot(world: World) -> None:
    display_id = (await say(world, "hello")).bundle.conversation.display_id
    await world.db.write(
        lambda s: conversations.change_status(s, account_id=world.account_id, display_id=display_id, status="resolved", actor=bot(world))
    )
    mark = await last_event_id(world.db)
    result = await say(world, "one more thing")
    assert result.bundle.conversation.display_id == display_id
    assert await status_of(world, display_id) == "pending"
    assert delivered_to(await outbox(world.db, after=mark), world.bot_id) == [
        "conversation_opened", "conversation_status_changed", "message_created",
    ]


async def test_incoming_message_reopens_to_open_without_a_bot(world: World) -> None:
    display_id = (await say(world, "hello", inbox_id=world.api_inbox_id)).bundle.conversation.display_id
    await world.db.write(
        lambda s: conversations.change_status(s, account_id=world.account_id, display_id=display_id, status="resolved", actor=ADMIN)
    )
    await say(world, "again", inbox_id=world.api_inbox_id)
    assert await status_of(world, display_id) == "open"


async def test_webwidget_triggered_goes_to_the_inbox_bot_only(world: World) -> None:
    other, _ = await world.db.write(
        lambda s: bots.create_bot(s, account_id=world.account_id, name="Specialist", outgoing_url="https://127.0.0.1:9/hook")
    )
    result = await say(world, "hello")
    display_id = result.bundle.conversation.display_id
    await world.db.write(
        lambda s: conversations.assign_bot(s, account_id=world.account_id, display_id=display_id, bot_id=other.id, actor=ADMIN)
    )

    async def trigger(s: Any) -> int:
        inbox = await s.get(Inbox, world.web_inbox_id)
        return await customers.trigger_widget(s, inbox=inbox, source_id=result.bundle.contact_inbox.source_id)

    mark = await last_event_id(world.db)
    await world.db.write(trigger)
    sent = await outbox(world.db, after=mark)
    assert [(s.name, s.bots) for s in sent] == [("webwidget_triggered", [world.bot_id])]


async def test_system_bot_serves_any_account_and_cannot_be_changed_through_one(world: World) -> None:
    system, _ = await world.db.write(
        lambda s: bots.create_bot(s, account_id=None, name="Global", outgoing_url="https://127.0.0.1:9/hook")
    )
    await world.db.write(
        lambda s: inboxes.set_inbox_bot(s, account_id=world.account_id, inbox_id=world.api_inbox_id, bot_id=system.id)
    )
    result = await say(world, "hello", inbox_id=world.api_inbox_id)
    assert result.bundle.conversation.status == "pending"
    assert delivered_to(await outbox(world.db), system.id) == ["message_created"]
    async with world.db.read() as s:
        assert system.id in [b.id for b in await bots.list_bots(s, account_id=world.account_id)]
    for change in (
        lambda s: bots.update_bot(s, account_id=world.account_id, bot_id=system.id, name="Mine"),
        lambda s: bots.delete_bot(s, account_id=world.account_id, bot_id=system.id),
        lambda s: bots.reset_bot_token(s, account_id=world.account_id, bot_id=system.id),
        lambda s: bots.reset_bot_secret(s, account_id=world.account_id, bot_id=system.id),
    ):
        with pytest.raises(Forbidden, match="system bot"):
            await world.db.write(change)
    renamed = await world.db.write(lambda s: bots.update_bot(s, account_id=None, bot_id=system.id, name="Global 2"))
    assert renamed.name == "Global 2"


async def test_a_bot_cannot_touch_another_inbox(world: World) -> None:
    display_id = (await say(world, "hello", inbox_id=world.api_inbox_id)).bundle.conversation.display_id
    with pytest.raises(Forbidden):
        await world.db.write(
            lambda s: messages.create_message(s, account_id=world.account_id, display_id=display_id, actor=bot(world), content="hi")
        )
    with pytest.raises(Forbidden):
        await world.db.write(
            lambda s: conversations.change_status(s, account_id=world.account_id, display_id=display_id, status="resolved", actor=bot(world))
        )


async def test_a_failed_change_leaves_neither_change_nor_event(world: World) -> None:
    display_id = (await say(world, "hello")).bundle.conversation.display_id
    mark = await last_event_id(world.db)

    async def half_done(s: Any) -> None:
        await messages.create_message(s, account_id=world.account_id, display_id=display_id, actor=bot(world), content="ok")
        raise Invalid("something failed after the message was written")

    with pytest.raises(Invalid):
        await world.db.write(half_done)
    with pytest.raises(Invalid):
        await world.db.write(
            lambda s: messages.create_message(s, account_id=world.account_id, display_id=display_id, actor=bot(world), content="x" * 150_001)
        )
    assert await outbox(world.db, after=mark) == []
    async with world.db.read() as s:
        msgs = await messages.list_messages(s, conversation_id=(await conversations.load(s, account_id=world.account_id, display_id=display_id)).conversation.id)
    assert [m.content for m in msgs] == ["hello"]


async def test_incoming_from_an_agent_only_in_api_inboxes(world: World) -> None:
    web_id = (await say(world, "hello")).bundle.conversation.display_id
    with pytest.raises(Invalid, match="Api inboxes"):
        await world.db.write(
            lambda s: messages.create_message(
                s, account_id=world.account_id, display_id=web_id, actor=ADMIN, content="as contact", message_type="incoming"
            )
        )


async def test_contact_source_ids_are_unique_per_inbox(world: World) -> None:
    async def go(s: Any) -> None:
        a = await contacts.create_contact(s, account_id=world.account_id, name="A")
        b = await contacts.create_contact(s, account_id=world.account_id, name="B")
        inbox = await s.get(Inbox, world.api_inbox_id)
        await contacts.link_contact(s, contact=a, inbox=inbox, source_id="same")
        await contacts.link_contact(s, contact=b, inbox=inbox, source_id="same")

    with pytest.raises(Exception, match="source_id"):
        await world.db.write(go)


async def test_hand_back_gives_the_conversation_to_the_bot(world: World) -> None:
    display_id = (await say(world, "hello")).bundle.conversation.display_id
    agent = Actor("user", world.agent_id, "Ann Agent")
    await world.db.write(lambda s: conversations.change_status(s, account_id=world.account_id, display_id=display_id, status="open", actor=agent))
    bundle = await world.db.write(lambda s: conversations.hand_back(s, account_id=world.account_id, display_id=display_id, actor=agent))
    assert bundle.conversation.status == "pending" and bundle.conversation.assignee_id is None
    no_bot = (await say(world, "hi", inbox_id=world.api_inbox_id, name="Joe")).bundle.conversation.display_id
    with pytest.raises(Invalid, match="no bot"):
        await world.db.write(lambda s: conversations.hand_back(s, account_id=world.account_id, display_id=no_bot, actor=agent))


async def test_an_attribute_update_fires_conversation_updated_with_what_changed(world: World) -> None:
    display_id = (await say(world, "hi")).bundle.conversation.display_id
    after = await last_event_id(world.db)
    await world.db.write(
        lambda s: conversations.update_conversation(
            s, account_id=world.account_id, display_id=display_id, actor=ADMIN, priority="high", custom_attributes={"plan": "pro"}
        )
    )
    (event,) = await outbox(world.db, after=after)
    assert event.name == "conversation_updated" and event.bots == [world.bot_id]  # the owning bot hears it
    assert event.payload["changed_attributes"] == [
        {"priority": {"previous_value": None, "current_value": "high"}},
        {"custom_attributes": {"previous_value": {}, "current_value": {"plan": "pro"}}},
    ]
    # The same values again change nothing and fire nothing.
    await world.db.write(
        lambda s: conversations.update_conversation(s, account_id=world.account_id, display_id=display_id, actor=ADMIN, priority="high")
    )
    assert await outbox(world.db, after=event.event_id) == []
