"""Conversations: creation, status, assignment (human or bot), and the events each change fires."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core import limits, routing
from ndoto_cli.core.actors import SYSTEM, Actor
from ndoto_cli.core.bundle import Bundle, load_bundle, load_by_display_id, refresh_bundle
from ndoto_cli.core.errors import Forbidden, Invalid, NotFound, Unauthorized
from ndoto_cli.core.models import Account, AgentBot, BotType, Channel, Conversation, Message, MessageType, Status, User
from ndoto_cli.core.outbox.events import emit
from ndoto_cli.core.outbox.payloads import conversation_payload, message_payload
from ndoto_cli.core.services import outcomes
from ndoto_cli.core.services.bots import get_bot
from ndoto_cli.core.services.contacts import get_contact, get_contact_inbox, link_contact
from ndoto_cli.core.services.inboxes import get_inbox, inbox_bot
from ndoto_cli.core.views import last_public_message, load_sender, message_json

STATUSES = tuple(s.value for s in Status)


def parse_status(value: str) -> str:
    value = str(value).strip().lower()
    if value not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}, not {value!r}", field="status")
    return value


async def deliverable(session: AsyncSession, bot_ids: list[int], bundle: Bundle | None = None) -> list[int]:
    """Drop bots that have nowhere to deliver (a webhook bot without URL), as Chatwoot does."""
    keep = []
    for bot_id in bot_ids:
        bot = (bundle.bot(bot_id) if bundle is not None else None) or await session.get(AgentBot, bot_id)
        if bot is not None and (bot.bot_type == BotType.ai_agent or bot.outgoing_url):
            keep.append(bot_id)
    return keep


async def last_message_json(session: AsyncSession, bundle: Bundle) -> dict[str, Any] | None:
    last = await last_public_message(session, bundle.conversation.id)  # type: ignore[arg-type]
    if last is None:
        return None
    return message_json(last, display_id=bundle.conversation.display_id, sender=await load_sender(session, last))


async def emit_conversation_event(
    session: AsyncSession,
    bundle: Bundle,
    name: str,
    *,
    actor: Actor,
    owner_before: int | None,
    changed: list[dict[str, Any]] | None = None,
) -> None:
    payload = conversation_payload(
        name, bundle=bundle, last_message=await last_message_json(session, bundle), actor=actor, changed_attributes=changed
    )
    bots = await deliverable(session, routing.recipients(owner_before, routing.owner_bot_id(bundle)), bundle)
    await emit(
        session,
        name=name,
        account_id=bundle.conversation.account_id,
        conversation_id=bundle.conversation.id,
        payload=payload,
        recipients=bots,
    )


async def add_activity(session: AsyncSession, bundle: Bundle, text: str, *, actor: Actor) -> None:
    """An activity line in the thread ("Conversation was resolved by Ann"). Never sent to bots."""
    await _system_message(session, bundle, text, actor=actor)


async def _system_message(
    session: AsyncSession, bundle: Bundle, text: str, *, actor: Actor, kind: MessageType = MessageType.activity,
    content_type: str = "text",
) -> Message:
    """A message without a sender (an activity line, the rating question): its row and its event,
    which feeds the live views (console, widget) and goes to no bot."""
    conv = bundle.conversation
    now = time.time()
    message = Message(
        account_id=conv.account_id,
        inbox_id=conv.inbox_id,
        conversation_id=conv.id,  # type: ignore[arg-type]
        message_type=kind,
        content=text,
        content_type=content_type,
        created_at=now,
        updated_at=now,
    )
    session.add(message)
    await session.flush()
    payload = message_payload(
        "message_created", message, bundle=bundle, sender=None, last_message=None, actor=actor
    )
    await emit(
        session, name="message_created", account_id=conv.account_id, conversation_id=conv.id, payload=payload, recipients=[]
    )
    return message


_STATUS_WORDS = {"open": "reopened", "resolved": "resolved", "pending": "returned to the bot", "snoozed": "snoozed"}


async def apply_status(
    session: AsyncSession,
    bundle: Bundle,
    status: str,
    *,
    actor: Actor,
    owner_before: int | None,
    snoozed_until: float | None = None,
    activity: str | None = None,
    reason: str | None = None,
) -> bool:
    """Set the status and fire its events; returns False when nothing changed.

    ``owner_before``: the bot that owned the conversation before the whole change this status
    change belongs to (``routing.owner_bot_id`` read by the caller first), so a bot hears the
    change that ended or started its turn even when an assignment came first. ``reason``: why a
    bot lets go (a handoff's reason, for its stint: ``core.services.outcomes``). A resolution in an
    inbox that asks for ratings adds the rating question.
    """
    conv = bundle.conversation
    previous = conv.status
    if status == previous and (status != Status.snoozed or snoozed_until == conv.snoozed_until):
        return False
    conv.status = status
    conv.snoozed_until = snoozed_until if status == Status.snoozed else None
    conv.updated_at = time.time()
    await session.flush()
    if activity is None:
        if previous == Status.pending and status == Status.open and actor.is_bot:
            activity = f"Conversation was handed off to a human by {actor.name}"
        else:
            activity = f"Conversation was {_STATUS_WORDS[status]} by {actor.name}"
    await add_activity(session, bundle, activity, actor=actor)
    ended = await outcomes.status_changed(
        session, bundle, previous=previous, status=status, actor=actor, owner_before=owner_before, reason=reason,
    )
    if status == Status.resolved and bundle.inbox.csat_survey:
        survey = await _system_message(
            session, bundle, outcomes.CSAT_QUESTION, actor=actor, kind=MessageType.template, content_type="input_csat",
        )
        await outcomes.survey_asked(session, bundle, message_id=survey.id, bot_id=ended.agent_bot_id if ended else None)  # type: ignore[arg-type]
    if status == Status.resolved:
        await emit_conversation_event(session, bundle, "conversation_resolved", actor=actor, owner_before=owner_before)
    elif status == Status.open and previous in (Status.resolved, Status.snoozed, Status.pending):
        await emit_conversation_event(session, bundle, "conversation_opened", actor=actor, owner_before=owner_before)
    elif status == Status.pending and previous in (Status.resolved, Status.snoozed):
        # Reopened straight back to the bot: it is "a resolved conversation reopened" all the same.
        await emit_conversation_event(session, bundle, "conversation_opened", actor=actor, owner_before=owner_before)
    changed = [{"status": {"previous_value": previous, "current_value": status}}]
    await emit_conversation_event(
        session, bundle, "conversation_status_changed", actor=actor, owner_before=owner_before, changed=changed
    )
    return True


async def check_bot_may_act(bundle: Bundle, actor: Actor, action: routing.BotAction | str) -> None:
    """Refuse a bot's change that the ownership rule forbids (``routing.bot_refusal``): 403."""
    if actor.is_bot:
        reason = routing.bot_refusal(bundle, actor.id, action)  # type: ignore[arg-type]
        if reason is not None:
            raise Forbidden(reason)


def check_may_read(bundle: Bundle, actor: Actor) -> None:
    """Users read every conversation of their account; a bot only those where it is the active
    bot, before and after a handoff (``routing.bot_refusal``)."""
    if actor.is_bot and routing.bot_refusal(bundle, actor.id, routing.BotAction.read) is not None:  # type: ignore[arg-type]
        raise Unauthorized("bots may read only the conversations where they are the active bot")


async def load(session: AsyncSession, *, account_id: int, display_id: int) -> Bundle:
    return await load_by_display_id(session, account_id=account_id, display_id=display_id)


async def load_readable(session: AsyncSession, *, account_id: int, display_id: int, actor: Actor) -> Bundle:
    """A conversation the actor may read, or Unauthorized/NotFound."""
    bundle = await load(session, account_id=account_id, display_id=display_id)
    check_may_read(bundle, actor)
    return bundle


async def create_conversation(
    session: AsyncSession,
    *,
    account_id: int,
    inbox_id: int,
    contact_id: int,
    actor: Actor,
    source_id: str | None = None,
    status: str | None = None,
    assignee_id: int | None = None,
    additional_attributes: dict[str, Any] | None = None,
    custom_attributes: dict[str, Any] | None = None,
) -> Bundle:
    """A new conversation; in an inbox with an active bot it starts pending whatever was asked."""
    inbox = await get_inbox(session, account_id=account_id, inbox_id=inbox_id)
    contact = await get_contact(session, account_id=account_id, contact_id=contact_id)
    contact_inbox = await link_contact(session, contact=contact, inbox=inbox, source_id=source_id)
    bot = await inbox_bot(session, inbox_id=inbox_id)
    if actor.is_bot and (bot is None or bot.id != actor.id):
        raise Forbidden(f"bot {actor.name} is not the active bot of inbox {inbox.name}")
    initial = routing.status_for_new_conversation(bot.id if bot is not None else None, asked=parse_status(status) if status else None)
    if assignee_id is not None:
        user = await session.get(User, limits.row_id(assignee_id, what="agent"))
        if user is None or user.account_id != account_id:
            raise NotFound(f"agent {assignee_id} not found in account {account_id}", field="assignee_id")
        initial = Status.open if initial == Status.pending else initial
    for field, value in (("custom_attributes", custom_attributes), ("additional_attributes", additional_attributes)):
        if value is not None:
            limits.json_object(limits.of(session), value, field=field)
    # The next number of the account. On PostgreSQL several processes write at once: the account's
    # row is locked first (FOR NO KEY UPDATE: rows that merely reference the account, as its new
    # contacts do, take no conflicting lock), so two never read the same maximum (SQLite has one writer).
    await session.execute(select(Account.id).where(Account.id == account_id).with_for_update(key_share=True))
    display_id = (
        await session.execute(
            select(func.coalesce(func.max(Conversation.display_id), 0)).where(Conversation.account_id == account_id)
        )
    ).scalar_one() + 1
    now = time.time()
    conv = Conversation(
        account_id=account_id,
        display_id=display_id,
        uuid=str(uuid.uuid4()),
        inbox_id=inbox_id,
        contact_id=contact.id,  # type: ignore[arg-type]
        contact_inbox_id=contact_inbox.id,  # type: ignore[arg-type]
        status=initial,
        assignee_id=assignee_id,
        additional_attributes=additional_attributes or {},
        custom_attributes=custom_attributes or {},
        created_at=now,
        updated_at=now,
        last_activity_at=now,
    )
    session.add(conv)
    await session.flush()
    bundle = await load_bundle(session, conv)
    payload = conversation_payload("conversation_created", bundle=bundle, last_message=None, actor=actor)
    # Chatwoot sends no conversation_created to bots; the event row still feeds the live views.
    await emit(session, name="conversation_created", account_id=account_id, conversation_id=conv.id, payload=payload, recipients=[])
    return bundle


async def create_api_conversation(
    session: AsyncSession,
    *,
    account_id: int,
    actor: Actor,
    inbox_id: int | None,
    contact_id: int | None = None,
    source_id: str | None = None,
    status: str | None = None,
    assignee_id: int | None = None,
    additional_attributes: dict[str, Any] | None = None,
    custom_attributes: dict[str, Any] | None = None,
    message: dict[str, Any] | None = None,
) -> Bundle:
    """``POST /conversations``: only in API inboxes (Chatwoot's rule), for a contact given by id
    or by its ``source_id`` in the inbox, with an optional first message."""
    from ndoto_cli.core.services.messages import create_message

    if inbox_id is None:
        raise Invalid("inbox_id is required", field="inbox_id")
    inbox = await get_inbox(session, account_id=account_id, inbox_id=inbox_id)
    if inbox.channel_type != Channel.api:
        raise Invalid("conversations can be created through the API only in API inboxes", field="inbox_id")
    if contact_id is None and source_id:
        contact_id = (await get_contact_inbox(session, inbox_id=inbox_id, source_id=source_id)).contact_id
    if contact_id is None:
        raise Invalid("contact_id or source_id is required", field="contact_id")
    bundle = await create_conversation(
        session, account_id=account_id, inbox_id=inbox_id, contact_id=contact_id, actor=actor, source_id=source_id,
        status=status, assignee_id=assignee_id, additional_attributes=additional_attributes,
        custom_attributes=custom_attributes,
    )
    if message is not None and not isinstance(message, dict):
        raise Invalid("message must be an object", field="message")
    if message and message.get("content"):
        await create_message(
            session, account_id=account_id, display_id=bundle.conversation.display_id, actor=actor,
            content=message.get("content"), message_type=message.get("message_type", "outgoing"), bundle=bundle,
        )
    return bundle


async def find_open_conversation(session: AsyncSession, *, inbox_id: int, contact_id: int) -> Conversation | None:
    """The contact's latest conversation in the inbox (any status: resolved ones reopen on a new message)."""
    return (
        await session.execute(
            select(Conversation)
            .where(Conversation.inbox_id == inbox_id, Conversation.contact_id == contact_id)
            .order_by(Conversation.id.desc())  # type: ignore[union-attr]
            .limit(1)
        )
    ).scalar_one_or_none()


async def change_status(
    session: AsyncSession,
    *,
    account_id: int,
    display_id: int,
    status: str | None,
    actor: Actor,
    snoozed_until: float | None = None,
) -> Bundle:
    """Set a status, or toggle without one (open -> resolved, anything else -> open), as Chatwoot."""
    bundle = await load(session, account_id=account_id, display_id=display_id)
    await check_bot_may_act(bundle, actor, "status")
    conv = bundle.conversation
    if status is None or status == "":
        target = Status.resolved if conv.status == Status.open else Status.open
    else:
        target = parse_status(status)
    if snoozed_until is not None:
        snoozed_until = limits.number(snoozed_until, field="snoozed_until", minimum=0, maximum=limits.MAX_TIMESTAMP)
    if target == Status.snoozed and snoozed_until is not None and snoozed_until <= time.time():
        raise Invalid("snoozed_until must be in the future", field="snoozed_until")
    if target == Status.pending and routing.active_bot_id(bundle) is None:
        raise Invalid("pending means 'the bot is handling it', but this conversation has no bot", field="status")
    if target == Status.pending and conv.assignee_id is not None:
        # Giving it back to the bot: the human lets go.
        await assign_user(session, account_id=account_id, display_id=display_id, user_id=None, actor=actor, bundle=bundle)
        return bundle
    await apply_status(session, bundle, target, actor=actor, owner_before=routing.owner_bot_id(bundle), snoozed_until=snoozed_until)
    return bundle


async def _due_snoozed(session: AsyncSession, moment: float, limit: int) -> list[Conversation]:
    """Snoozed conversations whose time has come, oldest first, every account's at once: on the
    partial index of snoozed times (only snoozed conversations keep one, ``apply_status``)."""
    return list((await session.execute(
        select(Conversation).where(
            Conversation.snoozed_until.is_not(None), Conversation.snoozed_until <= moment,  # type: ignore[union-attr, operator]
            Conversation.status == Status.snoozed,
        ).order_by(Conversation.snoozed_until).limit(limit)  # type: ignore[arg-type]
    )).scalars().all())


async def snoozes_due(session: AsyncSession, *, now: float | None = None) -> bool:
    """Is a snoozed conversation due to reopen? (A read, so an idle installation writes nothing.)"""
    return bool(await _due_snoozed(session, time.time() if now is None else now, 1))


async def wake_snoozed(session: AsyncSession, *, now: float | None = None, limit: int = 200) -> int:
    """Reopen the conversations whose ``snoozed_until`` has passed: status open, for humans (a
    snooze is a human's "remind me", as in Chatwoot), with an activity line and the usual events so
    bots and the console hear of it. Returns how many."""
    due = await _due_snoozed(session, time.time() if now is None else now, limit)
    for conv in due:
        bundle = await load_bundle(session, conv)
        await apply_status(session, bundle, Status.open, actor=SYSTEM, owner_before=routing.owner_bot_id(bundle),
                           activity="Conversation was reopened: its snooze ended")
    return len(due)


async def _quiet_ai_bots(session: AsyncSession) -> list[AgentBot]:
    return list((await session.execute(
        select(AgentBot).where(AgentBot.bot_type == BotType.ai_agent, AgentBot.resolve_after > 0)
    )).scalars().all())


async def idle_due(session: AsyncSession, *, now: float | None = None) -> bool:
    """Has an AI agent a conversation to resolve for the customer's silence? (A read, as ``snoozes_due``.)"""
    moment = time.time() if now is None else now
    for bot in await _quiet_ai_bots(session):
        if await outcomes.idle_stints(session, bot_id=bot.id, quiet_since=moment - bot.resolve_after, limit=1):  # type: ignore[arg-type]
            return True
    return False


async def resolve_idle(session: AsyncSession, *, now: float | None = None, limit: int = 200) -> int:
    """Resolve, as its AI agent, each conversation the agent holds whose customer has not written
    for the bot's ``resolve_after`` since its last answer (Captain does the same): the customer
    went away satisfied or not at all, and a later message reopens it, back to the bot (counted
    as a reopen). Returns how many."""
    moment = time.time() if now is None else now
    done = 0
    for bot in await _quiet_ai_bots(session):
        for stint in await outcomes.idle_stints(session, bot_id=bot.id, quiet_since=moment - bot.resolve_after, limit=limit - done):  # type: ignore[arg-type]
            conv = await session.get(Conversation, stint.conversation_id)
            bundle = await load_bundle(session, conv) if conv is not None else None
            if bundle is None:
                continue
            await session.refresh(stint)  # read again under the conversation's lock: another server may have ended it
            if stint.outcome is not None:
                continue
            if routing.owner_bot_id(bundle) != bot.id:
                await outcomes.close_stale(session, stint)
                continue
            await apply_status(
                session, bundle, Status.resolved, actor=Actor.of_bot(bot), owner_before=bot.id,
                activity=f"Conversation was resolved by {bot.name}: no reply from the customer for {_span(bot.resolve_after)}",
            )
            done += 1
        if done >= limit:
            break
    return done


def _span(seconds: float) -> str:
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds:g} seconds"


