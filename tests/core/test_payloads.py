"""Event payloads have every key of the product document's examples, with the same types."""

from __future__ import annotations

from typing import Any

from ndoto_cli.core.actors import Actor
from ndoto_cli.core.services import contacts, conversations, customers, messages
from tests.conftest import World
from tests.core.helpers import outbox

# The product document's examples (spec/agent-bots.md), verbatim in shape.
MESSAGE_CREATED = {
    "event": "message_created",
    "id": 1234,
    "content": "Hello, I need help with my order",
    "content_type": "text",
    "message_type": "incoming",
    "created_at": 1741526400,
    "private": False,
    "source_id": None,
    "additional_attributes": {},
    "content_attributes": {},
    "sender": {
        "id": 56,
        "name": "Jane Doe",
        "email": "[email protected]",
        "phone_number": "+260966123456",
        "avatar": "https://127.0.0.1/rails/active_storage/...",
        "identifier": None,
        "type": "contact",
    },
    "inbox": {"id": 3, "name": "Website Chat", "channel": "Channel::WebWidget"},
    "conversation": {
        "id": 99,
        "account_id": 1,
        "status": "open",
        "assignee": None,
        "meta": {"sender": {"id": 56, "name": "Jane Doe", "type": "contact"}, "channel": "Channel::WebWidget"},
    },
    "account": {"id": 1, "name": "Acme Support"},
}

CONVERSATION_RESOLVED = {
    "event": "conversation_resolved",
    "id": 99,
    "status": "resolved",
    "account_id": 1,
    "meta": {"sender": {"id": 56, "name": "Jane Doe", "type": "contact"}, "channel": "Channel::WebWidget"},
    "account": {"id": 1, "name": "Acme Support"},
}


def assert_shape(expected: Any, actual: Any, path: str = "$") -> None:
    """Every key of ``expected`` is in ``actual`` with the same JSON type (None matches None)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} is missing"
            assert_shape(value, actual[key], f"{path}.{key}")
    elif expected is None:
        assert actual is None, f"{path}: expected null, got {actual!r}"
    else:
        assert type(actual) is type(expected), f"{path}: expected {type(expected).__name__}, got {actual!r}"


async def _jane_conversation(world: World) -> Any:
    db = world.db

    async def go(s: Any) -> Any:
        jane = await contacts.create_contact(
            s, account_id=world.account_id, name="Jane Doe", email="jane@example.com", phone_number="+260966123456"
        )
        bundle = await conversations.create_conversation(
            s, account_id=world.account_id, inbox_id=world.web_inbox_id, contact_id=jane.id,
            actor=customers.contact_actor(jane),
        )
        return jane, bundle.conversation.display_id

    return await db.write(go)


async def test_message_created_payload_matches_the_product_document(world: World) -> None:
    jane, display_id = await _jane_conversation(world)
    await world.db.write(
        lambda s: messages.create_message(
            s, account_id=world.account_id, display_id=display_id, actor=customers.contact_actor(jane),
            content="Hello, I need help with my order", message_type="incoming",
        )
    )
    sent = [s for s in await outbox(world.db) if s.name == "message_created"]
    assert len(sent) == 1 and sent[0].bots == [world.bot_id]
    payload = sent[0].payload
    # The conversation is pending (the bot owns it): compare shapes, not the status value.
    assert_shape(MESSAGE_CREATED, payload)
    assert payload["message_type"] == "incoming"
    assert payload["sender"]["type"] == "contact"
    assert payload["sender"]["email"] == "jane@example.com"
    assert payload["conversation"]["id"] == display_id
    assert payload["conversation"]["status"] == "pending"
    assert payload["account"] == {"id": world.account_id, "name": "Acme Support"}
    assert payload["inbox"]["channel"] == "Channel::WebWidget"
    assert payload["performed_by"] == {"type": "contact", "id": jane.id}


async def test_bot_and_user_senders_carry_the_same_keys(world: World) -> None:
    _jane, display_id = await _jane_conversation(world)
    bot = Actor("agent_bot", world.bot_id, "OrderBot")
    await world.db.write(
        lambda s: messages.create_message(s, account_id=world.account_id, display_id=display_id, actor=bot, content="Hi!")
    )
    payload = [s for s in await outbox(world.db) if s.name == "message_created"][-1].payload
    assert payload["message_type"] == "outgoing"
    assert payload["sender"]["type"] == "agent_bot"
    assert set(MESSAGE_CREATED["sender"]) <= set(payload["sender"])


async def test_conversation_resolved_payload_matches_the_product_document(world: World) -> None:
    _jane, display_id = await _jane_conversation(world)
    bot = Actor("agent_bot", world.bot_id, "OrderBot")
    await world.db.write(
        lambda s: conversations.change_status(s, account_id=world.account_id, display_id=display_id, status="resolved", actor=bot)
    )
    sent = await outbox(world.db)
    resolved = [s for s in sent if s.name == "conversation_resolved"]
    assert len(resolved) == 1 and resolved[0].bots == [world.bot_id]
    assert_shape(CONVERSATION_RESOLVED, resolved[0].payload)
    changed = [s for s in sent if s.name == "conversation_status_changed"][-1].payload
    assert changed["changed_attributes"] == [{"status": {"previous_value": "pending", "current_value": "resolved"}}]
    # Events are ordered: resolved before status_changed.
    names = [s.name for s in sent if s.bots]
    assert names.index("conversation_resolved") < names.index("conversation_status_changed")


async def test_payload_is_rendered_at_the_time_of_the_event(world: World) -> None:
    jane, display_id = await _jane_conversation(world)
    await world.db.write(
        lambda s: messages.create_message(
            s, account_id=world.account_id, display_id=display_id, actor=customers.contact_actor(jane),
            content="first", message_type="incoming",
        )
    )
    await world.db.write(
        lambda s: conversations.change_status(
            s, account_id=world.account_id, display_id=display_id, status="resolved", actor=Actor("agent_bot", world.bot_id, "OrderBot")
        )
    )
    first = next(s for s in await outbox(world.db) if s.name == "message_created")
    assert first.payload["conversation"]["status"] == "pending"


async def test_webwidget_triggered_shape(world: World) -> None:
    jane, _display_id = await _jane_conversation(world)

    async def go(s: Any) -> int:
        from sqlalchemy import select

        from ndoto_cli.core.models import ContactInbox, Inbox

        inbox = await s.get(Inbox, world.web_inbox_id)
        link = (await s.execute(select(ContactInbox).where(ContactInbox.contact_id == jane.id))).scalar_one()
        return await customers.trigger_widget(s, inbox=inbox, source_id=link.source_id, event_info={"referer": "https://shop.test"})

    await world.db.write(go)
    event = next(s for s in await outbox(world.db) if s.name == "webwidget_triggered")
    assert event.bots == [world.bot_id]
    for key in ("id", "contact", "inbox", "account", "current_conversation", "source_id", "event", "event_info"):
        assert key in event.payload
    assert event.payload["event_info"] == {"referer": "https://shop.test"}
    assert event.payload["performed_by"] == {"type": "contact", "id": jane.id}
    assert event.payload["current_conversation"]["id"] == _display_id
