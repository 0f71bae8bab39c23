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

from ndoto_cli.core.bundle import Bundle
from ndoto_cli.core.models import Status


def active_bot_id(bundle: Bundle) -> int | None:
    return bundle.conversation.assignee_agent_bot_id or bundle.inbox_bot_id


def owner_bot_id(bundle: Bundle) -> int | None:
    conv = bundle.conversation
    if conv.assignee_id is not None or conv.status != Status.pending.value:
        return None
    return active_bot_id(bundle)


def status_for_new_conversation(bundle_or_inbox_bot: int | None) -> str:
    """A new conversation in an inbox with an active bot starts pending: the bot owns it."""
    return Status.pending.value if bundle_or_inbox_bot is not None else Status.open.value


def status_after_reopen(bundle: Bundle) -> str:
    """An incoming message on a resolved/snoozed conversation reopens it: back to the bot if any."""
    return Status.pending.value if active_bot_id(bundle) is not None else Status.open.value


def recipients(owner_before: int | None, owner_after: int | None) -> list[int]:
    return sorted({bot for bot in (owner_before, owner_after) if bot is not None})


def bot_may_act(bundle: Bundle, bot_id: int) -> bool:
    """A bot may write to a conversation only where it is the active bot (inbox or conversation)."""
    return active_bot_id(bundle) == bot_id


def bot_may_read(bundle: Bundle, bot_id: int) -> bool:
    """A bot may read a conversation (beyond Chatwoot) only while it owns it."""
    return owner_bot_id(bundle) == bot_id
