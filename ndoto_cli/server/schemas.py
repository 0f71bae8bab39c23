"""Request bodies. Lenient where Chatwoot clients are (ids as numeric strings, booleans as
"true"/"false"), strict where it matters (unknown message types, oversized content).

The bounds here document the API (OpenAPI, schemathesis) and answer early; the rules themselves
are core's (``core.limits``, the services), which every front end goes through.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from ndoto_cli.core import limits

MAX_ID = limits.MAX_ID
Id = Annotated[int, Path(ge=0, le=MAX_ID)]
OptId = Annotated[int | None, Query(ge=0, le=MAX_ID)]
DbId = Annotated[int, Field(ge=0, le=MAX_ID)]
Page = Annotated[int, Query(ge=1, le=1_000_000, description="Page of 25, from 1.")]
Name = Annotated[str, Field(max_length=limits.NAME)]
Ident = Annotated[str, Field(max_length=limits.IDENTIFIER)]
Url = Annotated[str, Field(max_length=limits.URL)]
Content = Annotated[str, Field(max_length=limits.CONTENT)]
Timestamp = Annotated[int, Field(ge=0, le=int(limits.MAX_TIMESTAMP))]
Attributes = dict[str, Any]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class MessageCreate(Body):
    content: Content | None = None
    message_type: Annotated[str, Field(max_length=20)] | Annotated[int, Field(ge=0, le=3)] = "outgoing"
    private: bool = False
    content_type: Annotated[str, Field(max_length=40)] = "text"
    content_attributes: Attributes | Annotated[str, Field(max_length=1_048_576)] | None = None
    echo_id: Ident | None = None
    source_id: Ident | None = None


class MessageUpdate(Body):
    content: Content | None = None
    status: Literal["sent", "delivered", "read", "failed"] | None = None
    external_error: Annotated[str, Field(max_length=limits.SHORT_TEXT)] | None = None
    content_attributes: Attributes | None = None


Status = Annotated[str, Field(max_length=20)]


class StatusChange(Body):
    status: Status | None = None
    snoozed_until: Timestamp | None = None


class ConversationStatusPatch(Body):
    """The product document's form: ``PATCH /conversations {id, status}``."""

    id: DbId
    status: Status | None = None
    snoozed_until: Timestamp | None = None


class ConversationUpdate(Body):
    status: Status | None = None
    snoozed_until: Timestamp | None = None
    priority: Annotated[str, Field(max_length=20)] | None = None
    custom_attributes: Attributes | None = None
    additional_attributes: Attributes | None = None


class ConversationCreate(Body):
    inbox_id: DbId | None = None
    contact_id: DbId | None = None
    source_id: Ident | None = None
    status: Status | None = None
    assignee_id: DbId | None = None
    additional_attributes: Attributes | None = None
    custom_attributes: Attributes | None = None
    message: Attributes | None = None


class Assignment(Body):
    assignee_id: DbId | None = None
    assignee_type: str | None = None


class Typing(Body):
    typing_status: Literal["on", "off", "recording"]
    is_private: bool = False


BotType = Annotated[str, Field(max_length=20)] | Annotated[int, Field(ge=0, le=1)]
Seconds = Annotated[float, Field(gt=0, le=300)]


class BotCreate(Body):
    name: Annotated[str, Field(min_length=1, max_length=limits.NAME)]
    description: Annotated[str, Field(max_length=limits.SHORT_TEXT)] = ""
    outgoing_url: Url | None = None
    bot_type: BotType = "webhook"
    bot_config: Attributes | None = None
    timeout: Seconds | None = None
    keep_pending_on_failure: bool | None = None
    account_id: DbId | None = None  # platform API only: refused (system bots belong to no account)


class BotUpdate(Body):
    name: Annotated[str, Field(min_length=1, max_length=limits.NAME)] | None = None
    description: Annotated[str, Field(max_length=limits.SHORT_TEXT)] | None = None
    outgoing_url: Url | None = None
    bot_type: BotType | None = None
    bot_config: Attributes | None = None
    timeout: Seconds | None = None
    keep_pending_on_failure: bool | None = None


