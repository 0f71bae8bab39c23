"""The schema: one SQLModel table per entity (the read side and the migrations' source).

Times are stored as float Unix seconds: every wire format Ndoto speaks (webhooks, REST, CLI
JSON) uses Unix seconds, and floats keep ordering exact without timezone handling.
Secrets (token hashes, signing secrets) live only here, never in the public shapes of ``views``.
"""

from __future__ import annotations

import time
from enum import Enum, IntEnum, StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, LargeBinary, String, UniqueConstraint, text
from sqlalchemy import false as sa_false
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

OPEN_DELIVERY = text("status IN ('pending', 'delivering')")
SNOOZED = text("snoozed_until IS NOT NULL")


def now() -> float:
    return time.time()


class Role(StrEnum):
    administrator = "administrator"
    agent = "agent"


class Channel(StrEnum):
    web_widget = "Channel::WebWidget"
    api = "Channel::Api"


class Status(StrEnum):
    open = "open"
    pending = "pending"
    resolved = "resolved"
    snoozed = "snoozed"


class MessageType(IntEnum):
    """Integers in REST JSON (Chatwoot), names in webhooks."""

    incoming = 0
    outgoing = 1
    activity = 2
    template = 3


class SenderType(StrEnum):
    contact = "contact"
    user = "user"
    agent_bot = "agent_bot"


class ActorKind(StrEnum):
    """Who made a change (``core.actors.Actor``, ``performed_by`` in payloads)."""

    user = "user"
    agent_bot = "agent_bot"
    contact = "contact"
    platform_app = "platform_app"
    system = "system"


class LinkStatus(StrEnum):
    active = "active"
    inactive = "inactive"


class BotType(StrEnum):
    webhook = "webhook"
    ai_agent = "ai_agent"


class TokenOwner(StrEnum):
    user = "user"
    agent_bot = "agent_bot"
    platform_app = "platform_app"


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivering = "delivering"
    delivered = "delivered"
    failed = "failed"


class StrEnumColumn(TypeDecorator[Any]):
    """An enum stored as its plain value (no CHECK, no native type: the migrations stay what they
    are), read back as the enum member, so code compares members, never literals."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[Enum]) -> None:
        self.enum = enum
        super().__init__()

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else self.enum(value)


class IntEnumColumn(StrEnumColumn):
    impl = Integer
    cache_ok = True


def enum_field(enum: type[Enum], default: Any = ..., **kwargs: Any) -> Any:
    column = IntEnumColumn(enum) if issubclass(enum, int) else StrEnumColumn(enum)
    return Field(default=default, sa_type=column, **kwargs)  # type: ignore[arg-type]


class Account(SQLModel, table=True):
    __tablename__ = "accounts"
    id: int | None = Field(default=None, primary_key=True)
    name: str
    keep_pending_on_bot_failure: bool = False
    created_at: float = Field(default_factory=now)


class User(SQLModel, table=True):
    """A human agent of one account."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("account_id", "email"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    name: str
    email: str
    role: Role = enum_field(Role, Role.agent)
    created_at: float = Field(default_factory=now)


class PlatformApp(SQLModel, table=True):
    """Holder of a platform token (manages system bots through the platform API)."""

    __tablename__ = "platform_apps"
    id: int | None = Field(default=None, primary_key=True)
    name: str
    created_at: float = Field(default_factory=now)


class AccessToken(SQLModel, table=True):
    """One token per owner; only the SHA-256 of the token is kept."""

    __tablename__ = "access_tokens"
    __table_args__ = (UniqueConstraint("owner_type", "owner_id"),)
    id: int | None = Field(default=None, primary_key=True)
    owner_type: TokenOwner = enum_field(TokenOwner)
    owner_id: int
    token_hash: str = Field(unique=True)
    prefix: str
    created_at: float = Field(default_factory=now)
    last_used_at: float | None = None


