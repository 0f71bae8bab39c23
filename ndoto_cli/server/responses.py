"""Response shapes for the OpenAPI document (documentation: the routes render with core.views).

Models allow extra keys: Chatwoot's shapes carry more than clients need, and every documented key
is present with the documented type.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorResponse(Shape):
    error: str
    field: str | None = None


class ContactOut(Shape):
    id: int
    name: str
    email: str | None
    phone_number: str | None
    identifier: str | None
    additional_attributes: dict[str, Any]
    custom_attributes: dict[str, Any]


class SenderOut(Shape):
    id: int
    name: str
    type: str


class MessageOut(Shape):
    id: int
    content: str | None
    inbox_id: int
    conversation_id: int
    message_type: int
    content_type: str
    content_attributes: dict[str, Any]
    status: str
    private: bool
    source_id: str | None
    created_at: int
    sender: SenderOut | None
    echo_id: str | None = None


class ConversationMetaOut(Shape):
    sender: ContactOut
    channel: str
    assignee: dict[str, Any] | None
    assignee_type: str | None


class OwnerOut(Shape):
    type: str | None
    id: int | None


class ConversationOut(Shape):
    id: int
    account_id: int
    inbox_id: int
    status: str
    meta: ConversationMetaOut
    messages: list[MessageOut]
    custom_attributes: dict[str, Any]
    additional_attributes: dict[str, Any]
    snoozed_until: int | None
    created_at: int
    timestamp: int
    owner: OwnerOut


class ConversationCounts(Shape):
    mine_count: int
    assigned_count: int
    unassigned_count: int
    all_count: int


class ConversationListData(Shape):
    meta: ConversationCounts
    payload: list[ConversationOut]


class ConversationList(Shape):
    data: ConversationListData


class CountsOut(Shape):
    meta: ConversationCounts


class StatusPayload(Shape):
    success: bool | None
    conversation_id: int
    current_status: str
    snoozed_until: int | None


class StatusOut(Shape):
    meta: dict[str, Any]
    payload: StatusPayload


class MessageList(Shape):
    meta: dict[str, Any]
    payload: list[MessageOut]


class BotOut(Shape):
    id: int
    name: str
    description: str
    bot_type: str
    bot_config: dict[str, Any]
    account_id: int | None
    system_bot: bool
    outgoing_url: str | None
    access_token: str | None = None
    secret: str | None = None


class AgentOut(Shape):
    id: int
    name: str
    email: str
    role: str


class InboxOut(Shape):
    id: int
    name: str
    channel_type: str
    inbox_identifier: str
    agent_bot_id: int | None
    website_token: str | None = None  # web-widget inboxes
    hmac_mandatory: bool | None = None
    widget: dict[str, Any] | None = None


class InboxList(Shape):
    payload: list[InboxOut]


class InboxBotOut(Shape):
    agent_bot: BotOut | dict[str, Any]


class ContactCreated(Shape):
    payload: dict[str, Any]


class ToolOut(Shape):
    id: int
    bot_id: int
    name: str
    description: str
    method: str
    url: str
    parameters: dict[str, Any]
    headers: dict[str, str]
    auth: str
    auth_header: str | None
    secret_set: bool
    timeout: float
    response_path: str
    max_chars: int


class ToolTestOut(Shape):
    tool: str
    ok: bool
    status: int | None
    duration_ms: float
    request: dict[str, Any] | None
    model_sees: str
    error: str | None


class Deleted(Shape):
    id: int
    deleted: bool


class DeliveryOut(Shape):
    id: int
    event: str
    agent_bot_id: int
    webhook_id: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None


class Retried(Shape):
    retried: int
    considered: int | None = None


class PublicMessageOut(Shape):
    id: int
    content: str | None
    message_type: int
    content_type: str
    content_attributes: dict[str, Any]
    created_at: int
    conversation_id: int


class PublicConversationOut(Shape):
    id: int
    inbox_id: int
    status: str
    messages: list[PublicMessageOut]


class PublicContactOut(Shape):
    id: int
    name: str
    source_id: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in ((401, "missing or invalid token, or not allowed for this kind of token"),
                       (403, "forbidden for this user or bot"), (404, "not found"), (409, "a name already taken in the account"),
                       (413, "the body is too large"), (422, "invalid input"), (429, "too many requests: see Retry-After"))
}


def doc(model: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model}, **ERRORS}
