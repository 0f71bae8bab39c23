"""Agent bots: webhook bots and built-in AI agents; account bots and system bots."""

from __future__ import annotations

import ipaddress
import time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core import addresses, limits
from ndoto_cli.core.credentials import new_signing_secret
from ndoto_cli.core.errors import Conflict, Forbidden, Invalid, NameTaken, NotFound, Unauthorized
from ndoto_cli.core.models import AgentBot, BotType, TokenOwner
from ndoto_cli.core.services.tokens import delete_token, issue_token

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
BOT_TYPE_ALIASES = {"webhook": BotType.webhook, "0": BotType.webhook, "ai": BotType.ai_agent,
                    "ai_agent": BotType.ai_agent, "ai-agent": BotType.ai_agent}
MAX_KEYWORDS = 50
MAX_EXCHANGES = 1000
MAX_TIMEOUT = 300.0
MAX_ANSWER_CHARS = 20_000
MAX_BATCH_WAIT = 30.0  # seconds an AI agent waits for a customer's next message before it answers
MAX_RESOLVE_AFTER = 30 * 86400.0  # an AI agent resolves a quiet conversation after at most 30 days
MIN_RESOLVE_AFTER = 60.0  # and not sooner than a minute: a customer reading the answer is not gone


def parse_bot_type(value: str | int) -> str:
    parsed = BOT_TYPE_ALIASES.get(str(value).strip().lower())
    if parsed is None:
        raise Invalid(f"bot type must be webhook or ai, not {str(value)[:40]!r}", field="bot_type")
    return parsed


def validate_url(url: str, *, field: str = "outgoing_url", what: str = "webhook URL") -> str:
    """An outward URL: https, or http only for localhost/127.0.0.1/::1 (local development)."""
    url = (limits.text(url, field=field, max_length=limits.URL) or "").strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise Invalid(f"malformed URL {url!r}: {exc}", field=field) from exc
    if parts.scheme not in ("http", "https") or not host:
        raise Invalid(f"malformed URL {url!r}: expected https://host/path", field=field)
    if parts.scheme == "http" and host.lower() not in LOCAL_HOSTS:
        raise Invalid(f"{what} must use https (http is allowed only for localhost): {url}", field=field)
    if any(c.isspace() for c in url):
        raise Invalid(f"malformed URL {url!r}: contains spaces", field=field)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if "." not in host and host.lower() != "localhost":
            raise Invalid(f"malformed URL {url!r}: host {host!r} has no domain", field=field) from None
    return url


async def _check_name(session: AsyncSession, *, account_id: int | None, name: str, exclude: int | None = None) -> str:
    name = (limits.text(name, field="name", max_length=limits.NAME) or "").strip()
    if not name:
        raise Invalid("bot name must not be empty", field="name")
    scope = AgentBot.account_id.is_(None) if account_id is None else AgentBot.account_id == account_id  # type: ignore[union-attr]
    query = select(AgentBot.id).where(scope, AgentBot.name == name)
    if exclude is not None:
        query = query.where(AgentBot.id != exclude)
    if (await session.execute(query)).first() is not None:
        where = "system bots" if account_id is None else f"account {account_id}"
        raise NameTaken(f"a bot named {name!r} already exists in {where}: choose another name", field="name")
    return name


AI_FIELDS = (
    "system_prompt", "model", "api_base", "api_key", "temperature", "max_exchanges", "handoff_keywords", "handoff_message",
    "batch_wait", "decline_topics", "max_answer_chars", "resolve_after", "languages", "handoff_messages",
)
COMMON_FIELDS = ("name", "description", "outgoing_url", "timeout", "keep_pending_on_failure")


def _clean_keywords(keywords: Any, field: str = "handoff_keywords") -> list[str]:
    """A list of short phrases (handoff keywords, topics to decline); a string is split at commas."""
    what = field.replace("_", " ")
    if keywords is None:
        return []
    if isinstance(keywords, str):
        keywords = keywords.split(",")
    if not isinstance(keywords, (list, tuple)):
        raise Invalid(f"{what} must be a list of phrases", field=field)
    cleaned = []
    for keyword in keywords:
        if not isinstance(keyword, str):
            raise Invalid(f"{what} must be strings", field=field)
        keyword = (limits.text(keyword, field=field, max_length=limits.NAME) or "").strip()
        if keyword:
            cleaned.append(keyword)
    if len(cleaned) > MAX_KEYWORDS:
        raise Invalid(f"at most {MAX_KEYWORDS} {what}", field=field)
    return cleaned


