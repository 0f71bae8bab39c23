"""Ownership and routing: who answers a conversation and which bots receive an event.

The rules (DESIGN.md), in one place so the API, CLI, TUI and dispatcher cannot disagree:

* The active bot is the conversation-level bot if set, else the inbox's active bot.
* The bot *owns* the conversation while it is ``pending`` and no human is assigned. Handing off
  (status ``open``, a human assigned) ends ownership; Chatwoot keeps sending events after handoff,
  which is its users' first complaint: Ndoto does not.
* A bot receives an event when it owns the conversation before OR after the change, so it hears
  of the change that ends its ownership and of the one that starts it.
* ``webwidget_triggered`` goes to the inbox's bot only.
"""

from __future__ import annotations

from enum import StrEnum

from ndoto_cli.core.bundle import Bundle
from ndoto_cli.core.models import Status


def active_bot_id(bundle: Bundle) -> int | None:
    return bundle.conversation.assignee_agent_bot_id or bundle.inbox_bot_id


def owner_bot_id(bundle: Bundle) -> int | None:
    conv = bundle.conversation
    if conv.assignee_id is not None or conv.status != Status.pending:
        return None
    return active_bot_id(bundle)


def status_for_new_conversation(inbox_bot_id: int | None, *, asked: Status | str | None = None) -> Status:
    """A new conversation in an inbox with an active bot starts pending: the bot owns it, whatever
    was asked (Chatwoot forces it too); without a bot it starts as asked, else open."""
    if inbox_bot_id is not None:
        return Status.pending
    return Status(asked) if asked else Status.open


def status_after_reopen(bundle: Bundle) -> str:
    """An incoming message on a resolved/snoozed conversation reopens it: back to the bot if any."""
    return Status.pending if active_bot_id(bundle) is not None else Status.open


def recipients(owner_before: int | None, owner_after: int | None) -> list[int]:
    return sorted({bot for bot in (owner_before, owner_after) if bot is not None})


class BotAction(StrEnum):
    """What a bot asks to do through the API, for :func:`bot_refusal`."""

    read = "read"  # the conversation and its messages
    note = "note"  # a private note (agents only see it)
    reply = "reply"  # a public message (the customer sees it)
    status = "status"
    assign = "assign"
    update = "update"  # priority, custom and additional attributes
    typing = "typing"  # the customer sees it


HUMAN_TOOK_OVER = "a human has taken over this conversation"
_ANY_TIME = (BotAction.read, BotAction.note)


def bot_refusal(bundle: Bundle, bot_id: int, action: BotAction | str) -> str | None:
    """Why this bot may not do ``action`` on this conversation, or None when it may.

    The one rule behind every bot's call: a bot acts only where it is the active bot (the
    conversation's bot, else the inbox's). There it may read and write private notes at any time,
    before and after a handoff (a late reply must still be explainable to the humans); what the
    customer sees or what changes the conversation (public messages, typing, status, assignment,
    attributes) only while no human is assigned: a late reply never talks over a human.
    """
    if active_bot_id(bundle) != bot_id:
        return f"this bot is not the active bot of conversation {bundle.conversation.display_id}"
    if BotAction(action) in _ANY_TIME:
        return None
    if bundle.conversation.assignee_id is not None:
        return HUMAN_TOOK_OVER
    return None