class Inbox(SQLModel, table=True):
    __tablename__ = "inboxes"
    __table_args__ = (Index("ux_inboxes_account_name", "account_id", "name", unique=True),)  # commands name inboxes
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    name: str
    channel_type: Channel = enum_field(Channel, Channel.api)
    identifier: str = Field(unique=True)  # the public API's key, and the widget's website token
    created_at: float = Field(default_factory=now)
    widget: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}"))
    hmac_token: str | None = None  # identity verification: identifier_hash = HMAC-SHA256(hmac_token, identifier)
    hmac_mandatory: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    widget_key: str | None = None  # signs visitors' tokens; never shown
    # Customer satisfaction: at each resolution the customer is asked to rate the conversation (1-5).
    csat_survey: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})


class Contact(SQLModel, table=True):
    __tablename__ = "contacts"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    name: str = ""
    email: str | None = None
    phone_number: str | None = None
    identifier: str | None = None
    additional_attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    custom_attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: float = Field(default_factory=now)


class ContactInbox(SQLModel, table=True):
    __tablename__ = "contact_inboxes"
    __table_args__ = (UniqueConstraint("inbox_id", "source_id"),)
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contacts.id", index=True, ondelete="CASCADE")
    inbox_id: int = Field(foreign_key="inboxes.id", index=True, ondelete="CASCADE")
    source_id: str
    created_at: float = Field(default_factory=now)
    hmac_verified: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})


class AgentBot(SQLModel, table=True):
    """A webhook bot or a built-in AI agent; ``account_id`` None makes it a system bot."""

    __tablename__ = "agent_bots"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int | None = Field(default=None, foreign_key="accounts.id", index=True, ondelete="CASCADE")
    platform_app_id: int | None = Field(default=None, foreign_key="platform_apps.id", ondelete="SET NULL")
    name: str
    description: str = ""
    bot_type: BotType = enum_field(BotType, BotType.webhook)
    outgoing_url: str | None = None
    secret: str
    timeout: float | None = None
    keep_pending_on_failure: bool | None = None
    disabled_reason: str | None = None
    system_prompt: str = ""
    model: str | None = None
    api_base: str | None = None
    api_key: str | None = None  # the bot's own credential for its api_base: write-only, never rendered
    temperature: float = 0.2
    max_exchanges: int = 10
    handoff_keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    handoff_message: str = "Transferring you to a human agent who will follow up shortly."
    # The customer's language (core.ai.language): detected among these (none: a default set), and
    # the handoff message per language; a handoff keyword may start with "fr:" to apply to one.
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    handoff_messages: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Customers often write in bursts ("hi" / "my order" / "4521 hasn't come"): the AI agent waits
    # this long after a message for the next one, and answers the burst once.
    batch_wait: float = 2.0
    # Guardrails the admin sets: subjects the agent declines, and the longest answer it sends
    # (0: no limit); answers past it are cut at a sentence (core.ai.rules.bounded).
    decline_topics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    max_answer_chars: int = 1200
    # An AI agent resolves a conversation it holds when the customer has not written for this long
    # after its last answer (seconds; 0: never), as Captain does: a resolution that ``bots stats``
    # can count, and that a later customer message reopens (counted as a reopen).
    resolve_after: float = 3600.0
    kb_version: int = 0  # moves with every knowledge-base change: search caches its vectors by it
    created_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)


