"""Public JSON shapes (Chatwoot's REST shapes): the REST responses, ``--json`` output and TUI data.

One function per shape so the API and the CLI cannot drift. Rules imposed by real client
libraries: timestamps are integer Unix seconds, ``message_type`` an integer 0-3, empty objects and
lists are ``{}``/``[]`` (never null). Secrets appear only where a caller asks for them explicitly.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ndoto_cli.core.bundle import Bundle, active_bot_of
from ndoto_cli.core.limits import depth
from ndoto_cli.core.models import (
    Account,
    AgentBot,
    AgentBotInbox,
    BotType,
    Contact,
    Conversation,
    Inbox,
    Message,
    MessageType,
    Status,
    User,
)
from ndoto_cli.core.routing import owner_bot_id

RENDER_DEPTH = 64  # deeper stored values are replaced when rendered (serializers stop near 255)
UNRENDERABLE = {"_ndoto_error": "this value is nested too deeply to show; it was stored before limits applied"}


def attrs(value: Any) -> Any:
    """A stored JSON attribute, safe to render: reading never fails on what is already stored
    (rows written before the limits of ``core.limits``, or by hand)."""
    if not value:
        return {}
    if not isinstance(value, dict):
        return {"_ndoto_error": "this value is not an object"}
    if depth(value, stop_at=RENDER_DEPTH + 1) > RENDER_DEPTH:
        return dict(UNRENDERABLE)
    return value


def ts(value: float | None) -> int | None:
    return int(value) if value is not None else None


def ts0(value: float | None) -> int:
    return int(value) if value else 0


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "keep_pending_on_bot_failure": account.keep_pending_on_bot_failure,
        "created_at": ts(account.created_at),
    }


def contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "name": contact.name,
        "email": contact.email,
        "phone_number": contact.phone_number,
        "identifier": contact.identifier,
        "thumbnail": "",
        "availability_status": "offline",
        "blocked": False,
        "additional_attributes": attrs(contact.additional_attributes),
        "custom_attributes": attrs(contact.custom_attributes),
        "created_at": ts(contact.created_at),
        "last_activity_at": None,
    }


def contact_push(contact: Contact) -> dict[str, Any]:
    return {**contact_json(contact), "type": "contact"}


def user_json(user: User) -> dict[str, Any]:
    """Chatwoot's agent JSON."""
    return {
        "id": user.id,
        "account_id": user.account_id,
        "name": user.name,
        "available_name": user.name,
        "email": user.email,
        "role": user.role,
        "availability_status": "online",
        "auto_offline": True,
        "confirmed": True,
        "provider": "email",
        "thumbnail": "",
        "custom_attributes": {},
        "created_at": ts(user.created_at),
    }


def user_push(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "available_name": user.name,
        "email": user.email,
        "avatar_url": "",
        "thumbnail": "",
        "availability_status": "online",
        "type": "user",
    }


def bot_push(bot: AgentBot) -> dict[str, Any]:
    return {"id": bot.id, "name": bot.name, "avatar_url": "", "thumbnail": "", "type": "agent_bot"}


def bot_json(
    bot: AgentBot,
    *,
    access_token: str | None = None,
    include_secret: bool = False,
) -> dict[str, Any]:
    """Bot JSON. ``access_token`` only right after creation/reset (stored hashed, never readable)."""
    system = bot.account_id is None
    data: dict[str, Any] = {
        "id": bot.id,
        "name": bot.name,
        "description": bot.description,
        "thumbnail": "",
        "bot_type": bot.bot_type,
        "bot_config": {},
        "account_id": bot.account_id,
        "system_bot": system,
        "outgoing_url": bot.outgoing_url,
        "timeout": bot.timeout,
        "keep_pending_on_failure": bot.keep_pending_on_failure,
        "disabled_reason": bot.disabled_reason,
        "created_at": ts(bot.created_at),
        "updated_at": ts(bot.updated_at),
    }
    if bot.bot_type == BotType.ai_agent:
        data["bot_config"] = {
            "system_prompt": bot.system_prompt,
            "model": bot.model,
            "api_base": bot.api_base,
            "api_key_set": bool(bot.api_key),
            "temperature": bot.temperature,
            "max_exchanges": bot.max_exchanges,
            "handoff_keywords": list(bot.handoff_keywords or []),
            "handoff_message": bot.handoff_message,
            "batch_wait": bot.batch_wait,
            "decline_topics": list(bot.decline_topics or []),
            "max_answer_chars": bot.max_answer_chars,
            "resolve_after": bot.resolve_after,
            "languages": list(bot.languages or []),
            "handoff_messages": dict(bot.handoff_messages or {}),
        }
    if access_token is not None:
        data["access_token"] = access_token
    if include_secret:
        data["secret"] = bot.secret
    return data