async def assign_user(
    session: AsyncSession,
    *,
    account_id: int,
    display_id: int,
    user_id: int | None,
    actor: Actor,
    bundle: Bundle | None = None,
) -> Bundle:
    """Assign a human (takes over from the bot: status open, conversation bot cleared) or unassign
    (``user_id=None``: back to the bot when one is active, pending again)."""
    bundle = bundle or await load(session, account_id=account_id, display_id=display_id)
    await check_bot_may_act(bundle, actor, "assign")
    conv = bundle.conversation
    user: User | None = None
    if user_id is not None:
        user = await session.get(User, limits.row_id(user_id, what="agent"))
        if user is None or user.account_id != account_id:
            raise NotFound(f"agent {user_id} not found in account {account_id}", field="assignee_id")
    if user_id == conv.assignee_id and conv.assignee_agent_bot_id is None:
        return bundle
    owner_before = routing.owner_bot_id(bundle)
    changed: list[dict[str, Any]] = [{"assignee_id": {"previous_value": conv.assignee_id, "current_value": user_id}}]
    if conv.assignee_agent_bot_id is not None and user_id is not None:
        changed.append({"assignee_agent_bot_id": {"previous_value": conv.assignee_agent_bot_id, "current_value": None}})
        conv.assignee_agent_bot_id = None
    conv.assignee_id = user_id
    conv.updated_at = time.time()
    await session.flush()
    await refresh_bundle(session, bundle)
    if user is not None:
        await add_activity(session, bundle, f"Assigned to {user.name} by {actor.name}", actor=actor)
        await emit_conversation_event(session, bundle, "conversation_updated", actor=actor, owner_before=owner_before, changed=changed)
        if conv.status == Status.pending:
            await apply_status(session, bundle, Status.open, actor=actor, owner_before=owner_before,
                               activity=f"{user.name} took over the conversation")
    else:
        await add_activity(session, bundle, f"Conversation unassigned by {actor.name}", actor=actor)
        await emit_conversation_event(session, bundle, "conversation_updated", actor=actor, owner_before=owner_before, changed=changed)
        if routing.active_bot_id(bundle) is not None and conv.status == Status.open:
            await apply_status(session, bundle, Status.pending, actor=actor, owner_before=routing.owner_bot_id(bundle),
                               activity="Conversation handed back to the bot")
    return bundle