class ToolUpdate(Body):
    """An AI bot's HTTP tool (core.ai.tools checks every rule; the bounds here document them)."""

    name: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    description: Annotated[str, Field(max_length=limits.SHORT_TEXT)] | None = None
    url: Url | None = None
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "get", "post", "put", "patch", "delete"] | None = None
    parameters: Attributes | None = None
    headers: dict[str, Annotated[str, Field(max_length=4096)]] | None = None
    auth: Literal["none", "bearer", "basic", "api_key", "api-key"] | None = None
    auth_header: Annotated[str, Field(max_length=100)] | None = None
    secret: Annotated[str, Field(max_length=4096)] | None = Field(default=None, description="Write-only: never in an answer.")
    timeout: Annotated[float, Field(ge=0.1, le=60)] | None = None
    response_path: Annotated[str, Field(max_length=limits.NAME)] | None = None
    max_chars: Annotated[int, Field(ge=100, le=20_000)] | None = None


class ToolCreate(ToolUpdate):
    name: Annotated[str, Field(min_length=1, max_length=64)]  # type: ignore[assignment]
    description: Annotated[str, Field(min_length=1, max_length=limits.SHORT_TEXT)]  # type: ignore[assignment]
    url: Url  # type: ignore[assignment]


class ToolTest(Body):
    arguments: Attributes = Field(default_factory=dict)


class InboxCreate(Body):
    name: Annotated[str, Field(min_length=1, max_length=limits.NAME)]
    channel: Attributes | Annotated[str, Field(max_length=40)] | None = None


class InboxUpdate(Body):
    name: Annotated[str, Field(min_length=1, max_length=limits.NAME)] | None = None
    csat_survey_enabled: bool | None = None


class SetAgentBot(Body):
    agent_bot: DbId | None


class ContactCreate(Body):
    name: Name | None = None
    email: Annotated[str, Field(max_length=limits.EMAIL)] | None = None
    phone_number: Ident | None = None
    identifier: Ident | None = None
    custom_attributes: Attributes | None = None
    additional_attributes: Attributes | None = None
    inbox_id: DbId | None = None
    source_id: Ident | None = None


class PublicContactCreate(Body):
    source_id: Ident | None = None
    identifier: Ident | None = None
    identifier_hash: Annotated[str, Field(max_length=128)] | None = None  # needed with identifier
    name: Name | None = None
    email: Annotated[str, Field(max_length=limits.EMAIL)] | None = None
    phone_number: Ident | None = None
    custom_attributes: Attributes | None = None


class PublicConversationCreate(Body):
    custom_attributes: Attributes | None = None


class PublicMessageCreate(Body):
    content: Annotated[str, Field(min_length=1, max_length=limits.CONTENT)]
    echo_id: Ident | None = None


class SubmittedValues(Body):
    submitted_values: list[Any] | Attributes


class WidgetEvent(Body):
    name: Annotated[str, Field(max_length=64)] = "webwidget.triggered"
    event_info: Attributes = Field(default_factory=dict)


AI_CONFIG_KEYS = (
    "system_prompt", "model", "api_base", "api_key", "temperature", "max_exchanges", "handoff_keywords", "handoff_message",
    "batch_wait", "decline_topics", "max_answer_chars", "resolve_after", "languages", "handoff_messages",
)


def bot_changes(body: BotCreate | BotUpdate) -> dict[str, Any]:
    """A bot body as the service's settings: the common fields, and the AI settings that travel
    in Chatwoot's ``bot_config`` object (unknown keys there are ignored, as Chatwoot does).
    One function for the account and the platform routes."""
    config = body.bot_config or {}
    changes = {
        "name": body.name, "description": body.description, "outgoing_url": body.outgoing_url,
        "timeout": body.timeout, "keep_pending_on_failure": body.keep_pending_on_failure,
        "bot_type": str(body.bot_type) if body.bot_type is not None else None,
        **{k: v for k, v in config.items() if k in AI_CONFIG_KEYS},
    }
    return changes
