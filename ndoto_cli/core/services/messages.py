"""Messages: create (the hot path), update, soft delete, submitted values; each fires its event."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ndoto_cli.core import limits, routing
from ndoto_cli.core.actors import Actor
from ndoto_cli.core.bundle import Bundle
from ndoto_cli.core.db import statements
from ndoto_cli.core.errors import Forbidden, Invalid, NotFound, TooManyRequests
from ndoto_cli.core.models import (
    ActorKind,
    AgentBot,
    Channel,
    Contact,
    Conversation,
    Message,
    MessageType,
    SenderType,
    Status,
    User,
)
from ndoto_cli.core.outbox.events import emit
from ndoto_cli.core.outbox.payloads import message_payload
from ndoto_cli.core.services import conversations as convs
from ndoto_cli.core.services import outcomes
from ndoto_cli.core.views import load_sender, message_json

MAX_CONTENT = limits.CONTENT
CONTENT_TYPES = (
    "text", "input_text", "input_textarea", "input_email", "input_select", "cards", "form", "article",
    "incoming_email", "input_csat", "integrations", "sticker", "voice_call",
)
MESSAGE_STATUSES = ("sent", "delivered", "read", "failed")
# What a customer may answer (submitted values): the questions bots and agents ask, shown to them.
ANSWERABLE = ("input_text", "input_textarea", "input_email", "input_select", "form", "cards", "input_csat")
ASKING_TYPES = (MessageType.outgoing, MessageType.template)


def parse_message_type(value: Any) -> int:
    """Accepts names or integers (Chatwoot clients send both)."""
    if isinstance(value, bool):
        raise Invalid("message_type must be incoming, outgoing or template", field="message_type")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        number = int(value)
        if number in (0, 1, 3):
            return number
    elif isinstance(value, str) and value.strip().lower() in ("incoming", "outgoing", "template"):
        return MessageType[value.strip().lower()]
    raise Invalid(f"message_type must be incoming, outgoing or template, not {value!r}", field="message_type")


def parse_attributes(bounds: limits.Limits, value: Any, field: str = "content_attributes") -> dict[str, Any]:
    """An object, or a JSON string holding one (multipart bodies send strings), within the limits."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        if len(value) > bounds.json_bytes:
            raise Invalid(f"{field} is more than {bounds.json_bytes} bytes", field=field)
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise Invalid(f"{field} is not valid JSON: {exc.msg}", field=field) from exc
        except RecursionError:
            raise Invalid(f"{field} is nested more than {bounds.json_depth} levels deep", field=field) from None
    return limits.json_object(bounds, value, field=field)


FLOOD_WINDOW = 60.0


def check_flood(conv: Conversation, *, now: float, per_minute: int) -> None:
    """Chatwoot's flood guard: at most ``per_minute`` messages a conversation takes in a minute.
    The count lives on the conversation row (a fixed one-minute window), which the write updates
    anyway, so the guard costs no statement and holds across processes."""
    started = conv.window_started_at or 0.0
    if started > now - FLOOD_WINDOW and (conv.window_messages or 0) >= per_minute:
        raise TooManyRequests(
            f"too many messages: this conversation takes at most {per_minute} a minute", retry_after=started + FLOOD_WINDOW - now
        )


@dataclass
class MessageResult:
    message: Message
    bundle: Bundle
    sender: Contact | User | AgentBot | None

    def json(self, echo_id: str | None = None) -> dict[str, Any]:
        return message_json(self.message, display_id=self.bundle.conversation.display_id, sender=self.sender, echo_id=echo_id)


def _sender_for(bundle: Bundle, actor: Actor, message_type: int) -> tuple[SenderType | None, int | None]:
    if message_type == MessageType.incoming:
        return SenderType.contact, bundle.contact.id
    if actor.kind == ActorKind.user:
        return SenderType.user, actor.id
    if actor.kind == ActorKind.agent_bot:
        return SenderType.agent_bot, actor.id
    return None, None


async def _sender_obj(session: AsyncSession, bundle: Bundle, kind: SenderType | None, sender_id: int | None) -> Any:
    if kind == SenderType.contact:
        return bundle.contact
    if kind == SenderType.user:
        return await session.get(User, sender_id)
    if kind == SenderType.agent_bot:
        return bundle.bot(sender_id) or await session.get(AgentBot, sender_id)  # type: ignore[arg-type]
    return None