async def hand_back(session: AsyncSession, *, account_id: int, display_id: int, actor: Actor) -> Bundle:
    """Give a conversation back to its bot: no human assigned, status pending."""
    bundle = await load(session, account_id=account_id, display_id=display_id)
    if routing.active_bot_id(bundle) is None:
        raise Invalid(
            "this conversation's inbox has no bot to hand it back to",
            hint="assign one: ndoto inbox assign BOT INBOX (or the console's Bots screen)",
        )
    if bundle.conversation.assignee_id is not None:
        return await assign_user(session, account_id=account_id, display_id=display_id, user_id=None, actor=actor, bundle=bundle)
    await apply_status(session, bundle, Status.pending, actor=actor, owner_before=routing.owner_bot_id(bundle),
                       activity=f"Conversation handed back to the bot by {actor.name}")
    return bundle


async def assign_bot(
    session: AsyncSession, *, account_id: int, display_id: int, bot_id: int | None, actor: Actor
) -> Bundle:
    """Give a conversation to a bot (overrides the inbox bot; clears the human; pending), or clear
    the conversation-level bot with ``bot_id=None``."""
    bundle = await load(session, account_id=account_id, display_id=display_id)
    await check_bot_may_act(bundle, actor, "assign")
    conv = bundle.conversation
    bot = await get_bot(session, account_id=account_id, bot_id=bot_id) if bot_id is not None else None
    owner_before = routing.owner_bot_id(bundle)
    changed: list[dict[str, Any]] = [
        {"assignee_agent_bot_id": {"previous_value": conv.assignee_agent_bot_id, "current_value": bot_id}}
    ]
    if bot is not None and conv.assignee_id is not None:
        changed.append({"assignee_id": {"previous_value": conv.assignee_id, "current_value": None}})
        conv.assignee_id = None
    conv.assignee_agent_bot_id = bot_id
    conv.updated_at = time.time()
    await session.flush()
    await refresh_bundle(session, bundle)
    await outcomes.owner_changed(session, bundle, before=owner_before)
    text = f"Assigned to bot {bot.name} by {actor.name}" if bot else f"Conversation bot removed by {actor.name}"
    await add_activity(session, bundle, text, actor=actor)
    await emit_conversation_event(session, bundle, "conversation_updated", actor=actor, owner_before=owner_before, changed=changed)
    if bot is not None and conv.status != Status.pending:
        await apply_status(session, bundle, Status.pending, actor=actor, owner_before=routing.owner_bot_id(bundle),
                           activity=f"Bot {bot.name} is handling the conversation")
    return bundle


