"""Inboxes and their bot link (one active bot per inbox, a bot serves many inboxes)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core import limits
from ndoto_cli.core.bundle import active_bot_of
from ndoto_cli.core.credentials import new_identifier
from ndoto_cli.core.errors import Conflict, Invalid, NotFound
from ndoto_cli.core.models import AgentBot, AgentBotInbox, Channel, Conversation, Inbox, LinkStatus
from ndoto_cli.core.services.bots import get_bot

CHANNEL_ALIASES = {
    "web_widget": Channel.web_widget,
    "webwidget": Channel.web_widget,
    "web": Channel.web_widget,
    "Channel::WebWidget": Channel.web_widget,
    "api": Channel.api,
    "Channel::Api": Channel.api,
}


def parse_channel(channel: str) -> str:
    value = CHANNEL_ALIASES.get(channel.strip()) or CHANNEL_ALIASES.get(channel.strip().lower())
    if value is None:
        raise Invalid(f"channel must be web_widget or api, not {channel!r}", field="channel")
    return value


async def create_inbox(session: AsyncSession, *, account_id: int, name: str, channel: str = "api") -> Inbox:
    name = (limits.text(name, field="name", max_length=limits.NAME) or "").strip()
    if not name:
        raise Invalid("inbox name must not be empty", field="name")
    inbox = Inbox(account_id=account_id, name=name, channel_type=parse_channel(channel), identifier=new_identifier())
    session.add(inbox)
    await session.flush()
    return inbox


async def list_inboxes(session: AsyncSession, *, account_id: int) -> list[Inbox]:
    return list((await session.execute(select(Inbox).where(Inbox.account_id == account_id).order_by(Inbox.id))).scalars())


async def get_inbox(session: AsyncSession, *, account_id: int, inbox_id: int) -> Inbox:
    inbox = await session.get(Inbox, limits.row_id(inbox_id, what="inbox"))
    if inbox is None or inbox.account_id != account_id:
        raise NotFound(f"inbox {inbox_id} not found in account {account_id}")
    return inbox


async def get_inbox_by_identifier(session: AsyncSession, *, identifier: str) -> Inbox:
    if not isinstance(identifier, str) or len(identifier) > limits.IDENTIFIER or "\x00" in identifier:
        raise NotFound("inbox not found")
    inbox = (await session.execute(select(Inbox).where(Inbox.identifier == identifier))).scalar_one_or_none()
    if inbox is None:
        raise NotFound("inbox not found")
    return inbox


async def find_inbox(session: AsyncSession, *, account_id: int, ref: str) -> Inbox:
    """An inbox by id or name; an ambiguous name lists the matches."""
    ref = str(ref).strip()
    if ref.isdigit():
        return await get_inbox(session, account_id=account_id, inbox_id=int(ref))
    matches = list(
        (await session.execute(select(Inbox).where(Inbox.account_id == account_id, Inbox.name == ref))).scalars()
    )
    if not matches:
        raise NotFound(f"no inbox named {ref!r} in account {account_id}")
    if len(matches) > 1:
        ids = ", ".join(str(m.id) for m in matches)
        raise Conflict(f"inbox name {ref!r} is ambiguous: ids {ids}; use an id")
    return matches[0]


async def delete_inbox(session: AsyncSession, *, account_id: int, inbox_id: int) -> Inbox:
    inbox = await get_inbox(session, account_id=account_id, inbox_id=inbox_id)
    await session.delete(inbox)
    await session.flush()
    return inbox


async def inbox_link(session: AsyncSession, *, inbox_id: int) -> AgentBotInbox | None:
    return (
        await session.execute(select(AgentBotInbox).where(AgentBotInbox.inbox_id == inbox_id))
    ).scalar_one_or_none()


async def inbox_bot(session: AsyncSession, *, inbox_id: int) -> AgentBot | None:
    bot_id = active_bot_of(await inbox_link(session, inbox_id=inbox_id))
    return await session.get(AgentBot, bot_id) if bot_id is not None else None


@dataclass
class Assignment:
    inbox: Inbox
    bot: AgentBot | None
    previous: AgentBot | None


async def set_inbox_bot(
    session: AsyncSession, *, account_id: int, inbox_id: int, bot_id: int | None
) -> Assignment:
    """Connect a bot to an inbox (replacing any other) or disconnect with ``bot_id=None``.

    Conversations already in the inbox keep their status: only new ones start pending.
    """
    inbox = await get_inbox(session, account_id=account_id, inbox_id=inbox_id)
    link = await inbox_link(session, inbox_id=inbox_id)
    previous = await session.get(AgentBot, link.agent_bot_id) if link is not None else None
    bot = None
    if bot_id is None:
        if link is not None:
            await session.delete(link)
    else:
        bot = await get_bot(session, account_id=account_id, bot_id=bot_id)
        if link is None:
            session.add(AgentBotInbox(inbox_id=inbox_id, agent_bot_id=bot.id, account_id=account_id))  # type: ignore[arg-type]
        else:
            link.agent_bot_id = bot.id  # type: ignore[assignment]
            link.status = LinkStatus.active
    await session.flush()
    return Assignment(inbox, bot, previous)


async def inboxes_of_bot(session: AsyncSession, *, bot_id: int, account_id: int | None = None) -> list[Inbox]:
    query = select(Inbox).join(AgentBotInbox, AgentBotInbox.inbox_id == Inbox.id).where(AgentBotInbox.agent_bot_id == bot_id)
    if account_id is not None:
        query = query.where(Inbox.account_id == account_id)
    return list((await session.execute(query.order_by(Inbox.id))).scalars())


async def bot_serves_inbox(session: AsyncSession, *, bot_id: int, inbox_id: int) -> bool:
    """A bot reads only the inboxes it is connected to (an inbox's identifier opens its public API)."""
    link = await inbox_link(session, inbox_id=inbox_id)
    return link is not None and link.agent_bot_id == bot_id


async def conversation_count(session: AsyncSession, *, inbox_id: int) -> int:
    from sqlalchemy import func

    query = select(func.count()).select_from(Conversation).where(Conversation.inbox_id == inbox_id)
    return int((await session.execute(query)).scalar_one())