@dataclass
class _Draft:
    """A message that passed validation, before it is written."""

    kind: MessageType
    content: str | None
    content_type: str
    attributes: dict[str, Any]
    additional_attributes: dict[str, Any]
    private: bool
    source_id: str | None


def _validate(
    session: AsyncSession, bundle: Bundle, actor: Actor, *, content: Any, message_type: Any, private: Any,
    content_type: Any, content_attributes: Any, additional_attributes: Any, source_id: Any,
) -> _Draft:
    """Every check of the message itself (nothing is written yet)."""
    kind = parse_message_type(message_type)
    if not isinstance(private, bool):
        raise Invalid("private must be true or false", field="private")
    bounds = limits.of(session)
    content = limits.text(content, field="content", max_length=MAX_CONTENT)
    source_id = limits.text(source_id, field="source_id", max_length=limits.IDENTIFIER)
    if content_type not in CONTENT_TYPES:
        raise Invalid(f"unknown content_type {str(content_type)[:40]!r}", field="content_type")
    attributes = parse_attributes(bounds, content_attributes)
    if "submitted_values" in attributes and kind != MessageType.incoming:
        raise Invalid("submitted_values are the customer's answer: a new question has none", field="content_attributes")
    if additional_attributes is not None:
        limits.json_object(bounds, additional_attributes, field="additional_attributes")
    if not (content and content.strip()) and not attributes:
        raise Invalid("content must not be empty", field="content")
    if kind == MessageType.incoming and private:
        raise Invalid("an incoming message cannot be private", field="private")
    if kind == MessageType.incoming and actor.kind != ActorKind.contact and bundle.inbox.channel_type != Channel.api:
        raise Invalid("Incoming messages are only allowed in Api inboxes", field="message_type")
    return _Draft(kind, content, content_type, attributes, additional_attributes or {}, private, source_id)


async def _hand_over(session: AsyncSession, bundle: Bundle, actor: Actor, draft: _Draft) -> Bundle:
    """What a message does to its conversation's owner: a customer's message on a resolved or
    snoozed conversation reopens it (back to the bot when one is active); a human's public reply
    on a bot-owned conversation takes it over. Returns the bundle to go on with."""
    conv = bundle.conversation
    reopen = draft.kind == MessageType.incoming and conv.status in (Status.resolved, Status.snoozed)
    takeover = (
        actor.is_user and draft.kind == MessageType.outgoing and not draft.private and routing.owner_bot_id(bundle) is not None
    )
    if not (reopen or takeover):
        return bundle
    if not bundle.attached:  # these rare branches change the conversation through the ORM: load it attached
        bundle = await convs.load(session, account_id=conv.account_id, display_id=conv.display_id)
    if reopen:
        await convs.apply_status(
            session, bundle, routing.status_after_reopen(bundle), actor=actor, owner_before=routing.owner_bot_id(bundle),
            activity="Conversation was reopened by a new message from the contact",
        )
    else:
        await convs.assign_user(
            session, account_id=conv.account_id, display_id=conv.display_id, user_id=actor.id, actor=actor, bundle=bundle
        )
    return bundle


async def _insert(session: AsyncSession, bundle: Bundle, actor: Actor, draft: _Draft) -> Message:
    """The message row, and the conversation's activity time and flood window (two statements on
    SQLite, one on PostgreSQL)."""
    conv = bundle.conversation
    sender_type, sender_id = _sender_for(bundle, actor, draft.kind)
    now = time.time()
    values: dict[str, Any] = {
        "account_id": conv.account_id, "inbox_id": conv.inbox_id, "conversation_id": conv.id, "message_type": draft.kind,
        "content": draft.content, "content_type": draft.content_type, "content_attributes": draft.attributes,
        "additional_attributes": draft.additional_attributes, "private": draft.private, "status": "sent",
        "sender_type": sender_type, "sender_id": sender_id, "source_id": draft.source_id, "created_at": now, "updated_at": now,
    }
    in_window = (conv.window_started_at or 0.0) > now - FLOOD_WINDOW
    raw = await statements.raw(session)
    values["id"] = await raw.insert_message(
        {**values, "content_attributes": json.dumps(draft.attributes), "additional_attributes": json.dumps(draft.additional_attributes)},
        window=now - FLOOD_WINDOW,
    )
    written = {
        "last_activity_at": now, "updated_at": now,
        "window_messages": (conv.window_messages or 0) + 1 if in_window else 1,
        "window_started_at": conv.window_started_at if in_window else now,
    }
    for field, value in written.items():
        if bundle.attached:
            set_committed_value(conv, field, value)  # already written: don't let the ORM write it again
        else:
            setattr(conv, field, value)
    return statements.build(Message, values)