async def update_conversation(
    session: AsyncSession,
    *,
    account_id: int,
    display_id: int,
    actor: Actor,
    priority: str | None = None,
    custom_attributes: dict[str, Any] | None = None,
    additional_attributes: dict[str, Any] | None = None,
    clear_priority: bool = False,
) -> Bundle:
    """Priority, custom and additional attributes; fires ``conversation_updated`` with the
    ``changed_attributes`` (Chatwoot's shape), so bots and live views hear of it."""
    bundle = await load(session, account_id=account_id, display_id=display_id)
    await check_bot_may_act(bundle, actor, "update")
    conv = bundle.conversation
    if priority is not None and priority not in ("low", "medium", "high", "urgent"):
        raise Invalid("priority must be low, medium, high, urgent or null", field="priority")
    wanted: dict[str, Any] = {}
    if priority is not None or clear_priority:
        wanted["priority"] = priority
    for field, value in (("custom_attributes", custom_attributes), ("additional_attributes", additional_attributes)):
        if value is not None:
            wanted[field] = limits.json_object(limits.of(session), value, field=field)
    changed = [{field: {"previous_value": getattr(conv, field), "current_value": value}}
               for field, value in wanted.items() if getattr(conv, field) != value]
    if not changed:
        return bundle
    for field, value in wanted.items():
        setattr(conv, field, value)
    conv.updated_at = time.time()
    await session.flush()
    owner = routing.owner_bot_id(bundle)
    await emit_conversation_event(session, bundle, "conversation_updated", actor=actor, owner_before=owner, changed=changed)
    return bundle


