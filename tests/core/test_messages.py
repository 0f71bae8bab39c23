"""Message edits, soft deletes, submitted values and paging."""

from __future__ import annotations

from typing import Any

import pytest

from ndoto_cli.core.actors import Actor
from ndoto_cli.core.errors import Invalid
from ndoto_cli.core.models import Inbox
from ndoto_cli.core.services import conversations, customers, messages
from tests.conftest import World
from tests.core.helpers import delivered_to, last_event_id, outbox


async def _conversation(world: World) -> Any:
    async def go(s: Any) -> Any:
        return await customers.say(s, inbox=await s.get(Inbox, world.web_inbox_id), contact_name="Jane", content="hello")

    return await world.db.write(go)


async def test_message_updated_fires_with_changed_attributes(world: World) -> None:
    result = await _conversation(world)
    display_id = result.bundle.conversation.display_id
    bot = Actor("agent_bot", world.bot_id, "OrderBot")
    sent = await world.db.write(
        lambda s: messages.create_message(s, account_id=world.account_id, display_id=display_id, actor=bot, content="v1")
    )
    mark = await last_event_id(world.db)
    await world.db.write(
        lambda s: messages.update_message(
            s, account_id=world.account_id, display_id=display_id, message_id=sent.message.id, actor=bot, content="v2"
        )
    )
    await world.db.write(
        lambda s: messages.update_message(
            s, account_id=world.account_id, display_id=display_id, message_id=sent.message.id, actor=bot, delete=True
        )
    )
    events = await outbox(world.db, after=mark)
    assert delivered_to(events, world.bot_id) == ["message_updated", "message_updated"]
    first, second = (e.payload for e in events)
    assert first["content"] == "v2"
    assert first["changed_attributes"] == [{"content": {"previous_value": "v1", "current_value": "v2"}}]
    assert second["content_attributes"]["deleted"] is True


async def test_submitted_values_update_the_message(world: World) -> None:
    result = await _conversation(world)
    display_id = result.bundle.conversation.display_id
    bot = Actor("agent_bot", world.bot_id, "OrderBot")
    question = await world.db.write(
        lambda s: messages.create_message(
            s, account_id=world.account_id, display_id=display_id, actor=bot, content="Pick one",
            content_type="input_select", content_attributes={"items": [{"title": "A", "value": "a"}]},
        )
    )

    async def answer(s: Any) -> Any:
        bundle = await conversations.load(s, account_id=world.account_id, display_id=display_id)
        return await messages.submit_values(
            s, bundle=bundle, message_id=question.message.id, submitted_values=[{"title": "A", "value": "a"}],
            actor=customers.contact_actor(result.bundle.contact),
        )

    updated = await world.db.write(answer)
    assert updated.message.content_attributes["submitted_values"] == [{"title": "A", "value": "a"}]
    assert updated.message.content_attributes["items"] == [{"title": "A", "value": "a"}]
    assert (await outbox(world.db))[-1].name == "message_updated"


@pytest.mark.parametrize("value", ["bogus", 2, 7, True, None])
def test_message_type_is_checked(value: Any) -> None:
    with pytest.raises(Invalid, match="message_type"):
        messages.parse_message_type(value)


def test_message_type_accepts_names_and_numbers() -> None:
    assert messages.parse_message_type("incoming") == 0
    assert messages.parse_message_type(1) == 1
    assert messages.parse_message_type("3") == 3


async def test_paging_before_and_after(world: World) -> None:
    result = await _conversation(world)
    display_id = result.bundle.conversation.display_id
    bot = Actor("agent_bot", world.bot_id, "OrderBot")
    for i in range(30):
        await world.db.write(
            lambda s, i=i: messages.create_message(s, account_id=world.account_id, display_id=display_id, actor=bot, content=f"m{i}")
        )
    conv_id = result.bundle.conversation.id
    async with world.db.read() as s:
        latest = await messages.list_messages(s, conversation_id=conv_id)
        older = await messages.list_messages(s, conversation_id=conv_id, before=latest[0].id)
        newer = await messages.list_messages(s, conversation_id=conv_id, after=older[-1].id)
    assert [m.content for m in latest] == [f"m{i}" for i in range(10, 30)]
    assert [m.content for m in older] == ["hello"] + [f"m{i}" for i in range(10)]
    assert [m.content for m in newer] == [f"m{i}" for i in range(10, 30)]
