"""Account API: conversations, messages, assignments (users and bots)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from ndoto_cli.core.errors import Invalid
from ndoto_cli.core.queries import list_conversations
from ndoto_cli.core.services import conversations, messages
from ndoto_cli.core.views import attrs, bot_json, contact_json, load_sender, message_json, render_conversation, user_json
from ndoto_cli.server.auth import Caller
from ndoto_cli.server.deps import JSON, AnyCaller, Db, UserCaller
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
from ndoto_cli.server.route import AccountRoute, json_or_form
from ndoto_cli.server.schemas import (
    Assignment,
    ConversationCreate,
    ConversationStatusPatch,
    ConversationUpdate,
    Id,
    MessageCreate,
    MessageUpdate,
    OptId,
    Page,
    StatusChange,
    Typing,
)

router = APIRouter(prefix="/api/v1/accounts/{account_id}", tags=["conversations"], route_class=AccountRoute)


@router.get("/conversations", responses=doc(ConversationList), summary="List conversations (users only)")
async def list_(
    db: Db, caller: UserCaller, account_id: Id, status: str = "open", inbox_id: OptId = None,
    assignee_type: str = "all", page: Page = 1,
) -> JSON:
    async with db.read() as s:
        result = await list_conversations(
            s, account_id=account_id, status=status, inbox_id=inbox_id, assignee_type=assignee_type,
            user_id=caller.principal.user.id, page=page,  # type: ignore[union-attr]
        )
    return {"data": {"meta": result.meta(), "payload": result.items}}


@router.get("/conversations/meta", responses=doc(CountsOut), summary="Conversation counts")
async def meta(db: Db, caller: UserCaller, account_id: Id, status: str = "open", inbox_id: OptId = None) -> JSON:
    async with db.read() as s:
        result = await list_conversations(
            s, account_id=account_id, status=status, inbox_id=inbox_id, user_id=caller.principal.user.id, page_size=0  # type: ignore[union-attr]
        )
    return {"meta": result.meta()}


@router.post("/conversations", responses=doc(ConversationOut), summary="Create a conversation (API inboxes; pending when a bot is active)")
async def create(db: Db, caller: AnyCaller, account_id: Id, body: ConversationCreate) -> JSON:
    async def go(s: Any) -> JSON:
        bundle = await conversations.create_api_conversation(
            s, account_id=account_id, actor=caller.actor, inbox_id=body.inbox_id, contact_id=body.contact_id,
            source_id=body.source_id, status=body.status, assignee_id=body.assignee_id,
            additional_attributes=body.additional_attributes, custom_attributes=body.custom_attributes, message=body.message,
        )
        return await render_conversation(s, bundle)

    return await db.write(go)


def _status_payload(bundle: Any) -> JSON:
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


async def _change_status(db: Any, caller: Caller, display_id: int, status: str | None, snoozed_until: int | None) -> Any:
    return await db.write(
        lambda s: conversations.change_status(
            s, account_id=caller.account_id, display_id=display_id, status=status, actor=caller.actor,
            snoozed_until=snoozed_until or None,
        )
    )


@router.patch("/conversations", responses=doc(StatusOut), summary="Change a conversation's status: the product document's {id, status} form")
async def patch_status(db: Db, caller: AnyCaller, account_id: Id, body: ConversationStatusPatch) -> JSON:
    return _status_payload(await _change_status(db, caller, body.id, body.status, body.snoozed_until))


@router.post("/conversations/{conversation_id}/toggle_status", responses=doc(StatusOut), summary="Set or toggle a conversation's status")
async def toggle_status(db: Db, caller: AnyCaller, account_id: Id, conversation_id: Id, body: StatusChange | None = None) -> JSON:
    body = body or StatusChange()
    return _status_payload(await _change_status(db, caller, conversation_id, body.status, body.snoozed_until))


@router.get("/conversations/{conversation_id}", responses=doc(ConversationOut), summary="Show a conversation")
async def show(db: Db, caller: AnyCaller, account_id: Id, conversation_id: Id) -> JSON:
    async with db.read() as s:
        bundle = await conversations.load_readable(s, account_id=account_id, display_id=conversation_id, actor=caller.actor)
        return await render_conversation(s, bundle)


@router.patch("/conversations/{conversation_id}", responses=doc(ConversationOut), summary="Update a conversation (status, priority, attributes)")
async def update(db: Db, caller: AnyCaller, account_id: Id, conversation_id: Id, body: ConversationUpdate) -> JSON:
    async def go(s: Any) -> JSON:
        if body.status is not None:
            await conversations.change_status(
                s, account_id=account_id, display_id=conversation_id, status=body.status, actor=caller.actor,
                snoozed_until=body.snoozed_until or None,
            )
        bundle = await conversations.update_conversation(
            s, account_id=account_id, display_id=conversation_id, actor=caller.actor, priority=body.priority,
            custom_attributes=body.custom_attributes, additional_attributes=body.additional_attributes,
        )
        return await render_conversation(s, bundle)

    return await db.write(go)


@router.post("/conversations/{conversation_id}/toggle_typing_status", responses=doc(dict), summary="Typing indicator on/off")
async def toggle_typing(db: Db, caller: AnyCaller, account_id: Id, conversation_id: Id, body: Typing) -> JSON:
    await db.write(
        lambda s: conversations.add_typing(
            s, account_id=account_id, display_id=conversation_id, actor=caller.actor, typing_status=body.typing_status,
            private=body.is_private,
        )
    )
    return {}


async def _assign(db: Any, caller: Caller, conversation_id: int, body: Assignment) -> Any:
    kind = (body.assignee_type or "User").replace("_", "").lower()
    if kind not in ("user", "agentbot"):
        raise Invalid("assignee_type must be User or AgentBot", field="assignee_type")

    async def go(s: Any) -> Any:
        if kind == "agentbot":
            bundle = await conversations.assign_bot(
                s, account_id=caller.account_id, display_id=conversation_id, bot_id=body.assignee_id, actor=caller.actor
            )
            return bot_json(bundle.conversation_bot) if bundle.conversation_bot is not None else None
        bundle = await conversations.assign_user(
            s, account_id=caller.account_id, display_id=conversation_id, user_id=body.assignee_id, actor=caller.actor
        )
        return user_json(bundle.assignee) if bundle.assignee is not None else None

    return await db.write(go)


@router.post("/conversations/{conversation_id}/assignments", responses=doc(AgentOut | BotOut | None), summary="Assign a human ({assignee_id}) or a bot ({assignee_id, assignee_type: AgentBot})")
async def assign_post(db: Db, caller: AnyCaller, account_id: Id, conversation_id: Id, body: Assignment) -> Any:
    return await _assign(db, caller, conversation_id, body)


@router.patch("/conversations/{conversation_id}/assignments", responses=doc(AgentOut | BotOut | None), summary="Same as POST (the product document's form)")
async def assign_patch(db: Db, caller: AnyCaller, account_id: Id, conversation_id: Id, body: Assignment) -> Any:
    return await _assign(db, caller, conversation_id, body)


@router.get("/conversations/{conversation_id}/messages", responses=doc(MessageList), summary="List messages (latest 20; before/after paging)")
async def list_messages(db: Db, caller: AnyCaller, account_id: Id, conversation_id: Id, before: OptId = None, after: OptId = None) -> JSON:
    async with db.read() as s:
        bundle = await conversations.load_readable(s, account_id=account_id, display_id=conversation_id, actor=caller.actor)
        rows = await messages.list_messages(s, conversation_id=bundle.conversation.id, before=before, after=after)  # type: ignore[arg-type]
        payload = [message_json(m, display_id=conversation_id, sender=await load_sender(s, m)) for m in rows]
    return {
        "meta": {
            "labels": [],
            "additional_attributes": attrs(bundle.conversation.additional_attributes),
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


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())


@router.post("/conversations/{conversation_id}/messages", responses=doc(MessageOut), summary="Create a message", openapi_extra=MESSAGE_BODY_SCHEMA)
async def create_message(request: Request, db: Db, caller: AnyCaller, account_id: Id, conversation_id: Id) -> JSON:
    try:
        body = MessageCreate.model_validate(await json_or_form(request))
    except ValidationError as exc:
        raise Invalid(_validation_message(exc)) from None
    result = await db.write(
        lambda s: messages.create_message(
            s, account_id=account_id, display_id=conversation_id, actor=caller.actor, content=body.content,
            message_type=body.message_type, private=body.private, content_type=body.content_type,
            content_attributes=body.content_attributes, source_id=body.source_id,
        )
    )
    return result.json(echo_id=body.echo_id)


@router.patch("/conversations/{conversation_id}/messages/{message_id}", responses=doc(MessageOut), summary="Edit a message or its delivery status")
async def update_message(db: Db, caller: UserCaller, account_id: Id, conversation_id: Id, message_id: Id, body: MessageUpdate) -> JSON:
    result = await db.write(
        lambda s: messages.update_message(
            s, account_id=account_id, display_id=conversation_id, message_id=message_id, actor=caller.actor,
            content=body.content, status=body.status, external_error=body.external_error,
            content_attributes=body.content_attributes,
        )
    )
    return result.json()


@router.delete("/conversations/{conversation_id}/messages/{message_id}", responses=doc(MessageOut), summary="Soft-delete a message")
async def delete_message(db: Db, caller: UserCaller, account_id: Id, conversation_id: Id, message_id: Id) -> JSON:
    result = await db.write(
        lambda s: messages.update_message(
            s, account_id=account_id, display_id=conversation_id, message_id=message_id, actor=caller.actor, delete=True
        )
    )
    return result.json()