TYPING_EVENTS = ("conversation_typing_on", "conversation_typing_off")


async def add_typing(
    session: AsyncSession, *, account_id: int, display_id: int, actor: Actor, typing_status: str, private: bool = False
) -> Bundle:
    """Typing on/off (an agent, a bot's ``toggle_typing_status``): authorized like any action
    (private typing like a note), then an event for the live views (the widget, the console)."""
    bundle = await load(session, account_id=account_id, display_id=display_id)
    await check_bot_may_act(bundle, actor, routing.BotAction.note if private else routing.BotAction.typing)
    if typing_status not in ("on", "off", "recording"):
        raise Invalid("typing_status must be on or off", field="typing_status")
    if not private:
        await emit_typing(session, conversation=bundle.conversation, actor=actor, on=typing_status != "off")
    return bundle


async def emit_typing(session: AsyncSession, *, conversation: Conversation, actor: Actor, on: bool) -> None:
    """Typing on/off, by anyone: a row in the outbox that live views follow; never a delivery
    (Chatwoot sends bots no typing events)."""
    name = TYPING_EVENTS[0] if on else TYPING_EVENTS[1]
    payload = {
        "event": name, "conversation": {"id": conversation.display_id}, "performed_by": actor.performed_by(),
        "name": actor.name, "at": int(time.time()),
    }
    await emit(session, name=name, account_id=conversation.account_id, conversation_id=conversation.id, payload=payload, recipients=[])
