"""The console's data access: every read and every action goes through core, with the acting
human as the actor, so the console gets the same rules and the same errors as the CLI and API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from ndoto_cli.core.actors import Actor
from ndoto_cli.core.db import Database
from ndoto_cli.core.models import Event, User
from ndoto_cli.core.services import accounts, bots, conversations, deliveries, inboxes, messages


@dataclass
class Who:
    account_id: int
    user: User

    @property
    def actor(self) -> Actor:
        return Actor.of_user(self.user)


async def resolve_user(db: Database, *, email: str | None, account: str | None) -> Who:
    """``--as EMAIL`` and ``--account``, by the same core rules as the CLI's."""
    async with db.read() as s:
        acct = await accounts.resolve_account(s, account, email=email)
        return Who(acct.id, await accounts.acting_user(s, account_id=acct.id, ref=email))  # type: ignore[arg-type]


async def change_mark(db: Database) -> int:
    """The outbox is also the change feed: its newest id moves whenever anything changes."""
    async with db.read() as s:
        return int((await s.execute(select(func.max(Event.id)))).scalar_one() or 0)


async def thread(db: Database, who: Who, display_id: int, limit: int = 100) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from ndoto_cli.core.views import load_sender, message_json, render_conversation

    async with db.read() as s:
        bundle = await conversations.load(s, account_id=who.account_id, display_id=display_id)
        rows = await messages.list_messages(s, conversation_id=bundle.conversation.id, limit=limit)  # type: ignore[arg-type]
        conv = await render_conversation(s, bundle)
        conv["inbox_name"] = bundle.inbox.name
        return conv, [message_json(m, display_id=display_id, sender=await load_sender(s, m)) for m in rows]


async def send(db: Database, who: Who, display_id: int, text: str, private: bool) -> Any:
    return await db.write(
        lambda s: messages.create_message(s, account_id=who.account_id, display_id=display_id, actor=who.actor, content=text, private=private)
    )


async def take_over(db: Database, who: Who, display_id: int) -> Any:
    return await db.write(
        lambda s: conversations.assign_user(s, account_id=who.account_id, display_id=display_id, user_id=who.user.id, actor=who.actor)
    )


async def hand_back(db: Database, who: Who, display_id: int) -> Any:
    return await db.write(lambda s: conversations.hand_back(s, account_id=who.account_id, display_id=display_id, actor=who.actor))


async def set_status(db: Database, who: Who, display_id: int, status: str) -> Any:
    return await db.write(
        lambda s: conversations.change_status(s, account_id=who.account_id, display_id=display_id, status=status, actor=who.actor)
    )


async def assign(db: Database, who: Who, display_id: int, target: str) -> Any:
    """``user:<id>`` or ``bot:<id>``."""
    kind, _, raw = target.partition(":")
    if kind == "user":
        return await db.write(
            lambda s: conversations.assign_user(s, account_id=who.account_id, display_id=display_id, user_id=int(raw), actor=who.actor)
        )
    return await db.write(
        lambda s: conversations.assign_bot(s, account_id=who.account_id, display_id=display_id, bot_id=int(raw), actor=who.actor)
    )


async def assignees(db: Database, who: Who) -> list[tuple[str, str]]:
    async with db.read() as s:
        users = await accounts.list_users(s, account_id=who.account_id)
        bot_rows = await bots.list_bots(s, account_id=who.account_id)
    return [(f"{u.name} <{u.email}>", f"user:{u.id}") for u in users] + [(f"bot: {b.name}", f"bot:{b.id}") for b in bot_rows]


async def inbox_list(db: Database, who: Who) -> list[tuple[int, str, str | None]]:
    async with db.read() as s:
        rows = await inboxes.list_inboxes(s, account_id=who.account_id)
        return [(i.id, i.name, (b.name if (b := await inboxes.inbox_bot(s, inbox_id=i.id)) else None)) for i in rows]  # type: ignore[arg-type]


async def bot_rows(db: Database, who: Who) -> list[dict[str, Any]]:
    async with db.read() as s:
        out = []
        for b in await bots.list_bots(s, account_id=who.account_id):
            served = await inboxes.inboxes_of_bot(s, bot_id=b.id, account_id=who.account_id)  # type: ignore[arg-type]
            health = await deliveries.health(s, bot_id=b.id)  # type: ignore[arg-type]
            out.append({"bot": b, "inboxes": [i.name for i in served], "health": health})
        return out


async def failures(db: Database, who: Who, limit: int = 100) -> list[dict[str, Any]]:
    async with db.read() as s:
        rows = await deliveries.list_deliveries(s, account_id=who.account_id, status="failed", limit=limit)
    return [deliveries.delivery_json(d, name) for d, name in rows]
