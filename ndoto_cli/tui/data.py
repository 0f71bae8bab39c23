"""The console's data access: every read and every action goes through core, with the acting
human as the actor, so the console gets the same rules and the same errors as the CLI and API.
Nothing else in the console touches the database."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ndoto_cli.core.actors import Actor
from ndoto_cli.core.db import Database
from ndoto_cli.core.models import User
from ndoto_cli.core.outbox import feed
from ndoto_cli.core.queries import Row, conversation_rows, tab_counts
from ndoto_cli.core.services import accounts, bots, conversations, deliveries, inboxes, messages
from ndoto_cli.core.views import bot_json, load_sender, message_json, render_conversation


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


# -- The change feed ------------------------------------------------------------------------------

async def change_mark(db: Database) -> feed.Mark:
    """The outbox is also the change feed (``core.outbox.feed``): it moves whenever anything changes."""
    async with db.read() as s:
        return await feed.start(s)


@dataclass
class Changes:
    newest: feed.Mark
    changed: set[int]  # display ids of conversations whose rows or threads changed
    typing: dict[int, tuple[bool, str]]  # display id -> (on, who): the latest typing of a customer


FEED_PAGE = 2000


async def changed_since(db: Database, who: Who, mark: feed.Mark) -> Changes:
    """What happened in this account after ``mark``: the conversations that changed, and customers
    starting or stopping typing (which changes nothing to reload)."""
    from ndoto_cli.core.models import Conversation

    rows: list[Any] = []
    async with db.read() as s:
        while True:
            page = await feed.after(s, mark, limit=FEED_PAGE, account_id=who.account_id)
            rows.extend(page.rows)
            mark = page.mark
            if len(page.rows) < FEED_PAGE:
                break
        ids = sorted({r[2] for r in rows if r[2] is not None})
        displays = dict((await s.execute(
            select(Conversation.id, Conversation.display_id).where(Conversation.id.in_(ids))  # type: ignore[union-attr]
        )).all()) if ids else {}
    changed: set[int] = set()
    typing: dict[int, tuple[bool, str]] = {}
    for _id, _account, conversation_id, name, payload in rows:
        display = displays.get(conversation_id)
        if display is None:
            continue
        if name in conversations.TYPING_EVENTS:
            body = json.loads(payload)
            if (body.get("performed_by") or {}).get("type") in ("contact", "agent_bot"):  # a customer, or an AI agent thinking
                typing[int(display)] = (name == conversations.TYPING_EVENTS[0], str(body.get("name") or "The customer"))
            continue
        changed.add(int(display))
        typing.pop(int(display), None)  # a message ends the typing that led to it
    return Changes(mark, changed, typing)


async def typing(db: Database, who: Who, display_id: int, on: bool) -> Any:
    """The human types a reply: the visitor's widget shows it (a note's typing shows nowhere)."""
    return await db.write(
        lambda s: conversations.add_typing(s, account_id=who.account_id, display_id=display_id, actor=who.actor,
                                           typing_status="on" if on else "off")
    )


# -- Conversations -----------------------------------------------------------------------------

@dataclass
class Listing:
    counts: dict[str, int]
    rows: list[Row]


async def listing(
    db: Database, who: Who, *, tab: str, inbox_id: int | None, limit: int, search: str | None = None,
    status: str | None = None, assignee: str | None = None,
) -> Listing:
    """A tab's counts and rows; ``search``/``status``/``assignee`` ("me", "none" or a user id) narrow the rows."""
    assignee_id = who.user.id if assignee == "me" else int(assignee) if assignee and assignee.isdigit() else None
    async with db.read() as s:
        counts = await tab_counts(s, account_id=who.account_id, user_id=who.user.id, inbox_id=inbox_id)
        rows = await conversation_rows(
            s, account_id=who.account_id, tab=tab, user_id=who.user.id, inbox_id=inbox_id, limit=limit, search=search,
            status=status, assignee_id=assignee_id, unassigned=assignee == "none",
        )
    return Listing(counts, rows)


async def thread(db: Database, who: Who, display_id: int, limit: int = 200) -> tuple[dict[str, Any], list[dict[str, Any]]]:
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


async def people(db: Database, who: Who) -> list[tuple[str, str]]:
    async with db.read() as s:
        return [(u.name, str(u.id)) for u in await accounts.list_users(s, account_id=who.account_id)]


async def inbox_list(db: Database, who: Who) -> list[tuple[int, str, str | None]]:
    async with db.read() as s:
        rows = await inboxes.list_inboxes(s, account_id=who.account_id)
        return [(i.id, i.name, (b.name if (b := await inboxes.inbox_bot(s, inbox_id=i.id)) else None)) for i in rows]  # type: ignore[arg-type]


# -- Bots ----------------------------------------------------------------------------------------

async def bot_rows(db: Database, who: Who) -> list[dict[str, Any]]:
    async with db.read() as s:
        out = []
        for b in await bots.list_bots(s, account_id=who.account_id):
            served = await inboxes.inboxes_of_bot(s, bot_id=b.id, account_id=who.account_id)  # type: ignore[arg-type]
            health = await deliveries.health(s, bot_id=b.id)  # type: ignore[arg-type]
            out.append({"bot": b, "json": bot_json(b), "inboxes": [i.name for i in served], "health": health})
        return out


