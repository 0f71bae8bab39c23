"""A conversation with the rows around it, loaded once per change.

Payloads, routing and REST views all need the same neighbours (inbox, contact, account, bot link,
assignees); loading them in one place keeps each change to a fixed, small number of queries.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ndoto_cli.core.db.database import WRITING, in_written_order
from ndoto_cli.core.errors import NotFound
from ndoto_cli.core.limits import row_id
from ndoto_cli.core.models import (
    Account,
    AgentBot,
    AgentBotInbox,
    Contact,
    ContactInbox,
    Conversation,
    Inbox,
    LinkStatus,
    User,
)

HELD = "ndoto_held_conversations"  # session.info: conversation ids this write transaction has locked


def active_bot_of(link: AgentBotInbox | None) -> int | None:
    """The bot an inbox link makes active, if any: the one place that reads a link's status."""
    return link.agent_bot_id if link is not None and link.status == LinkStatus.active else None


@dataclass
class Bundle:
    conversation: Conversation
    inbox: Inbox
    contact: Contact
    contact_inbox: ContactInbox
    account: Account
    inbox_link: AgentBotInbox | None
    assignee: User | None
    conversation_bot: AgentBot | None
    inbox_bot: AgentBot | None = None
    attached: bool = True  # False: transient objects read by the fast path, not in the session

    def bot(self, bot_id: int) -> AgentBot | None:
        """The conversation's or the inbox's bot with this id, if it is one of them."""
        for candidate in (self.conversation_bot, self.inbox_bot):
            if candidate is not None and candidate.id == bot_id:
                return candidate
        return None

    @property
    def inbox_bot_id(self) -> int | None:
        return active_bot_of(self.inbox_link)


@functools.cache
def _bundle_query() -> Any:
    """Everything a change needs in ONE statement (the hot path pays per statement, not per row)."""
    conv_bot = aliased(AgentBot)
    return (
        select(Conversation, Inbox, Contact, ContactInbox, Account, AgentBotInbox, User, conv_bot, AgentBot)
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .join(ContactInbox, ContactInbox.id == Conversation.contact_inbox_id)
        .join(Account, Account.id == Conversation.account_id)
        .outerjoin(AgentBotInbox, AgentBotInbox.inbox_id == Conversation.inbox_id)
        .outerjoin(User, User.id == Conversation.assignee_id)
        .outerjoin(conv_bot, conv_bot.id == Conversation.assignee_agent_bot_id)
        .outerjoin(AgentBot, AgentBot.id == AgentBotInbox.agent_bot_id)
    )


def _on_postgresql(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


async def _fetch(session: AsyncSession, where: Any) -> Bundle | None:
    query = _bundle_query().where(where)
    locking = session.info.get(WRITING) and _on_postgresql(session)
    if locking:
        # The conversation is held to the commit: see ``statements.PostgreSQL.conversation_lock``.
        query = query.with_for_update(of=Conversation, key_share=True)
    row = (await in_written_order(session, query)).first()
    if row is None:
        return None
    if locking:
        session.info.setdefault(HELD, set()).add(row[0].id)
    return _bundle(row)


def _bundle(row: Any) -> Bundle:
    conv, inbox, contact, contact_inbox, account, link, assignee, conv_bot, inbox_bot = row
    return Bundle(conv, inbox, contact, contact_inbox, account, link, assignee, conv_bot, inbox_bot=inbox_bot)


async def load_bundles(session: AsyncSession, *where: Any, order_by: Any, limit: int, offset: int = 0) -> list[Bundle]:
    """A page of conversations with their neighbours in one statement (a listing, never locked)."""
    query = _bundle_query().where(*where).order_by(*order_by).limit(limit).offset(offset)
    return [_bundle(row) for row in (await in_written_order(session, query)).all()]


async def load_bundle(session: AsyncSession, conversation: Conversation) -> Bundle:
    bundle = await _fetch(session, Conversation.id == conversation.id)
    assert bundle is not None  # the caller holds the row
    return bundle


async def refresh_bundle(session: AsyncSession, bundle: Bundle) -> Bundle:
    """Reload the assignees after a change of them (the rest does not change with a conversation)."""
    conv = bundle.conversation
    bundle.assignee = await session.get(User, conv.assignee_id) if conv.assignee_id else None
    bundle.conversation_bot = (
        await session.get(AgentBot, conv.assignee_agent_bot_id) if conv.assignee_agent_bot_id else None
    )
    return bundle


async def load_by_display_id(session: AsyncSession, *, account_id: int, display_id: int) -> Bundle:
    row_id(display_id, what="conversation")
    bundle = await _fetch(session, (Conversation.account_id == account_id) & (Conversation.display_id == display_id))
    if bundle is None:
        raise NotFound(f"conversation {display_id} not found in account {account_id}")
    return bundle