def _languages(value: Any) -> list[str]:
    from ndoto_cli.core.ai.language import check_code

    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise Invalid("languages must be a list of language codes, like [\"en\", \"fr\", \"sw\"]", field="languages")
    codes = list(dict.fromkeys(check_code(v) for v in value if v.strip()))
    if len(codes) > MAX_KEYWORDS:
        raise Invalid(f"at most {MAX_KEYWORDS} languages", field="languages")
    return codes


def _handoff_messages(value: Any) -> dict[str, str]:
    """``{"fr": "Je vous passe un collègue."}``: the handoff message in each language given."""
    from ndoto_cli.core.ai.language import check_code

    if not isinstance(value, dict):
        raise Invalid("handoff_messages maps a language code to its message, like {\"fr\": \"...\"}", field="handoff_messages")
    out = {}
    for code, message in value.items():
        if not isinstance(message, str):
            raise Invalid("each handoff message must be text", field="handoff_messages")
        text = (limits.text(message, field="handoff_messages", max_length=limits.SHORT_TEXT) or "").strip()
        if text:
            out[check_code(code, "handoff_messages")] = text
    return out


def _clean(session: AsyncSession, settings: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise every bot setting given (None means: not given). One function for
    create and update, so the API, the platform API, the CLI and the console agree."""
    bounds = limits.of(session)
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if value is None:
            continue
        if key == "description":
            value = limits.text(value, field=key, max_length=limits.SHORT_TEXT)
        elif key == "outgoing_url":
            value = validate_url(value) if value else ""
        elif key == "api_base":
            value = validate_url(value, field=key, what="api_base") if value else ""
            if value:
                addresses.check_url_host(value, allow_private=bounds.allow_private, allowlist=bounds.allowlist, field=key)
        elif key == "api_key":
            value = limits.text(value, field=key, max_length=4096)
        elif key in ("system_prompt",):
            value = limits.text(value, field=key, max_length=limits.LONG_TEXT)
        elif key == "handoff_message":
            value = limits.text(value, field=key, max_length=limits.SHORT_TEXT)
        elif key == "model":
            value = (limits.text(value, field=key, max_length=limits.NAME) or "").strip() or None
        elif key == "temperature":
            value = limits.number(value, field=key, minimum=0.0, maximum=1.0)
        elif key == "batch_wait":
            value = limits.number(value, field=key, minimum=0.0, maximum=MAX_BATCH_WAIT)
        elif key == "resolve_after":
            value = limits.number(value, field=key, minimum=0.0, maximum=MAX_RESOLVE_AFTER)
            if 0 < value < MIN_RESOLVE_AFTER:
                raise Invalid(f"resolve_after is 0 (never) or at least {MIN_RESOLVE_AFTER:g} seconds", field=key)
        elif key == "max_exchanges":
            value = limits.integer(value, field=key, minimum=1, maximum=MAX_EXCHANGES, label="max exchanges")
        elif key == "timeout":
            value = limits.number(value, field=key, minimum=0.001, maximum=MAX_TIMEOUT)
        elif key == "keep_pending_on_failure":
            if not isinstance(value, bool):
                raise Invalid(f"{key} must be true or false", field=key)
        elif key in ("handoff_keywords", "decline_topics"):
            value = _clean_keywords(value, key)
        elif key == "languages":
            value = _languages(value)
        elif key == "handoff_messages":
            value = _handoff_messages(value)
        elif key == "max_answer_chars":
            value = limits.integer(value, field=key, minimum=0, maximum=MAX_ANSWER_CHARS, label="max answer chars")
        out[key] = value
    return out


async def create_bot(
    session: AsyncSession,
    *,
    account_id: int | None,
    name: str,
    bot_type: str = "webhook",
    outgoing_url: str | None = None,
    description: str = "",
    platform_app_id: int | None = None,
    **settings: Any,
) -> tuple[AgentBot, str]:
    """Create a bot and its access token (returned once). ``account_id=None`` makes a system bot."""
    unknown = set(settings) - set(AI_FIELDS) - {"timeout", "keep_pending_on_failure"}
    if unknown:
        raise Invalid(f"unknown bot setting(s): {', '.join(sorted(unknown))}")
    kind = parse_bot_type(bot_type)
    name = await _check_name(session, account_id=account_id, name=name)
    values = _clean(session, {**settings, "outgoing_url": outgoing_url, "description": description})
    if kind == BotType.webhook and not values.get("outgoing_url"):
        raise Invalid("a webhook bot needs a URL (--url / outgoing_url)", field="outgoing_url")
    for key in ("outgoing_url", "api_base", "api_key"):
        values[key] = values.get(key) or None
    bot = AgentBot(
        account_id=account_id,
        platform_app_id=platform_app_id,
        name=name,
        bot_type=kind,
        secret=new_signing_secret(),
        **{"description": "", **values},
    )
    session.add(bot)
    await session.flush()
    token = await issue_token(session, owner_type=TokenOwner.agent_bot, owner_id=bot.id)  # type: ignore[arg-type]
    return bot, token


AI_ONLY = {
    "kb": "knowledge bases belong to AI agent bots (--type ai)",
    "try": "`bots try` runs an AI agent's turn; send a webhook bot a test event with `ndoto bots ping {name}`",
    "eval": "`bots eval` scores an AI agent's answers; a webhook bot answers from its own server",
    "tools": "HTTP tools are called by AI agents (--type ai); a webhook bot calls your APIs from its own server",
}


def require_ai(bot: AgentBot, purpose: str = "kb") -> AgentBot:
    """What only AI agent bots have (a knowledge base, turns, answer statistics): one refusal,
    worded for what was asked, whichever front end asked."""
    if bot.bot_type != BotType.ai_agent:
        raise Invalid(f"bot {bot.name} is a webhook bot: " + AI_ONLY[purpose].format(name=bot.name), field="bot")
    return bot


def _visible(account_id: int | None) -> Any:
    if account_id is None:
        return AgentBot.account_id.is_(None)  # type: ignore[union-attr]
    return or_(AgentBot.account_id == account_id, AgentBot.account_id.is_(None))  # type: ignore[union-attr]


async def list_bots(session: AsyncSession, *, account_id: int | None) -> list[AgentBot]:
    """An account's bots and the system bots (``account_id=None``: system bots only)."""
    return list((await session.execute(select(AgentBot).where(_visible(account_id)).order_by(AgentBot.id))).scalars())


async def get_bot(session: AsyncSession, *, account_id: int | None, bot_id: int) -> AgentBot:
    bot = await session.get(AgentBot, limits.row_id(bot_id, what="bot"))
    if bot is None or (bot.account_id is not None and bot.account_id != account_id):
        where = "system bots" if account_id is None else f"account {account_id}"
        raise NotFound(f"bot {bot_id} not found in {where}")
    return bot


async def find_bot(session: AsyncSession, *, account_id: int | None, ref: str) -> AgentBot:
    """A bot by id or name; an ambiguous name is an error that lists the matches."""
    ref = str(ref).strip()
    if ref.isdigit():
        return await get_bot(session, account_id=account_id, bot_id=int(ref))
    matches = list(
        (await session.execute(select(AgentBot).where(_visible(account_id), AgentBot.name == ref))).scalars()
    )
    if not matches:
        raise NotFound(f"no bot named {ref!r}" + (f" in account {account_id}" if account_id else " among system bots"))
    if len(matches) > 1:
        listing = ", ".join(f"{m.id} ({'system' if m.account_id is None else 'account'})" for m in matches)
        raise Conflict(f"bot name {ref!r} is ambiguous: ids {listing}; use an id")
    return matches[0]


async def _owned(session: AsyncSession, *, account_id: int | None, bot_id: int) -> AgentBot:
    """A bot the caller may change: system bots only as system bots, never through an account."""
    bot = await get_bot(session, account_id=account_id, bot_id=bot_id)
    if bot.account_id is None and account_id is not None:
        raise Forbidden(f"bot {bot_id} ({bot.name}) is a system bot: it can only be changed as a system bot")
    return bot


async def update_bot(session: AsyncSession, *, account_id: int | None, bot_id: int, **changes: Any) -> AgentBot:
    bot = await _owned(session, account_id=account_id, bot_id=bot_id)
    unknown = set(changes) - set(AI_FIELDS) - set(COMMON_FIELDS) - {"bot_type"}
    if unknown:
        raise Invalid(f"unknown bot setting(s): {', '.join(sorted(unknown))}")
    name, kind = changes.pop("name", None), changes.pop("bot_type", None)
    changes = _clean(session, changes)
    if kind is not None:
        changes["bot_type"] = parse_bot_type(kind)
    if name is not None:
        changes["name"] = await _check_name(session, account_id=bot.account_id, name=name, exclude=bot.id)
    for key in ("outgoing_url", "api_base", "api_key"):
        if key in changes:
            changes[key] = changes[key] or None  # an empty value clears it
    if "outgoing_url" in changes:
        bot.disabled_reason = None  # a new URL is a new chance (410 disabled the old one)
    if changes.get("bot_type", bot.bot_type) == BotType.webhook and not changes.get("outgoing_url", bot.outgoing_url):
        raise Invalid("a webhook bot needs a URL (--url / outgoing_url)", field="outgoing_url")
    for key, value in changes.items():
        setattr(bot, key, value)
    bot.updated_at = time.time()
    await session.flush()
    return bot


async def set_disabled(session: AsyncSession, *, bot_id: int, reason: str | None) -> None:
    """Disable (or re-enable) deliveries to a bot, e.g. after its endpoint answered 410 Gone."""
    bot = await session.get(AgentBot, bot_id)
    if bot is not None:
        bot.disabled_reason = reason
        bot.updated_at = time.time()
        await session.flush()


async def delete_bot(session: AsyncSession, *, account_id: int | None, bot_id: int) -> AgentBot:
    bot = await _owned(session, account_id=account_id, bot_id=bot_id)
    await delete_token(session, owner_type=TokenOwner.agent_bot, owner_id=bot.id)  # type: ignore[arg-type]
    await session.delete(bot)
    await session.flush()
    return bot


async def reset_bot_token(session: AsyncSession, *, account_id: int | None, bot_id: int) -> tuple[AgentBot, str]:
    """A new access token; the old one stops working when this commits."""
    bot = await _owned(session, account_id=account_id, bot_id=bot_id)
    return bot, await issue_token(session, owner_type=TokenOwner.agent_bot, owner_id=bot.id)  # type: ignore[arg-type]


def signing_secret(bot: AgentBot, *, account_id: int | None) -> str:
    """The secret a bot's verifier needs (the API shows it to administrators too); a system bot's
    belongs to whoever manages it, not to an account that uses it."""
    if bot.account_id is None and account_id is not None:
        raise Forbidden(f"bot {bot.name} is a system bot: its signing secret is its platform's, not this account's")
    return bot.secret


async def reset_bot_secret(session: AsyncSession, *, account_id: int | None, bot_id: int) -> AgentBot:
    """A new webhook signing secret (separate from the access token)."""
    bot = await _owned(session, account_id=account_id, bot_id=bot_id)
    bot.secret = new_signing_secret()
    bot.updated_at = time.time()
    await session.flush()
    return bot


async def platform_bots(session: AsyncSession, *, platform_app_id: int) -> list[AgentBot]:
    """The bots a platform app created (Chatwoot's permissible list)."""
    query = select(AgentBot).where(AgentBot.platform_app_id == platform_app_id).order_by(AgentBot.id)
    return list((await session.execute(query)).scalars())


async def platform_bot(session: AsyncSession, *, platform_app_id: int, bot_id: int) -> AgentBot:
    """One bot of a platform app's; any other is "Non permissible resource" (401, as Chatwoot)."""
    bot = await session.get(AgentBot, limits.row_id(bot_id, what="bot"))
    if bot is None:
        raise NotFound(f"bot {bot_id} not found")
    if bot.platform_app_id != platform_app_id:
        raise Unauthorized("Non permissible resource")
    return bot


async def create_platform_bot(
    session: AsyncSession, *, platform_app_id: int, account_id: int | None = None, **settings: Any
) -> tuple[AgentBot, str]:
    """A system bot of a platform app. An account's bots belong to its administrators: a platform
    app cannot plant one in an account (``account_id`` is refused)."""
    if account_id is not None:
        raise Invalid(
            "the platform API creates system bots only; an account's bots are created by its administrators",
            field="account_id",
        )
    name = settings.pop("name")
    return await create_bot(session, account_id=None, platform_app_id=platform_app_id, name=name, **settings)


def warnings(bot: AgentBot, settings: Any) -> list[str]:
    """What will go wrong with this bot under these settings, said before it bites: a webhook on
    a private or loopback address that ``ndoto serve`` will not call, an AI model whose provider
    key is missing from the environment."""
    from urllib.parse import urlsplit

    from ndoto_cli.core.addresses import REFUSAL_HINT, literal_refused
    from ndoto_cli.core.ai.rules import missing_provider_key

    out = []
    if bot.bot_type == BotType.webhook and bot.outgoing_url:
        host = urlsplit(bot.outgoing_url).hostname or ""
        if literal_refused(host, settings.allow_private_addresses, tuple(settings.private_allowlist)):
            out.append(
                f"bot {bot.name}'s URL {bot.outgoing_url} is a private or loopback address: `ndoto serve` will not deliver "
                f"there (its conversations would go to humans) unless you {REFUSAL_HINT}"
            )
    if bot.bot_type == BotType.ai_agent:
        variable = missing_provider_key(bot, settings)
        if variable is not None:
            out.append(
                f"bot {bot.name}'s model {bot.model or settings.ai_model} needs {variable} in the environment of `ndoto serve` "
                f"(or give the bot --api-base, or set NDOTO_AI_API_BASE): without it every question goes to a human"
            )
    return out


async def every_warning(session: AsyncSession, settings: Any) -> list[str]:
    """:func:`warnings` of every bot in the database, for ``ndoto serve`` at start and ``ndoto status``."""
    from sqlalchemy import select

    rows = (await session.execute(select(AgentBot).order_by(AgentBot.id))).scalars().all()
    return [line for bot in rows for line in warnings(bot, settings)]