async def bot_stats(db: Database, who: Who, bot_id: int, *, days: int | None) -> dict[str, Any]:
    """A bot's figures over the last ``days`` (None: all time), per day too, as ``bots stats``."""
    import time

    from ndoto_cli.core.services import outcomes

    async with db.read() as s:
        bot = await bots.get_bot(s, account_id=who.account_id, bot_id=bot_id)
        since = time.time() - days * 86400 if days else None
        return await outcomes.bot_stats(s, bot, since=since, by_day=True, account_id=who.account_id)


async def suggestion_rows(db: Database, who: Who, bot_id: int) -> list[dict[str, Any]]:
    """A bot's pending drafted FAQ entries (``kb suggestions list``)."""
    from ndoto_cli.core.ai import suggestions

    async with db.read() as s:
        bot = bots.require_ai(await bots.get_bot(s, account_id=who.account_id, bot_id=bot_id), "kb")
        suggestions.check_reviewer(bot, as_system=False)
        return [suggestions.suggestion_json(r) for r in await suggestions.list_suggestions(s, bot_id=bot_id)]


async def decide_suggestion(
    db: Database, who: Who, bot_id: int, suggestion_id: int, action: str, *, question: str | None = None,
    answer: str | None = None, keep_personal_data: bool = False,
) -> dict[str, Any]:
    """edit, accept (into the knowledge base) or reject a draft: the CLI's rules, from core."""
    import asyncio

    from ndoto_cli.core.ai import store, suggestions

    async with db.read() as s:
        suggestions.check_reviewer(await bots.get_bot(s, account_id=who.account_id, bot_id=bot_id), as_system=False)
        row = await suggestions.get(s, bot_id=bot_id, suggestion_id=suggestion_id)
    vectors = None
    if action == "accept":  # the entry's vectors, computed off the event loop before the write
        vectors = await asyncio.to_thread(store.section_vectors, store.faq_entry(row.question, row.answer)[2])

    async def change(s: Any) -> dict[str, Any]:
        fresh = await suggestions.get(s, bot_id=bot_id, suggestion_id=suggestion_id)
        if action == "edit":
            done = await suggestions.edit(s, fresh, question=question, answer=answer)
        elif action == "accept":
            done = await suggestions.accept(s, fresh, keep_personal_data=keep_personal_data, vectors=vectors)
        else:
            done = await suggestions.reject(s, fresh)
        return suggestions.suggestion_json(done)

    return await db.write(change)


def _scope(who: Who, bot: Any) -> int | None:
    return None if bot.account_id is None else who.account_id


async def create_bot(db: Database, who: Who, values: dict[str, Any]) -> Any:
    return await db.write(lambda s: bots.create_bot(s, account_id=who.account_id, **values))


async def update_bot(db: Database, who: Who, bot_id: int, values: dict[str, Any]) -> Any:
    return await db.write(lambda s: bots.update_bot(s, account_id=who.account_id, bot_id=bot_id, **values))


async def delete_bot(db: Database, who: Who, bot_id: int) -> Any:
    return await db.write(lambda s: bots.delete_bot(s, account_id=who.account_id, bot_id=bot_id))


async def reset_token(db: Database, who: Who, bot_id: int) -> Any:
    return await db.write(lambda s: bots.reset_bot_token(s, account_id=who.account_id, bot_id=bot_id))


async def reset_secret(db: Database, who: Who, bot_id: int) -> Any:
    return await db.write(lambda s: bots.reset_bot_secret(s, account_id=who.account_id, bot_id=bot_id))


async def bot_secret(db: Database, who: Who, bot_id: int) -> str:
    async with db.read() as s:
        return bots.signing_secret(await bots.get_bot(s, account_id=who.account_id, bot_id=bot_id), account_id=who.account_id)


async def assign_to_inbox(db: Database, who: Who, bot_id: int, inbox_id: int) -> Any:
    return await db.write(lambda s: inboxes.set_inbox_bot(s, account_id=who.account_id, inbox_id=inbox_id, bot_id=bot_id))


async def ping(bot_id: int, account_id: int) -> dict[str, Any]:
    """``ndoto bots ping`` in a process of its own: the console imports no HTTP client (its layer
    is core only), and the command is the same check an operator runs by hand."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ndoto_cli", "bots", "ping", str(bot_id), "--account", str(account_id), "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await proc.communicate()
    try:
        data = json.loads(out or b"{}")
    except ValueError:
        data = {}
    if "error" in data:
        return {"ok": False, "error": data["error"].get("message")}
    return data or {"ok": False, "error": err.decode(errors="replace").strip() or "no answer"}


# -- Deliveries --------------------------------------------------------------------------------

async def delivery_rows(db: Database, who: Who, *, status: str | None, limit: int = 200) -> list[dict[str, Any]]:
    async with db.read() as s:
        rows = await deliveries.list_deliveries(s, account_id=who.account_id, status=status, limit=limit)
        names = {b.id: b.name for b in await bots.list_bots(s, account_id=who.account_id)}
    return [{**deliveries.delivery_json(d, name), "bot_name": names.get(d.agent_bot_id, f"#{d.agent_bot_id}")} for d, name in rows]


async def retry(db: Database, ids: list[int]) -> int:
    return await db.write(lambda s: deliveries.retry(s, delivery_ids=ids))


async def retry_all_failed(db: Database, who: Who) -> tuple[int, int]:
    return await deliveries.retry_failed(db, account_id=who.account_id)