class AgentBotInbox(SQLModel, table=True):
    """The link of an inbox to its bot: at most one per inbox (unique inbox_id)."""

    __tablename__ = "agent_bot_inboxes"
    id: int | None = Field(default=None, primary_key=True)
    inbox_id: int = Field(foreign_key="inboxes.id", unique=True, ondelete="CASCADE")
    agent_bot_id: int = Field(foreign_key="agent_bots.id", index=True, ondelete="CASCADE")
    account_id: int = Field(foreign_key="accounts.id", ondelete="CASCADE")
    status: LinkStatus = enum_field(LinkStatus, LinkStatus.active)
    created_at: float = Field(default_factory=now)


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("account_id", "display_id"),
        # The listings, newest activity first, one index per way of narrowing them (status, inbox,
        # assignee, none), each ending in the listing's order so a page reads its own rows only.
        # id ends them for PostgreSQL (SQLite's rowid ends every index anyway). The inbox one
        # names the account too: with one equality fewer, SQLite would pick the account's.
        Index("ix_conversations_account_status_activity", "account_id", "status", "last_activity_at"),
        Index("ix_conversations_account_activity", "account_id", "last_activity_at", "id"),
        Index("ix_conversations_inbox_account_activity", "inbox_id", "account_id", "last_activity_at", "id"),
        Index("ix_conversations_assignee_activity", "assignee_id", "last_activity_at", "id"),
        Index("ix_conversations_contact_inbox", "contact_inbox_id", "id"),  # a widget visitor's conversations
        Index("ix_conversations_contact", "contact_id", "inbox_id", "id"),  # a contact's latest, per inbox
        # The clock's reopen check: only snoozed conversations keep a time (apply_status clears it).
        Index("ix_conversations_snoozed", "snoozed_until", sqlite_where=SNOOZED, postgresql_where=SNOOZED),
    )
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", ondelete="CASCADE")
    display_id: int
    uuid: str
    inbox_id: int = Field(foreign_key="inboxes.id", ondelete="CASCADE")
    contact_id: int = Field(foreign_key="contacts.id", ondelete="CASCADE")
    contact_inbox_id: int = Field(foreign_key="contact_inboxes.id", ondelete="CASCADE")
    status: Status = enum_field(Status, Status.open)
    assignee_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    # Indexed for the bot's deletion (SET NULL finds its conversations without a full scan).
    assignee_agent_bot_id: int | None = Field(default=None, foreign_key="agent_bots.id", index=True, ondelete="SET NULL")
    snoozed_until: float | None = None
    priority: str | None = None
    additional_attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    custom_attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)
    last_activity_at: float = Field(default_factory=now)
    # The flood guard's window (messages.create_message): when the current minute began, and how
    # many messages it has taken. Kept on the row the write updates anyway: no extra statement.
    window_started_at: float = 0.0
    window_messages: int = 0


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_id_id", "conversation_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", ondelete="CASCADE")
    inbox_id: int = Field(foreign_key="inboxes.id", ondelete="CASCADE")
    conversation_id: int = Field(foreign_key="conversations.id", ondelete="CASCADE")
    message_type: MessageType = enum_field(MessageType, MessageType.incoming)
    content: str | None = None
    content_type: str = "text"
    content_attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    additional_attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    private: bool = False
    status: str = "sent"
    sender_type: SenderType | None = enum_field(SenderType, None)
    sender_id: int | None = None
    source_id: str | None = None
    created_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)


class Event(SQLModel, table=True):
    """The outbox: one row per change, payload rendered at the time of the change.

    Also the change feed the TUI polls (max id) to refresh within a second.
    """

    __tablename__ = "events"
    # A reconnecting widget visitor replays its conversations' events after the last one it saw.
    __table_args__ = (Index("ix_events_conversation", "conversation_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int | None = Field(default=None, index=True)
    conversation_id: int | None = None
    name: str
    payload: str
    created_at: float = Field(default_factory=now)


class Delivery(SQLModel, table=True):
    """One event to one bot: the unit the dispatcher claims, sends, retries and logs."""

    __tablename__ = "deliveries"
    __table_args__ = (
        # The operators' listings, newest first (``services.deliveries``): by account, by bot, by
        # status (and the prune of old delivered ones), each in created order so ``--since``
        # is a range of the index and a page stops at its limit.
        Index("ix_deliveries_account_created", "account_id", "created_at", "id"),
        Index("ix_deliveries_bot_created", "agent_bot_id", "created_at", "id"),
        Index("ix_deliveries_status_created", "status", "created_at", "id"),
        # The dispatcher's claim walks open deliveries in id order (queue.claim names this index);
        # delivered rows, most of the table, never enter these two.
        Index("ix_deliveries_open_id", "id", sqlite_where=OPEN_DELIVERY, postgresql_where=OPEN_DELIVERY),
        Index("ix_deliveries_open_queue", "agent_bot_id", "conversation_id", "id",
              sqlite_where=OPEN_DELIVERY, postgresql_where=OPEN_DELIVERY),
    )
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id", index=True, ondelete="CASCADE")
    agent_bot_id: int = Field(foreign_key="agent_bots.id", ondelete="CASCADE")
    account_id: int | None = None
    conversation_id: int | None = None
    webhook_id: str
    status: DeliveryStatus = enum_field(DeliveryStatus, DeliveryStatus.pending)
    attempts: int = 0
    next_attempt_at: float = Field(default_factory=now)
    last_status_code: int | None = None
    last_error: str | None = None
    last_response: str | None = None
    handed_off: bool = False
    created_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)
    delivered_at: float | None = None


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "delivery_attempts"
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="deliveries.id", index=True, ondelete="CASCADE")
    started_at: float
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None