async def create_message(
    session: AsyncSession,
    *,
    account_id: int,
    display_id: int,
    actor: Actor,
    content: str | None,
    message_type: Any = "outgoing",
    private: bool = False,
    content_type: str = "text",
    content_attributes: Any = None,
    additional_attributes: dict[str, Any] | None = None,
    source_id: str | None = None,
    bundle: Bundle | None = None,
) -> MessageResult:
    """Add a message and fire ``message_created`` to the bot(s) that own the conversation.

    Rules: incoming messages come from the contact (an agent or bot may post one only in an API
    inbox, as Chatwoot); a bot writes where the ownership rule lets it; a conversation takes a
    bounded number of messages a minute; then :func:`_hand_over` says what the message does to
    the conversation's owner. The hot path reads the conversation and its neighbours in one raw
    statement and writes in two.
    """
    limits.row_id(display_id, what="conversation")
    if bundle is None:
        bundle = await statements.fetch_bundle(session, account_id=account_id, display_id=display_id) or await convs.load(
            session, account_id=account_id, display_id=display_id
        )
    draft = _validate(
        session, bundle, actor, content=content, message_type=message_type, private=private, content_type=content_type,
        content_attributes=content_attributes, additional_attributes=additional_attributes, source_id=source_id,
    )
    await convs.check_bot_may_act(bundle, actor, "note" if draft.private else "reply")
    check_flood(bundle.conversation, now=time.time(), per_minute=limits.of(session).messages_per_minute)
    bundle = await _hand_over(session, bundle, actor, draft)
    owner = routing.owner_bot_id(bundle)
    message = await _insert(session, bundle, actor, draft)
    if actor.is_bot and owner == actor.id and draft.kind == MessageType.outgoing and not draft.private:
        await outcomes.bot_answered(session, bundle, bot_id=actor.id, at=message.created_at)  # type: ignore[arg-type]
    sender = await _sender_obj(session, bundle, message.sender_type, message.sender_id)
    await _emit_message(session, "message_created", message, bundle=bundle, sender=sender, actor=actor, owner=owner)
    return MessageResult(message, bundle, sender)


async def _emit_message(
    session: AsyncSession,
    name: str,
    message: Message,
    *,
    bundle: Bundle,
    sender: Any,
    actor: Actor,
    owner: int | None,
    changed: list[dict[str, Any]] | None = None,
) -> None:
    if not message.private and message.message_type != MessageType.activity:
        last = message_json(message, display_id=bundle.conversation.display_id, sender=sender)
    else:
        last = await convs.last_message_json(session, bundle)
    payload = message_payload(name, message, bundle=bundle, sender=sender, last_message=last, actor=actor)
    if changed is not None:
        payload["changed_attributes"] = changed
    # Activity messages are never sent to bots (as Chatwoot); the event row still feeds live views.
    bots = [] if message.message_type == MessageType.activity else await convs.deliverable(session, routing.recipients(owner, owner), bundle)
    await emit(
        session, name=name, account_id=message.account_id, conversation_id=message.conversation_id, payload=payload, recipients=bots
    )


async def get_message(session: AsyncSession, *, bundle: Bundle, message_id: int) -> Message:
    message = await session.get(Message, limits.row_id(message_id, what="message"))
    if message is None or message.conversation_id != bundle.conversation.id:
        raise NotFound(f"message {message_id} not found in conversation {bundle.conversation.display_id}")
    return message


