"""A conversation with the rows around it, loaded once per change.

Payloads, routing and REST views all need the same neighbours (inbox, contact, account, bot link,
assignees); loading them in one place keeps each change to a fixed, small number of queries.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core.errors import NotFound
from ndoto_cli.core.models import (
    Account,
    AgentBot,
    AgentBotInbox,
    Contact,
    ContactInbox,
    Conversation,
    Inbox,
    User,
)


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

    @property
    def inbox_bot_id(self) -> int | None:
        link = self.inbox_link
        return link.agent_bot_id if link is not None and link.status == "active" else None


async def load_bundle(session: AsyncSession, conversation: Conversation) -> Bundle:
    inbox = await session.get(Inbox, conversation.inbox_id)
    contact = await session.get(Contact, conversation.contact_id)
    contact_inbox = await session.get(ContactInbox, conversation.contact_inbox_id)
    account = await session.get(Account, conversation.account_id)
    assert inbox and contact and contact_inbox and account  # foreign keys guarantee these
    link = (
        await session.execute(select(AgentBotInbox).where(AgentBotInbox.inbox_id == inbox.id))
    ).scalar_one_or_none()
    assignee = await session.get(User, conversation.assignee_id) if conversation.assignee_id else None
    bot = (
        await session.get(AgentBot, conversation.assignee_agent_bot_id)
        if conversation.assignee_agent_bot_id
        else None
    )
    return Bundle(conversation, inbox, contact, contact_inbox, account, link, assignee, bot)


async def refresh_bundle(session: AsyncSession, bundle: Bundle) -> Bundle:
    """Reload the assignees after a change of them (the rest does not change with a conversation)."""
    conv = bundle.conversation
    bundle.assignee = await session.get(User, conv.assignee_id) if conv.assignee_id else None
    bundle.conversation_bot = (
        await session.get(AgentBot, conv.assignee_agent_bot_id) if conv.assignee_agent_bot_id else None
    )
    return bundle


async def get_conversation(session: AsyncSession, *, account_id: int, display_id: int) -> Conversation:
    conv = (
        await session.execute(
            select(Conversation).where(
                Conversation.account_id == account_id, Conversation.display_id == display_id
            )
        )
    ).scalar_one_or_none()
    if conv is None:
        raise NotFound(f"conversation {display_id} not found in account {account_id}")
    return conv