class KbSite(SQLModel, table=True):
    """A crawl of a web site into a bot's knowledge base (``ndoto kb add BOT URL --crawl``, or a
    sitemap): kept so that ``ndoto kb sync`` can walk it again, find new pages and drop gone ones."""

    __tablename__ = "kb_sites"
    __table_args__ = (UniqueConstraint("agent_bot_id", "start_url"),)
    id: int | None = Field(default=None, primary_key=True)
    agent_bot_id: int = Field(foreign_key="agent_bots.id", index=True, ondelete="CASCADE")
    start_url: str
    max_pages: int
    created_at: float = Field(default_factory=now)
    synced_at: float | None = None


class KbDocument(SQLModel, table=True):
    """A knowledge-base document of an AI agent bot (re-adding the same source replaces it)."""

    __tablename__ = "kb_documents"
    __table_args__ = (UniqueConstraint("agent_bot_id", "source"),)
    id: int | None = Field(default=None, primary_key=True)
    agent_bot_id: int = Field(foreign_key="agent_bots.id", index=True, ondelete="CASCADE")
    source: str
    title: str
    sha256: str
    passages: int = 0
    created_at: float = Field(default_factory=now)
    # A web page's validators, sent back by ``kb sync`` (If-None-Match, If-Modified-Since), its
    # links (a crawl goes on through a page that answers 304 Not Modified), and the crawl that
    # found it (None for a page added alone, a file or an FAQ entry).
    etag: str | None = None
    last_modified: str | None = None
    links: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    site_id: int | None = Field(default=None, foreign_key="kb_sites.id", index=True, ondelete="CASCADE")


class KbPassage(SQLModel, table=True):
    """A passage: one section of a document, with the headings above it as its title."""

    __tablename__ = "kb_passages"
    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="kb_documents.id", index=True, ondelete="CASCADE")
    agent_bot_id: int = Field(foreign_key="agent_bots.id", index=True, ondelete="CASCADE")
    ordinal: int
    title: str
    content: str
    embedding: list[float] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Offline vectors (core.ai.vectors): the title's and the text's, float32 bytes, and the model.
    title_vector: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    text_vector: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    vector_model: str | None = None


class KbSuggestion(SQLModel, table=True):
    """An FAQ entry drafted by ``ndoto kb suggest`` from a conversation that humans resolved after
    the bot handed it off. An admin edits, accepts (it joins the knowledge base as an FAQ entry)
    or rejects it; ``personal_data`` lists what looks personal in the draft, for review."""

    __tablename__ = "kb_suggestions"
    __table_args__ = (UniqueConstraint("agent_bot_id", "conversation_id"),)
    id: int | None = Field(default=None, primary_key=True)
    agent_bot_id: int = Field(foreign_key="agent_bots.id", index=True, ondelete="CASCADE")
    account_id: int = Field(foreign_key="accounts.id", ondelete="CASCADE")
    conversation_id: int = Field(foreign_key="conversations.id", ondelete="CASCADE")
    display_id: int  # the conversation's number in its account: the link an admin follows
    question: str
    answer: str
    personal_data: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = "pending"  # pending | accepted | rejected
    document_id: int | None = Field(default=None, foreign_key="kb_documents.id", ondelete="SET NULL")
    model: str | None = None
    created_at: float = Field(default_factory=now)
    decided_at: float | None = None


