"""The widget's live hub reads the outbox: a change reaches a visitor whichever process wrote it,
and a visitor that reconnects replays what it missed, without notes or activity lines."""

from __future__ import annotations

import asyncio
from typing import Any

from ndoto_cli.core.actors import Actor
from ndoto_cli.core.db import Database
from ndoto_cli.core.models import Inbox, User
from ndoto_cli.core.services import conversations, messages, widget
from ndoto_cli.core.settings import Settings
from ndoto_cli.server.widget import live
from ndoto_cli.server.widget.live import RECONNECT, Hub
from tests.conftest import World


async def _visitor_with_conversation(db: Database, world: World) -> tuple[widget.Visitor, int]:
    async with db.read() as s:
        inbox = await s.get(Inbox, world.web_inbox_id)
    who = await db.write(lambda s: widget.start(s, inbox=inbox))
    said = await db.write(lambda s: widget.says(s, who=who, content="hello"))
    return who, said.bundle.conversation.display_id


async def _admin_writes(db: Database, world: World, display_id: int, content: str, private: bool = False) -> None:
    async with db.read() as s:
        admin = await s.get(User, world.admin_id)
    await db.write(lambda s: messages.create_message(
        s, account_id=world.account_id, display_id=display_id, actor=Actor.of_user(admin), content=content, private=private))


async def _next(queue: asyncio.Queue[Any], kind: str | None = None) -> Any:
    """The next item (of ``kind``), within a bounded wait."""
    while True:
        event_id, item = await asyncio.wait_for(queue.get(), timeout=10)
        if kind is None or item["type"] == kind:
            return event_id, item


async def test_another_process_change_reaches_the_visitor(db: Database, world: World, settings: Settings) -> None:
    who, display_id = await _visitor_with_conversation(db, world)
    hub = Hub(db)
    queue = await hub.subscribe(who.link.id)
    other = await Database(settings).open()  # another process: its commits do not wake this hub
    try:
        await _admin_writes(other, world, display_id, "a note", private=True)
        await _admin_writes(other, world, display_id, "Hello from the CLI")
        # A human's reply takes the conversation over from the bot: its status changes first.
        first_id, taken = await _next(queue)
        assert taken == {"type": "status", "status": "open", "conversation_id": display_id}
        event_id, item = await _next(queue)
        assert item["type"] == "message" and item["message"]["content"] == "Hello from the CLI"
        assert item["message"]["sender"] == {"name": "Admin", "type": "user"} and item["message"]["message_type"] == 1
        assert item["message"]["conversation_id"] == display_id

        async with other.read() as s:
            admin = await s.get(User, world.admin_id)
        bundle = await other.write(lambda s: conversations.load(s, account_id=world.account_id, display_id=display_id))
        await other.write(lambda s: conversations.emit_typing(s, conversation=bundle.conversation, actor=Actor.of_user(admin), on=True))
        _, typing = await _next(queue)
        assert typing == {"type": "typing", "on": True, "name": "Admin"}
        await other.write(lambda s: conversations.change_status(
            s, account_id=world.account_id, display_id=display_id, actor=Actor.of_user(admin), status="resolved"))
        _, status = await _next(queue)
        assert status["type"] == "status" and status["status"] == "resolved"
        assert queue.empty()  # the resolve's activity line never reaches the visitor

        # Reconnecting from the first event seen: the rest again, in order, nothing private.
        replay, last, more = await hub.replay(who.link.id, first_id - 1)
        assert last >= replay[-1][0] and more is False
        assert [i["type"] for _, i in replay] == ["status", "message", "typing", "status"]
        assert replay[1] == (event_id, item)
    finally:
        await other.close()
        hub.unsubscribe(who.link.id, queue)


async def test_the_visitors_own_typing_and_other_visitors_changes_are_not_sent(db: Database, world: World) -> None:
    alice, alice_conv = await _visitor_with_conversation(db, world)
    _bob, bob_conv = await _visitor_with_conversation(db, world)
    hub = Hub(db)
    queue = await hub.subscribe(alice.link.id)
    try:
        await db.write(lambda s: widget.typing(s, who=alice, on=True))
        await _admin_writes(db, world, bob_conv, "for Bob")
        await _admin_writes(db, world, alice_conv, "for Alice")
        _, item = await _next(queue, "message")
        assert item["message"]["content"] == "for Alice"
    finally:
        hub.unsubscribe(alice.link.id, queue)


async def test_a_stalled_reader_is_told_to_reconnect_instead_of_growing(db: Database, world: World, monkeypatch: Any) -> None:
    who, display_id = await _visitor_with_conversation(db, world)
    hub = Hub(db)
    queue = await hub.subscribe(who.link.id)
    monkeypatch.setattr(live, "BATCH", 5)
    try:
        while not queue.full():  # a reader that never reads
            queue.put_nowait((0, {"type": "filler"}))
        await _admin_writes(db, world, display_id, "one more")
        for _ in range(200):  # until the hub has read the change (bounded)
            if queue.qsize() == 1:
                break
            await asyncio.sleep(0.05)
        _, item = queue.get_nowait()
        assert item is RECONNECT and queue.empty()
    finally:
        hub.unsubscribe(who.link.id, queue)