def inbox_json(
    inbox: Inbox, link: AgentBotInbox | None = None, bot: AgentBot | None = None, *, widget: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An inbox; a web-widget inbox adds its ``website_token`` and widget settings (never the
    identity-verification secret: ``ndoto inboxes secret show`` prints it)."""
    out = {
        "id": inbox.id,
        "account_id": inbox.account_id,
        "name": inbox.name,
        "channel_type": inbox.channel_type,
        "inbox_identifier": inbox.identifier,
        "identifier": inbox.identifier,
        "agent_bot_id": active_bot_of(link),
        "agent_bot": bot_push(bot) if bot is not None else None,
        "csat_survey_enabled": bool(inbox.csat_survey),
        "created_at": ts(inbox.created_at),
    }
    if widget is not None:
        out.update(website_token=inbox.identifier, hmac_mandatory=bool(inbox.hmac_mandatory), widget=widget)
    return out


def sender_json(sender: Contact | User | AgentBot | None) -> dict[str, Any] | None:
    if sender is None:
        return None
    if isinstance(sender, Contact):
        return contact_push(sender)
    if isinstance(sender, User):
        return user_push(sender)
    return bot_push(sender)


def message_json(
    message: Message,
    *,
    display_id: int,
    sender: Contact | User | AgentBot | None,
    echo_id: str | None = None,
) -> dict[str, Any]:
    """REST message JSON (also the 'push' form nested in conversations)."""
    data: dict[str, Any] = {
        "id": message.id,
        "content": message.content,
        "account_id": message.account_id,
        "inbox_id": message.inbox_id,
        "conversation_id": display_id,
        "message_type": int(message.message_type),
        "content_type": message.content_type,
        "content_attributes": attrs(message.content_attributes),
        "additional_attributes": attrs(message.additional_attributes),
        "status": message.status,
        "private": bool(message.private),
        "source_id": message.source_id,
        "sender_type": _SENDER_CLASS.get(message.sender_type or ""),
        "sender_id": message.sender_id,
        "created_at": int(message.created_at),
        "updated_at": int(message.updated_at),
        "sender": sender_json(sender),
    }
    if echo_id is not None:
        data["echo_id"] = echo_id
    return data


_SENDER_CLASS = {"contact": "Contact", "user": "User", "agent_bot": "AgentBot"}


_SENDER_MODEL: dict[str, Any] = {"contact": Contact, "user": User, "agent_bot": AgentBot}


async def load_sender(session: AsyncSession, message: Message) -> Contact | User | AgentBot | None:
    model = _SENDER_MODEL.get(message.sender_type or "")
    if model is None or message.sender_id is None:
        return None
    return await session.get(model, message.sender_id)


async def last_public_message(session: AsyncSession, conversation_id: int) -> Message | None:
    return (
        await session.execute(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.private.is_(False),  # type: ignore[attr-defined]
                Message.message_type != MessageType.activity,
            )
            .order_by(Message.id.desc())  # type: ignore[union-attr]
            .limit(1)
        )
    ).scalar_one_or_none()


def assignee_meta(bundle: Bundle) -> tuple[dict[str, Any] | None, str | None]:
    if bundle.conversation_bot is not None:
        return bot_push(bundle.conversation_bot), "AgentBot"
    if bundle.assignee is not None:
        return user_push(bundle.assignee), "User"
    return None, None


def owner_json(bundle: Bundle) -> dict[str, Any]:
    """Who answers this conversation now: Ndoto's explicit answer to 'is the bot still on it?'."""
    if bundle.assignee is not None:
        return {"type": "user", "id": bundle.assignee.id, "name": bundle.assignee.name}
    bot_id = owner_bot_id(bundle)
    if bot_id is not None:
        bot = bundle.bot(bot_id)
        return {"type": "agent_bot", "id": bot_id, "name": bot.name if bot is not None else None}
    return {"type": None, "id": None, "name": None}


# -- Plain-text presenters: the CLI, the console and `ndoto chat` word things the same way; styling
# -- stays in each front end.

def owner_label(*, user: str | None, bot: str | None, status: str) -> str:
    """Who answers a conversation, in words: a human's name, a bot's, or who it waits for."""
    if user:
        return user
    if bot:
        return f"bot {bot}"
    return "nobody (resolved)" if status == Status.resolved else "waiting for a human"


def owner_text(conversation: dict[str, Any]) -> str:
    """:func:`owner_label` of a conversation JSON (its ``owner`` and ``status``)."""
    owner = conversation["owner"]
    return owner_label(
        user=owner["name"] if owner["type"] == "user" else None,
        bot=(owner.get("name") or f"#{owner['id']}") if owner["type"] == "agent_bot" else None,
        status=conversation["status"],
    )


def owner_phrase(conversation: dict[str, Any]) -> str:
    """The owner as a sentence's end: "answered by bot OrderBot", "answered by Ann", or whom it waits for."""
    label = owner_text(conversation)
    return f"answered by {label}" if conversation["owner"]["type"] in ("user", "agent_bot") else label


def message_kind(message: dict[str, Any]) -> str:
    """What a message is to a reader: activity, note, customer, bot, agent, rating (the question
    asked at resolution) or template."""
    if message["message_type"] == MessageType.activity:
        return "activity"
    if message["private"]:
        return "note"
    if message["message_type"] == MessageType.incoming:
        return "customer"
    if message.get("content_type") == "input_csat":
        return "rating"
    if message["message_type"] == MessageType.template:
        return "template"
    return "bot" if (message.get("sender") or {}).get("type") == "agent_bot" else "agent"


def rating_given(message: dict[str, Any]) -> str:
    """A rating question's answer as people read it ("rated 4/5: fast"), or "" (not answered)."""
    values = (message.get("content_attributes") or {}).get("submitted_values") if isinstance(message.get("content_attributes"), dict) else None
    answer = values.get("csat_survey_response") if isinstance(values, dict) else None
    if message.get("content_type") != "input_csat" or not isinstance(answer, dict) or not isinstance(answer.get("rating"), int):
        return ""
    feedback = answer.get("feedback_message")
    return f"the customer rated {answer['rating']}/5" + (f": {feedback}" if isinstance(feedback, str) and feedback else "")


def conversation_json(
    bundle: Bundle,
    *,
    last_message: dict[str, Any] | None,
) -> dict[str, Any]:
    """REST conversation JSON; ``last_message`` is the push form of the last public message."""
    conv: Conversation = bundle.conversation
    assignee, assignee_type = assignee_meta(bundle)
    messages = [last_message] if last_message is not None else []
    return {
        "id": conv.display_id,
        "uuid": conv.uuid,
        "account_id": conv.account_id,
        "inbox_id": conv.inbox_id,
        "status": conv.status,
        "meta": {
            "sender": contact_push(bundle.contact),
            "channel": bundle.inbox.channel_type,
            "assignee": assignee,
            "assignee_type": assignee_type,
            "team": None,
            "hmac_verified": bool(bundle.contact_inbox.hmac_verified),
        },
        "messages": messages,
        "last_non_activity_message": last_message,
        "additional_attributes": attrs(conv.additional_attributes),
        "custom_attributes": attrs(conv.custom_attributes),
        "labels": [],
        "muted": False,
        "can_reply": True,
        "snoozed_until": ts(conv.snoozed_until),
        "priority": conv.priority,
        "unread_count": 0,
        "agent_last_seen_at": 0,
        "assignee_last_seen_at": 0,
        "contact_last_seen_at": 0,
        "first_reply_created_at": None,
        "waiting_since": 0,
        "sla_policy_id": None,
        "created_at": int(conv.created_at),
        "updated_at": float(conv.updated_at),
        "timestamp": int(conv.last_activity_at),
        "last_activity_at": int(conv.last_activity_at),
        "assignee_id": conv.assignee_id,
        "assignee_agent_bot_id": conv.assignee_agent_bot_id,
        "contact_id": conv.contact_id,
        "owner": owner_json(bundle),
    }


async def render_conversation(session: AsyncSession, bundle: Bundle) -> dict[str, Any]:
    """Conversation JSON with its last public message loaded."""
    return (await render_conversations(session, [bundle]))[0]


async def render_conversations(session: AsyncSession, bundles: list[Bundle]) -> list[dict[str, Any]]:
    """Conversation JSON for a page: the last public messages in two statements and their senders
    in one per kind (a page of 25 was 75 statements, one query per row and per sender)."""
    if not bundles:
        return []
    inner = aliased(Message)
    latest = (
        select(inner.id)
        .where(
            inner.conversation_id == Conversation.id,
            inner.private.is_(False),  # type: ignore[attr-defined]
            inner.message_type != MessageType.activity,
        )
        .order_by(inner.id.desc())  # type: ignore[union-attr]
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )
    ids = [b.conversation.id for b in bundles]
    # The ids first, then the rows by their ids: given the ids as a subquery, PostgreSQL may
    # plan a merge join that walks the whole primary key of messages.
    wanted = [i for i in (await session.execute(select(latest).where(Conversation.id.in_(ids)))).scalars() if i is not None]  # type: ignore[union-attr]
    rows = (await session.execute(select(Message).where(Message.id.in_(wanted)))).scalars() if wanted else []  # type: ignore[union-attr]
    last = {m.conversation_id: m for m in rows}
    senders: dict[tuple[str, int], Contact | User | AgentBot] = {}
    for kind, model in _SENDER_MODEL.items():
        wanted_ids = {m.sender_id for m in last.values() if m.sender_type == kind and m.sender_id is not None}
        if wanted_ids:
            rows = (await session.execute(select(model).where(model.id.in_(wanted_ids)))).scalars()  # type: ignore[attr-defined]
            senders.update({(kind, int(row.id)): row for row in rows})
    out = []
    for bundle in bundles:
        message = last.get(bundle.conversation.id)
        last_json = None
        if message is not None:
            sender = senders.get((message.sender_type or "", message.sender_id or 0))
            last_json = message_json(message, display_id=bundle.conversation.display_id, sender=sender)
        out.append(conversation_json(bundle, last_message=last_json))
    return out
