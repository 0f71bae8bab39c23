"""Public API for customers: keyed by the inbox identifier and the contact's source_id, no token.

Messages posted here are always incoming, from the contact.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ndoto_cli.core.bundle import load_bundle
from ndoto_cli.core.errors import Invalid, NotFound, TooManyRequests
from ndoto_cli.core.models import Contact, Conversation
from ndoto_cli.core.services import contacts, conversations, customers, inboxes, messages
from ndoto_cli.core.views import contact_json, load_sender, message_json
from ndoto_cli.server.auth import client_key
from ndoto_cli.server.deps import JSON, Db
from ndoto_cli.server.responses import PublicContactOut, PublicConversationOut, PublicMessageOut, doc
from ndoto_cli.server.route import PublicRoute
from ndoto_cli.server.schemas import (
    Id,
    PublicContactCreate,
    PublicConversationCreate,
    PublicMessageCreate,
    SubmittedValues,
    WidgetEvent,
)

router = APIRouter(prefix="/public/api/v1/inboxes/{inbox_identifier}", tags=["public"], route_class=PublicRoute)


def _public_message(message: Any, display_id: int, sender: Any, echo_id: str | None = None) -> JSON:
    full = message_json(message, display_id=display_id, sender=sender, echo_id=echo_id)
    keep = ("id", "content", "message_type", "content_type", "content_attributes", "created_at", "conversation_id", "sender", "echo_id")
    return {k: full[k] for k in keep if k in full}


async def _contact(s: Any, inbox_identifier: str, source_id: str) -> tuple[Any, Any, Contact]:
    inbox = await inboxes.get_inbox_by_identifier(s, identifier=inbox_identifier)
    link = await contacts.get_contact_inbox(s, inbox_id=inbox.id, source_id=source_id)
    contact = await s.get(Contact, link.contact_id)
    return inbox, link, contact


async def _conversation(s: Any, inbox: Any, contact: Contact, conversation_id: Id) -> Any:
    bundle = await conversations.load(s, account_id=inbox.account_id, display_id=conversation_id)
    if bundle.conversation.contact_id != contact.id or bundle.conversation.inbox_id != inbox.id:
        raise NotFound("conversation not found")
    return bundle


def _conversation_json(bundle: Any, last: list[JSON]) -> JSON:
    conv = bundle.conversation
    return {
        "id": conv.display_id,
        "uuid": conv.uuid,
        "inbox_id": conv.inbox_id,
        "status": conv.status,
        "contact_last_seen_at": 0,
        "agent_last_seen_at": 0,
        "messages": last,
        "contact": contact_json(bundle.contact),
    }


@router.post("/contacts", responses=doc(PublicContactOut), summary="Create a contact in this inbox (an identifier needs its identifier_hash)")
async def create_contact(request: Request, db: Db, inbox_identifier: str, body: PublicContactCreate) -> JSON:
    wait = request.app.state.new_contacts.hit(client_key(request))
    if wait is not None:
        raise TooManyRequests("too many new contacts from this address: wait a little", retry_after=wait)

    async def go(s: Any) -> JSON:
        inbox = await inboxes.get_inbox_by_identifier(s, identifier=inbox_identifier)
        contact, link = await customers.create_public_contact(
            s, inbox=inbox, name=body.name, email=body.email, phone_number=body.phone_number, identifier=body.identifier,
            identifier_hash=body.identifier_hash, custom_attributes=body.custom_attributes, source_id=body.source_id,
        )
        return {**contact_json(contact), "source_id": link.source_id, "pubsub_token": None}

    return await db.write(go)


@router.get("/contacts/{source_id}", responses=doc(PublicContactOut), summary="Show the contact")
async def show_contact(db: Db, inbox_identifier: str, source_id: str) -> JSON:
    async with db.read() as s:
        _inbox, link, contact = await _contact(s, inbox_identifier, source_id)
    return {**contact_json(contact), "source_id": link.source_id, "pubsub_token": None}


@router.get("/contacts/{source_id}/conversations", responses=doc(list[PublicConversationOut]), summary="The contact's conversations in this inbox")
async def list_conversations(db: Db, inbox_identifier: str, source_id: str) -> list[JSON]:
    from sqlalchemy import select

    async with db.read() as s:
        inbox, _link, contact = await _contact(s, inbox_identifier, source_id)
        rows = (
            await s.execute(
                select(Conversation).where(Conversation.inbox_id == inbox.id, Conversation.contact_id == contact.id).order_by(Conversation.id)
            )
        ).scalars().all()
        out = []
        for conv in rows:
            bundle = await load_bundle(s, conv)
            visible = await customers.contact_thread(s, conversation_id=conv.id, limit=20)  # type: ignore[arg-type]
            out.append(_conversation_json(bundle, [_public_message(m, conv.display_id, await load_sender(s, m)) for m in visible]))
    return out


@router.post("/contacts/{source_id}/conversations", responses=doc(PublicConversationOut), summary="Start a conversation")
async def create_conversation(
    db: Db, inbox_identifier: str, source_id: str, body: PublicConversationCreate | None = None
) -> JSON:
    async def go(s: Any) -> JSON:
        inbox, _link, contact = await _contact(s, inbox_identifier, source_id)
        bundle = await conversations.create_conversation(
            s, account_id=inbox.account_id, inbox_id=inbox.id, contact_id=contact.id, source_id=source_id,
            actor=customers.contact_actor(contact), custom_attributes=(body.custom_attributes if body else None),
        )
        return _conversation_json(bundle, [])

    return await db.write(go)


@router.get("/contacts/{source_id}/conversations/{conversation_id}/messages", responses=doc(list[PublicMessageOut]), summary="Messages (private notes hidden)")
async def list_messages(db: Db, inbox_identifier: str, source_id: str, conversation_id: Id) -> list[JSON]:
    async with db.read() as s:
        inbox, _link, contact = await _contact(s, inbox_identifier, source_id)
        bundle = await _conversation(s, inbox, contact, conversation_id)
        rows = await customers.contact_thread(s, conversation_id=bundle.conversation.id, limit=100)
        return [_public_message(m, conversation_id, await load_sender(s, m)) for m in rows]


@router.post("/contacts/{source_id}/conversations/{conversation_id}/messages", responses=doc(PublicMessageOut), summary="Send a message as the contact")
async def create_message(
    request: Request, db: Db, inbox_identifier: str, source_id: str, conversation_id: Id, body: PublicMessageCreate
) -> JSON:
    wait = request.app.state.public_contacts.hit(f"{inbox_identifier}/{source_id}")
    if wait is not None:
        raise TooManyRequests("too many messages from this contact: wait a little", retry_after=wait)

    async def go(s: Any) -> JSON:
        inbox, _link, contact = await _contact(s, inbox_identifier, source_id)
        bundle = await _conversation(s, inbox, contact, conversation_id)
        result = await messages.create_message(
            s, account_id=inbox.account_id, display_id=conversation_id, actor=customers.contact_actor(contact),
            content=body.content, message_type="incoming", bundle=bundle,
        )
        return _public_message(result.message, conversation_id, result.sender, body.echo_id)

    return await db.write(go)


@router.patch("/contacts/{source_id}/conversations/{conversation_id}/messages/{message_id}", responses=doc(PublicMessageOut), summary="Answer an input_select or form")
async def submit(
    db: Db, inbox_identifier: str, source_id: str, conversation_id: Id, message_id: Id, body: SubmittedValues
) -> JSON:
    async def go(s: Any) -> JSON:
        inbox, _link, contact = await _contact(s, inbox_identifier, source_id)
        bundle = await _conversation(s, inbox, contact, conversation_id)
        result = await messages.submit_values(
            s, bundle=bundle, message_id=message_id, submitted_values=body.submitted_values,
            actor=customers.contact_actor(contact),
        )
        return _public_message(result.message, conversation_id, result.sender)

    return await db.write(go)


@router.post("/contacts/{source_id}/events", responses=doc(dict), summary="A widget event: webwidget.triggered fires webwidget_triggered")
async def widget_event(db: Db, inbox_identifier: str, source_id: str, body: WidgetEvent) -> JSON:
    async def go(s: Any) -> JSON:
        inbox = await inboxes.get_inbox_by_identifier(s, identifier=inbox_identifier)
        if body.name not in ("webwidget.triggered", "webwidget_triggered"):
            raise Invalid("only the webwidget.triggered event is supported", field="name")
        event_id = await customers.trigger_widget(s, inbox=inbox, source_id=source_id, event_info=body.event_info)
        return {"event_id": event_id}

    return await db.write(go)
