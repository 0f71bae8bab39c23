"""Account API: conversations, messages, assignments (users and bots)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from ndoto_cli.core import routing
from ndoto_cli.core.errors import Invalid, NotFound, Unauthorized
from ndoto_cli.core.models import Channel, User
from ndoto_cli.core.queries import list_conversations
from ndoto_cli.core.services import contacts, conversations, messages
from ndoto_cli.core.views import (
    bot_json,
    contact_json,
    load_sender,
    message_json,
    render_conversation,
    user_json,
)
from ndoto_cli.server.auth import Caller, account_caller
from ndoto_cli.server.responses import (
    AgentOut,
    BotOut,
    ConversationList,
    ConversationOut,
    CountsOut,
    MessageList,
    MessageOut,
    StatusOut,
    doc,
)
from ndoto_cli.server.schemas import (
    Assignment,
    ConversationCreate,
    ConversationStatusPatch,
    ConversationUpdate,
    Id,
    MessageCreate,
    MessageUpdate,
    OptId,
    StatusChange,
    Typing,
)

router = APIRouter(prefix="/api/v1/accounts/{account_id}", tags=["conversations"])

JSON = dict[str, Any]


async def _read_conversation(request: Request, caller: Caller, display_id: int) -> Any:
    db = request.app.state.db
    async with db.read() as s:
        bundle = await conversations.load(s, account_id=caller.account_id, display_id=display_id)
        if caller.is_bot and not routing.bot_may_read(bundle, caller.principal.bot.id):  # type: ignore[union-attr]
            raise Unauthorized("bots may read only the conversations they own")
        return bundle, await render_conversation(s, bundle)


@router.get("/conversations", responses=doc(ConversationList), summary="List conversations (users only)")
async def list_(
    request: Request,
    account_id: Id,
    status: str = "open",
    inbox_id: Id | None = None,
    assignee_type: str = "all",
    page: int = 1,
) -> JSON:
    caller = await account_caller(request, account_id)
    caller.require_user()
    async with request.app.state.db.read() as s:
        result = await list_conversations(
            s, account_id=account_id, status=status, inbox_id=inbox_id, assignee_type=assignee_type,
            user_id=caller.principal.user.id, page=page,  # type: ignore[union-attr]
        )
    return {"data": {"meta": result.meta(), "payload": result.items}}


@router.get("/conversations/meta", responses=doc(CountsOut), summary="Conversation counts")
async def meta(request: Request, account_id: Id, status: str = "open", inbox_id: Id | None = None) -> JSON:
    caller = await account_caller(request, account_id)
    caller.require_user()
    async with request.app.state.db.read() as s:
        result = await list_conversations(
            s, account_id=account_id, status=status, inbox_id=inbox_id, user_id=caller.principal.user.id, page_size=0  # type: ignore[union-attr]
        )
    return {"meta": result.meta()}


@router.post("/conversations", responses=doc(ConversationOut), summary="Create a conversation (API inboxes; pending when a bot is active)")
async def create(request: Request, account_id: Id, body: ConversationCreate) -> JSON:
    caller = await account_caller(request, account_id)
    db = request.app.state.db

    async def go(s: Any) -> Any:
        inbox_id, contact_id = body.inbox_id, body.contact_id
        if body.source_id and (inbox_id is None or contact_id is None):
            if inbox_id is None:
                raise Invalid("inbox_id is required", field="inbox_id")
            link = await contacts.get_contact_inbox(s, inbox_id=inbox_id, source_id=body.source_id)
            contact_id = link.contact_id
        if inbox_id is None:
            raise Invalid("inbox_id is required", field="inbox_id")
        if contact_id is None:
            raise Invalid("contact_id or source_id is required", field="contact_id")
        from ndoto_cli.core.services.inboxes import get_inbox

        inbox = await get_inbox(s, account_id=account_id, inbox_id=inbox_id)
        if inbox.channel_type != Channel.api.value:
            raise Invalid("conversations can be created through the API only in API inboxes", field="inbox_id")
        bundle = await conversations.create_conversation(
            s, account_id=account_id, inbox_id=inbox_id, contact_id=contact_id, actor=caller.actor,
            source_id=body.source_id, status=body.status, assignee_id=body.assignee_id,
            additional_attributes=body.additional_attributes, custom_attributes=body.custom_attributes,
        )
        if body.message and body.message.get("content"):
            await messages.create_message(
                s, account_id=account_id, display_id=bundle.conversation.display_id, actor=caller.actor,
                content=body.message.get("content"), message_type=body.message.get("message_type", "outgoing"),
                bundle=bundle,
            )
        return await render_conversation(s, bundle)

    return await db.write(go)


async def _status_payload(bundle: Any) -> JSON:
    conv = bundle.conversation
    return {
        "meta": {},
        "payload": {
            "success": True,
            "conversation_id": conv.display_id,
            "current_status": conv.status,
            "snoozed_until": int(conv.snoozed_until) if conv.snoozed_until else None,
        },
    }


async def _change_status(request: Request, caller: Caller, display_id: int, status: str | None, snoozed_until: int | None) -> Any:
    return await request.app.state.db.write(
        lambda s: conversations.change_status(
            s, account_id=caller.account_id, display_id=display_id, status=status, actor=caller.actor,
            snoozed_until=float(snoozed_until) if snoozed_until else None,
        )
    )


@router.patch("/conversations", responses=doc(StatusOut), summary="Change a conversation's status: the product document's {id, status} form")
async def patch_status(request: Request, account_id: Id, body: ConversationStatusPatch) -> JSON:
    caller = await account_caller(request, account_id)
    bundle = await _change_status(request, caller, body.id, body.status, body.snoozed_until)
    return await _status_payload(bundle)


@router.post("/conversations/{conversation_id}/toggle_status", responses=doc(StatusOut), summary="Set or toggle a conversation's status")
async def toggle_status(request: Request, account_id: Id, conversation_id: Id, body: StatusChange | None = None) -> JSON:
    caller = await account_caller(request, account_id)
    body = body or StatusChange()
    bundle = await _change_status(request, caller, conversation_id, body.status, body.snoozed_until)
    return await _status_payload(bundle)


@router.get("/conversations/{conversation_id}", responses=doc(ConversationOut), summary="Show a conversation")
async def show(request: Request, account_id: Id, conversation_id: Id) -> JSON:
    caller = await account_caller(request, account_id)
    _bundle, data = await _read_conversation(request, caller, conversation_id)
    return data


@router.patch("/conversations/{conversation_id}", responses=doc(ConversationOut), summary="Update a conversation (status, priority, attributes)")
async def update(request: Request, account_id: Id, conversation_id: Id, body: ConversationUpdate) -> JSON:
    caller = await account_caller(request, account_id)

    async def go(s: Any) -> JSON:
        if body.status is not None:
            await conversations.change_status(
                s, account_id=account_id, display_id=conversation_id, status=body.status, actor=caller.actor,
                snoozed_until=float(body.snoozed_until) if body.snoozed_until else None,
            )
        bundle = await conversations.update_conversation(
            s, account_id=account_id, display_id=conversation_id, actor=caller.actor, priority=body.priority,
            custom_attributes=body.custom_attributes, additional_attributes=body.additional_attributes,
        )
        return await render_conversation(s, bundle)

    return await request.app.state.db.write(go)


@router.post("/conversations/{conversation_id}/toggle_typing_status", responses=doc(dict), summary="Typing indicator on/off")
async def toggle_typing(request: Request, account_id: Id, conversation_id: Id, body: Typing) -> JSON:
    caller = await account_caller(request, account_id)
    async with request.app.state.db.read() as s:
        await conversations.add_typing(
            s, account_id=account_id, display_id=conversation_id, actor=caller.actor, typing_status=body.typing_status
        )
    return {}


async def _assign(request: Request, account_id: Id, conversation_id: Id, body: Assignment) -> Any:
    caller = await account_caller(request, account_id)
    kind = (body.assignee_type or "User").replace("_", "").lower()
    if kind not in ("user", "agentbot"):
        raise Invalid("assignee_type must be User or AgentBot", field="assignee_type")

    async def go(s: Any) -> Any:
        if kind == "agentbot":
            bundle = await conversations.assign_bot(
                s, account_id=account_id, display_id=conversation_id, bot_id=body.assignee_id, actor=caller.actor
            )
            return bot_json(bundle.conversation_bot) if bundle.conversation_bot is not None else None
        user_id = body.assignee_id
        if user_id is not None:
            user = await s.get(User, user_id)
            if user is None or user.account_id != account_id:
                raise NotFound(f"agent {user_id} not found in account {account_id}", field="assignee_id")
        bundle = await conversations.assign_user(
            s, account_id=account_id, display_id=conversation_id, user_id=user_id, actor=caller.actor
        )
        return user_json(bundle.assignee) if bundle.assignee is not None else None

    return await request.app.state.db.write(go)


@router.post("/conversations/{conversation_id}/assignments", responses=doc(AgentOut | BotOut | None), summary="Assign a human ({assignee_id}) or a bot ({assignee_id, assignee_type: AgentBot})")
async def assign_post(request: Request, account_id: Id, conversation_id: Id, body: Assignment) -> Any:
    return await _assign(request, account_id, conversation_id, body)


@router.patch("/conversations/{conversation_id}/assignments", responses=doc(AgentOut | BotOut | None), summary="Same as POST (the product document's form)")
async def assign_patch(request: Request, account_id: Id, conversation_id: Id, body: Assignment) -> Any:
    return await _assign(request, account_id, conversation_id, body)


@router.get("/conversations/{conversation_id}/messages", responses=doc(MessageList), summary="List messages (latest 20; before/after paging)")
async def list_messages(
    request: Request, account_id: Id, conversation_id: Id, before: OptId = None, after: OptId = None
) -> JSON:
    caller = await account_caller(request, account_id)
    async with request.app.state.db.read() as s:
        bundle = await conversations.load(s, account_id=account_id, display_id=conversation_id)
        if caller.is_bot and not routing.bot_may_read(bundle, caller.principal.bot.id):  # type: ignore[union-attr]
            raise Unauthorized("bots may read only the conversations they own")
        rows = await messages.list_messages(s, conversation_id=bundle.conversation.id, before=before, after=after)  # type: ignore[arg-type]
        payload = [message_json(m, display_id=conversation_id, sender=await load_sender(s, m)) for m in rows]
    return {
        "meta": {
            "labels": [],
            "additional_attributes": bundle.conversation.additional_attributes or {},
            "contact": contact_json(bundle.contact),
            "assignee": user_json(bundle.assignee) if bundle.assignee is not None else None,
            "agent_last_seen_at": 0,
            "assignee_last_seen_at": 0,
        },
        "payload": payload,
    }


MESSAGE_BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": MessageCreate.model_json_schema()},
            "multipart/form-data": {"schema": MessageCreate.model_json_schema()},
        },
    }
}


async def _body(request: Request) -> dict[str, Any]:
    """JSON or form/multipart bodies (Chatwoot clients send both)."""
    content_type = request.headers.get("content-type", "")
    if "multipart/form-data" in content_type or "application/x-www-form-urlencoded" in content_type:
        form = await request.form()
        data: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
        return data
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Invalid(f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise Invalid("body must be a JSON object")
    return data


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())


@router.post("/conversations/{conversation_id}/messages", responses=doc(MessageOut), summary="Create a message", openapi_extra=MESSAGE_BODY_SCHEMA)
async def create_message(request: Request, account_id: Id, conversation_id: Id) -> JSON:
    caller = await account_caller(request, account_id)
    try:
        body = MessageCreate.model_validate(await _body(request))
    except ValidationError as exc:
        raise Invalid(_validation_message(exc)) from None
    result = await request.app.state.db.write(
        lambda s: messages.create_message(
            s, account_id=account_id, display_id=conversation_id, actor=caller.actor, content=body.content,
            message_type=body.message_type, private=body.private, content_type=body.content_type,
            content_attributes=body.content_attributes, source_id=body.source_id,
        )
    )
    return result.json(echo_id=body.echo_id)


@router.patch("/conversations/{conversation_id}/messages/{message_id}", responses=doc(MessageOut), summary="Edit a message or its delivery status")
async def update_message(request: Request, account_id: Id, conversation_id: Id, message_id: Id, body: MessageUpdate) -> JSON:
    caller = await account_caller(request, account_id)
    caller.require_user()
    result = await request.app.state.db.write(
        lambda s: messages.update_message(
            s, account_id=account_id, display_id=conversation_id, message_id=message_id, actor=caller.actor,
            content=body.content, status=body.status, external_error=body.external_error,
            content_attributes=body.content_attributes,
        )
    )
    return result.json()


@router.delete("/conversations/{conversation_id}/messages/{message_id}", responses=doc(MessageOut), summary="Soft-delete a message")
async def delete_message(request: Request, account_id: Id, conversation_id: Id, message_id: Id) -> JSON:
    caller = await account_caller(request, account_id)
    caller.require_user()
    result = await request.app.state.db.write(
        lambda s: messages.update_message(
            s, account_id=account_id, display_id=conversation_id, message_id=message_id, actor=caller.actor, delete=True
        )
    )
    return result.json()
