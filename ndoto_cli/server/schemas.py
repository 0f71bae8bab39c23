"""Request bodies. Lenient where Chatwoot clients are (ids as numeric strings, booleans as
"true"/"false"), strict where it matters (unknown message types, oversized content)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

MAX_ID = 2**62  # larger ids cannot exist (SQLite integers); answered as not found, not as a crash
Id = Annotated[int, Path(ge=0, le=MAX_ID)]
OptId = Annotated[int | None, Query(ge=0, le=MAX_ID)]
DbId = Annotated[int, Field(ge=0, le=MAX_ID)]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class MessageCreate(Body):
    content: str | None = Field(default=None, max_length=150_000)
    message_type: str | int = "outgoing"
    private: bool = False
    content_type: str = "text"
    content_attributes: dict[str, Any] | str | None = None
    echo_id: str | None = None
    source_id: str | None = None


class MessageUpdate(Body):
    content: str | None = Field(default=None, max_length=150_000)
    status: Literal["sent", "delivered", "read", "failed"] | None = None
    external_error: str | None = None
    content_attributes: dict[str, Any] | None = None


class StatusChange(Body):
    status: str | None = None
    snoozed_until: int | None = None


class ConversationStatusPatch(Body):
    """The product document's form: ``PATCH /conversations {id, status}``."""

    id: DbId
    status: str | None = None
    snoozed_until: int | None = None


class ConversationUpdate(Body):
    status: str | None = None
    snoozed_until: int | None = None
    priority: str | None = None
    custom_attributes: dict[str, Any] | None = None
    additional_attributes: dict[str, Any] | None = None


class ConversationCreate(Body):
    inbox_id: DbId | None = None
    contact_id: DbId | None = None
    source_id: str | None = None
    status: str | None = None
    assignee_id: DbId | None = None
    additional_attributes: dict[str, Any] | None = None
    custom_attributes: dict[str, Any] | None = None
    message: dict[str, Any] | None = None


class Assignment(Body):
    assignee_id: DbId | None = None
    assignee_type: str | None = None


class Typing(Body):
    typing_status: Literal["on", "off", "recording"]
    is_private: bool = False


class BotCreate(Body):
    name: str = Field(min_length=1, max_length=255)
    description: str = ""
    outgoing_url: str | None = None
    bot_type: str | int = "webhook"
    bot_config: dict[str, Any] | None = None
    timeout: float | None = Field(default=None, gt=0, le=300)
    keep_pending_on_failure: bool | None = None
    account_id: DbId | None = None  # platform API only


class BotUpdate(Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = None
    outgoing_url: str | None = None
    bot_type: str | int | None = None
    bot_config: dict[str, Any] | None = None
    timeout: float | None = Field(default=None, gt=0, le=300)
    keep_pending_on_failure: bool | None = None


class InboxCreate(Body):
    name: str = Field(min_length=1, max_length=255)
    channel: dict[str, Any] | str | None = None


class SetAgentBot(Body):
    agent_bot: DbId | None


class ContactCreate(Body):
    name: str | None = None
    email: str | None = None
    phone_number: str | None = None
    identifier: str | None = None
    custom_attributes: dict[str, Any] | None = None
    additional_attributes: dict[str, Any] | None = None
    inbox_id: DbId | None = None
    source_id: str | None = None


class PublicContactCreate(Body):
    source_id: str | None = None
    identifier: str | None = None
    name: str | None = None
    email: str | None = None
    phone_number: str | None = None
    custom_attributes: dict[str, Any] | None = None


class PublicConversationCreate(Body):
    custom_attributes: dict[str, Any] | None = None


class PublicMessageCreate(Body):
    content: str = Field(min_length=1, max_length=150_000)
    echo_id: str | None = None


class SubmittedValues(Body):
    submitted_values: list[Any] | dict[str, Any]


class WidgetEvent(Body):
    name: str = "webwidget.triggered"
    event_info: dict[str, Any] = Field(default_factory=dict)


AI_CONFIG_KEYS = ("system_prompt", "model", "api_base", "temperature", "max_exchanges", "handoff_keywords", "handoff_message")


def bot_settings(config: dict[str, Any] | None) -> dict[str, Any]:
    """AI settings travel in Chatwoot's ``bot_config`` object."""
    return {k: v for k, v in (config or {}).items() if k in AI_CONFIG_KEYS}