async def update_message(
    session: AsyncSession,
    *,
    account_id: int,
    display_id: int,
    message_id: int,
    actor: Actor,
    content: str | None = None,
    status: str | None = None,
    external_error: str | None = None,
    content_attributes: Any = None,
    delete: bool = False,
) -> MessageResult:
    """Edit content, delivery status or attributes, or soft-delete; fires ``message_updated``."""
    bundle = await convs.load(session, account_id=account_id, display_id=display_id)
    await convs.check_bot_may_act(bundle, actor, "update")
    message = await get_message(session, bundle=bundle, message_id=message_id)
    if message.message_type == MessageType.activity:
        raise Forbidden("activity messages cannot be changed")
    changed: list[dict[str, Any]] = []

    def change(field: str, value: Any) -> None:
        previous = getattr(message, field)
        if previous != value:
            changed.append({field: {"previous_value": previous, "current_value": value}})
            setattr(message, field, value)

    if delete:
        change("content", "This message was deleted")
        change("content_attributes", {**(message.content_attributes or {}), "deleted": True})
    else:
        if content is not None:
            content = limits.text(content, field="content", max_length=MAX_CONTENT)
            if not content or not content.strip():
                raise Invalid("content must not be empty", field="content")
            change("content", content)
        if status is not None:
            if status not in MESSAGE_STATUSES:
                raise Invalid(f"status must be one of {', '.join(MESSAGE_STATUSES)}", field="status")
            change("status", status)
            if external_error:
                external_error = limits.text(external_error, field="external_error", max_length=limits.SHORT_TEXT)
                change("content_attributes", {**(message.content_attributes or {}), "external_error": external_error})
        if content_attributes is not None:
            given = parse_attributes(limits.of(session), content_attributes)
            if "submitted_values" in given and message.content_type == "input_csat" and actor.kind != ActorKind.contact:
                raise Forbidden("a rating is the customer's: only the customer answers a rating question")
            merged = {**(message.content_attributes or {}), **given}
            change("content_attributes", limits.json_object(limits.of(session), merged, field="content_attributes"))
        if not changed and content is None and status is None and content_attributes is None:
            raise Invalid("nothing to update: give content, status or content_attributes")
    if changed:
        message.updated_at = time.time()
        await session.flush()
        sender = await load_sender(session, message)
        await _emit_message(
            session, "message_updated", message, bundle=bundle, sender=sender, actor=actor,
            owner=routing.owner_bot_id(bundle), changed=changed,
        )
    return MessageResult(message, bundle, await load_sender(session, message))


async def submit_values(
    session: AsyncSession, *, bundle: Bundle, message_id: int, submitted_values: Any, actor: Actor
) -> MessageResult:
    """A customer answers an input_select or form, or rates the conversation (input_csat: the
    rating is also booked for the figures): stored in content_attributes.submitted_values."""
    if not isinstance(submitted_values, (list, dict)):
        raise Invalid("submitted_values must be a list or an object", field="submitted_values")
    limits.json_value(limits.of(session), submitted_values, field="submitted_values")
    message = await get_message(session, bundle=bundle, message_id=message_id)
    if message.private or message.message_type not in ASKING_TYPES or message.content_type not in ANSWERABLE:
        # Only a question the customer was shown takes an answer; a note's existence stays hidden.
        raise NotFound(f"message {message_id} not found, or it asks for no answer")
    if message.content_type == "input_csat":
        rating, feedback = outcomes.parse_rating(submitted_values)
        await outcomes.rate(session, message=message, rating=rating, feedback=feedback)
        submitted_values = {"csat_survey_response": {"rating": rating, "feedback_message": feedback}}
    return await update_message(
        session,
        account_id=bundle.conversation.account_id,
        display_id=bundle.conversation.display_id,
        message_id=message_id,
        actor=actor,
        content_attributes={"submitted_values": submitted_values},
    )


async def list_messages(
    session: AsyncSession, *, conversation_id: int, before: int | None = None, after: int | None = None, limit: int = 20
) -> list[Message]:
    """Chatwoot paging: latest 20; ``before`` -> 20 older; ``after`` -> up to 100 newer; oldest first."""
    query = select(Message).where(Message.conversation_id == conversation_id)
    if before is not None:
        query = query.where(Message.id < before)
    if after is not None:
        query = query.where(Message.id > after)
        rows = (await session.execute(query.order_by(Message.id).limit(100 if before is None else 1000))).scalars()
        return list(rows)
    rows = (await session.execute(query.order_by(Message.id.desc()).limit(limit))).scalars()  # type: ignore[union-attr]
    return list(reversed(list(rows)))
