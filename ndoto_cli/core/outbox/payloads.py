"""Webhook payloads in the exact shape of the product document (plus Chatwoot's extra keys).

Differences from REST JSON on purpose (the product document says so): ``message_type`` is a
string, ``created_at`` integer Unix seconds, ``sender.type`` is always present. Every sender kind
carries the same keys so a bot can read ``sender.email`` without checking the type first.
"""

from __future__ import annotations

from typing import Any

from ndoto_cli.core.actors import Actor
from ndoto_cli.core.bundle import Bundle
from ndoto_cli.core.models import AgentBot, Contact, Message, MessageType, User
from ndoto_cli.core.views import assignee_meta, attrs, contact_push, ts, ts0, user_push


def _account(bundle: Bundle) -> dict[str, Any]:
    return {"id": bundle.account.id, "name": bundle.account.name}


def _inbox(bundle: Bundle) -> dict[str, Any]:
    return {"id": bundle.inbox.id, "name": bundle.inbox.name, "channel": bundle.inbox.channel_type}


def _meta_sender(contact: Contact) -> dict[str, Any]:
    return contact_push(contact)


def webhook_sender(sender: Contact | User | AgentBot | None, bundle: Bundle) -> dict[str, Any] | None:
    if sender is None:
        return None
    base = {"avatar": "", "thumbnail": "", "identifier": None, "email": None, "phone_number": None}
    if isinstance(sender, Contact):
        return {
            **base,
            **contact_push(sender),
            "avatar": "",
            "account": _account(bundle),
            "type": "contact",
        }
    if isinstance(sender, User):
        return {**base, "id": sender.id, "name": sender.name, "email": sender.email, "type": "user"}
    return {**base, "id": sender.id, "name": sender.name, "type": "agent_bot"}


def conversation_data(bundle: Bundle, *, last_message: dict[str, Any] | None) -> dict[str, Any]:
    """Chatwoot's conversation webhook data (the nested ``conversation``)."""
    conv = bundle.conversation
    assignee, assignee_type = assignee_meta(bundle)
    ci = bundle.contact_inbox
    return {
        "id": conv.display_id,
        "account_id": conv.account_id,
        "inbox_id": conv.inbox_id,
        "status": conv.status,
        "assignee": user_push(bundle.assignee) if bundle.assignee is not None else None,
        "meta": {
            "sender": _meta_sender(bundle.contact),
            "channel": bundle.inbox.channel_type,
            "assignee": assignee,
            "assignee_type": assignee_type,
            "team": None,
            "hmac_verified": bool(ci.hmac_verified),
        },
        "channel": bundle.inbox.channel_type,
        "contact_inbox": {
            "id": ci.id,
            "contact_id": ci.contact_id,
            "inbox_id": ci.inbox_id,
            "source_id": ci.source_id,
            "created_at": ts(ci.created_at),
            "updated_at": ts(ci.created_at),
            "hmac_verified": bool(ci.hmac_verified),
            "pubsub_token": None,
        },
        "messages": [last_message] if last_message is not None else [],
        "labels": [],
        "additional_attributes": attrs(conv.additional_attributes),
        "custom_attributes": attrs(conv.custom_attributes),
        "snoozed_until": ts(conv.snoozed_until),
        "unread_count": 0,
        "first_reply_created_at": None,
        "priority": conv.priority,
        "waiting_since": 0,
        "agent_last_seen_at": 0,
        "contact_last_seen_at": 0,
        "last_activity_at": ts0(conv.last_activity_at),
        "timestamp": ts0(conv.last_activity_at),
        "created_at": int(conv.created_at),
        "updated_at": float(conv.updated_at),
        "can_reply": True,
        "assignee_agent_bot_id": conv.assignee_agent_bot_id,
    }


def message_payload(
    event: str,
    message: Message,
    *,
    bundle: Bundle,
    sender: Contact | User | AgentBot | None,
    last_message: dict[str, Any] | None,
    actor: Actor,
) -> dict[str, Any]:
    return {
        "event": event,
        "id": message.id,
        "content": message.content,
        "content_type": message.content_type,
        "message_type": MessageType(message.message_type).name,
        "created_at": int(message.created_at),
        "private": bool(message.private),
        "source_id": message.source_id,
        "additional_attributes": attrs(message.additional_attributes),
        "content_attributes": attrs(message.content_attributes),
        "sender": webhook_sender(sender, bundle),
        "inbox": _inbox(bundle),
        "conversation": conversation_data(bundle, last_message=last_message),
        "account": _account(bundle),
        "performed_by": actor.performed_by(),
    }


def conversation_payload(
    event: str,
    *,
    bundle: Bundle,
    last_message: dict[str, Any] | None,
    actor: Actor,
    changed_attributes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    data = conversation_data(bundle, last_message=last_message)
    data.update(
        {
            "event": event,
            "account": _account(bundle),
            "inbox": _inbox(bundle),
            "performed_by": actor.performed_by(),
        }
    )
    if changed_attributes is not None:
        data["changed_attributes"] = changed_attributes
    return data


def webwidget_payload(
    *,
    bundle_contact: Contact,
    contact_inbox_id: int,
    source_id: str,
    inbox: dict[str, Any],
    account: dict[str, Any],
    current_conversation: dict[str, Any] | None,
    event_info: dict[str, Any],
) -> dict[str, Any]:
    return {
        "event": "webwidget_triggered",
        "id": contact_inbox_id,
        "contact": contact_push(bundle_contact),
        "inbox": inbox,
        "account": account,
        "current_conversation": current_conversation,
        "source_id": source_id,
        "event_info": event_info,
        "performed_by": Actor.of_contact(bundle_contact).performed_by(),  # every event says who acted
    }