class BotTool(SQLModel, table=True):
    """An HTTP tool an AI agent may call (``ndoto bots tools add``): the model fills the declared
    parameters, Ndoto builds the request from the template (never the host), adds the auth and
    sends it through the address guard. ``secret`` is write-only, as a bot's ``api_key`` is."""

    __tablename__ = "bot_tools"
    __table_args__ = (UniqueConstraint("agent_bot_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    agent_bot_id: int = Field(foreign_key="agent_bots.id", index=True, ondelete="CASCADE")
    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    method: str = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    auth: str = "none"  # none | bearer | basic | api_key
    auth_header: str | None = None  # api_key: the header that carries it
    secret: str | None = None  # bearer token, "user:password", or API key: never rendered
    timeout: float = 10.0
    response_path: str = ""  # the part of a JSON answer the model sees ("" = all of it)
    max_chars: int = 2000
    created_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)


class ToolCall(SQLModel, table=True):
    """One call of a bot's tool in a conversation (or in ``bots try``): what ``bots stats`` counts."""

    __tablename__ = "ai_tool_calls"
    id: int | None = Field(default=None, primary_key=True)
    agent_bot_id: int = Field(foreign_key="agent_bots.id", index=True, ondelete="CASCADE")
    conversation_id: int | None = None
    tool: str
    ok: bool = False
    status_code: int | None = None
    duration_ms: float = 0.0
    error: str | None = None
    created_at: float = Field(default_factory=now)


class BotStint(SQLModel, table=True):
    """One stretch of a conversation in a bot's hands: from the customer's first message of it to
    the bot's handoff or resolution. What the outcome figures of ``bots stats`` are made of
    (handled, resolved without a human, handed off and why, reopened, time to first answer),
    written where the status changes (``core.services.outcomes``), so every front end agrees."""

    __tablename__ = "bot_stints"
    __table_args__ = (
        Index("ix_bot_stints_bot_started", "agent_bot_id", "started_at"),
        Index("ix_bot_stints_conversation", "conversation_id", "id"),
        # The clock's idle check walks the stints still open, per bot.
        Index("ix_bot_stints_open", "agent_bot_id", "last_answer_at",
              sqlite_where=text("outcome IS NULL"), postgresql_where=text("outcome IS NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", ondelete="CASCADE")
    inbox_id: int
    conversation_id: int = Field(foreign_key="conversations.id", ondelete="CASCADE")
    agent_bot_id: int = Field(foreign_key="agent_bots.id", ondelete="CASCADE")
    started_at: float  # the customer's first message of the stint (or when the bot first acted)
    first_answer_at: float | None = None
    last_answer_at: float | None = None
    ended_at: float | None = None
    outcome: str | None = None  # None (the bot holds it) | resolved | handoff | closed (by a human, unanswered)
    reason: str | None = None  # a handoff's reason ("keyword: ...", "human_took_over", ...)
    resolved_by: str | None = None  # the actor kind that resolved it: agent_bot, contact, user, system
    reopened_at: float | None = None  # a resolution's end: the conversation opened again


class CsatResponse(SQLModel, table=True):
    """A rating asked at a resolution (an inbox with ``csat_survey``) and, once the customer
    answers, its 1-5 score. ``agent_bot_id`` is the bot whose stint ended in that resolution
    (None: resolved with humans): what ``bots stats`` compares."""

    __tablename__ = "csat_responses"
    # A bot's figures read its own ratings and its inboxes' human ones, by time.
    __table_args__ = (Index("ix_csat_inbox_asked", "inbox_id", "asked_at"), Index("ix_csat_bot_asked", "agent_bot_id", "asked_at"))
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", ondelete="CASCADE")
    inbox_id: int = Field(foreign_key="inboxes.id", ondelete="CASCADE")
    conversation_id: int = Field(foreign_key="conversations.id", index=True, ondelete="CASCADE")
    message_id: int = Field(unique=True)
    agent_bot_id: int | None = None
    assignee_id: int | None = None
    rating: int | None = None
    feedback: str | None = None
    asked_at: float = Field(default_factory=now)
    rated_at: float | None = None


class AiReply(SQLModel, table=True):
    """One turn of an AI agent: a reply or a handoff, with its model, latency and token usage."""

    __tablename__ = "ai_replies"
    id: int | None = Field(default=None, primary_key=True)
    agent_bot_id: int = Field(foreign_key="agent_bots.id", index=True, ondelete="CASCADE")
    conversation_id: int | None = None
    message_id: int | None = None
    kind: str  # reply | handoff
    reason: str | None = None
    model: str | None = None
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    created_at: float = Field(default_factory=now)
