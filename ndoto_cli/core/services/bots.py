"""Agent bots: webhook bots and built-in AI agents; account bots and system bots."""

from __future__ import annotations

import ipaddress
import time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core.errors import Conflict, Forbidden, Invalid, NotFound
from ndoto_cli.core.models import AgentBot, BotType, TokenOwner
from ndoto_cli.core.services.tokens import delete_token, issue_token
from ndoto_cli.core.tokens import new_signing_secret

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
BOT_TYPE_ALIASES = {"webhook": BotType.webhook.value, "0": BotType.webhook.value, "ai": BotType.ai_agent.value,
                    "ai_agent": BotType.ai_agent.value, "ai-agent": BotType.ai_agent.value}


def parse_bot_type(value: str | int) -> str:
    parsed = BOT_TYPE_ALIASES.get(str(value).strip().lower())
    if parsed is None:
        raise Invalid(f"bot type must be webhook or ai, not {value!r}", field="bot_type")
    return parsed


def validate_url(url: str) -> str:
    """A webhook URL: https, or http only for localhost/127.0.0.1/::1 (local development)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise Invalid(f"malformed URL {url!r}: {exc}", field="outgoing_url") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise Invalid(f"malformed URL {url!r}: expected https://host/path", field="outgoing_url")
    if parts.scheme == "http" and host.lower() not in LOCAL_HOSTS:
        raise Invalid(
            f"webhook URL must use https (http is allowed only for localhost): {url}", field="outgoing_url"
        )
    if " " in url:
        raise Invalid(f"malformed URL {url!r}: contains spaces", field="outgoing_url")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if "." not in host and host.lower() != "localhost":
            raise Invalid(f"malformed URL {url!r}: host {host!r} has no domain", field="outgoing_url") from None
    return url


def _check_ai(temperature: float | None, max_exchanges: int | None) -> None:
    if temperature is not None and not (0.0 <= float(temperature) <= 1.0):
        raise Invalid(f"temperature must be between 0 and 1, not {temperature}", field="temperature")
    if max_exchanges is not None and int(max_exchanges) < 1:
        raise Invalid(f"max exchanges must be at least 1, not {max_exchanges}", field="max_exchanges")


async def _check_name(session: AsyncSession, *, account_id: int | None, name: str, exclude: int | None = None) -> str:
    name = name.strip()
    if not name:
        raise Invalid("bot name must not be empty", field="name")
    scope = AgentBot.account_id.is_(None) if account_id is None else AgentBot.account_id == account_id  # type: ignore[union-attr]
    query = select(AgentBot.id).where(scope, AgentBot.name == name)
    if exclude is not None:
        query = query.where(AgentBot.id != exclude)
    if (await session.execute(query)).first() is not None:
        where = "system bots" if account_id is None else f"account {account_id}"
        raise Conflict(f"a bot named {name!r} already exists in {where}", field="name")
    return name


AI_FIELDS = ("system_prompt", "model", "api_base", "temperature", "max_exchanges", "handoff_keywords", "handoff_message")
COMMON_FIELDS = ("name", "description", "outgoing_url", "timeout", "keep_pending_on_failure")


def _clean_keywords(keywords: Any) -> list[str]:
    if keywords is None:
        return []
    if isinstance(keywords, str):
        keywords = [k for k in keywords.split(",")]
    return [str(k).strip() for k in keywords if str(k).strip()]


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
    if kind == BotType.webhook.value and not outgoing_url:
        raise Invalid("a webhook bot needs a URL (--url / outgoing_url)", field="outgoing_url")
    url = validate_url(outgoing_url) if outgoing_url else None
    _check_ai(settings.get("temperature"), settings.get("max_exchanges"))
    if settings.get("timeout") is not None and float(settings["timeout"]) <= 0:
        raise Invalid("timeout must be positive", field="timeout")
    if "handoff_keywords" in settings:
        settings["handoff_keywords"] = _clean_keywords(settings["handoff_keywords"])
    values = {k: v for k, v in settings.items() if v is not None}
    bot = AgentBot(
        account_id=account_id,
        platform_app_id=platform_app_id,
        name=name,
        description=description or "",
        bot_type=kind,
        outgoing_url=url,
        secret=new_signing_secret(),
        **values,
    )
    session.add(bot)
    await session.flush()
    token = await issue_token(session, owner_type=TokenOwner.agent_bot, owner_id=bot.id)  # type: ignore[arg-type]
    return bot, token


def _visible(account_id: int | None) -> Any:
    if account_id is None:
        return AgentBot.account_id.is_(None)  # type: ignore[union-attr]
    return or_(AgentBot.account_id == account_id, AgentBot.account_id.is_(None))  # type: ignore[union-attr]


async def list_bots(session: AsyncSession, *, account_id: int | None) -> list[AgentBot]:
    """An account's bots and the system bots (``account_id=None``: system bots only)."""
    return list((await session.execute(select(AgentBot).where(_visible(account_id)).order_by(AgentBot.id))).scalars())


async def get_bot(session: AsyncSession, *, account_id: int | None, bot_id: int) -> AgentBot:
    bot = await session.get(AgentBot, bot_id)
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
    changes = {k: v for k, v in changes.items() if v is not None}
    if "bot_type" in changes:
        changes["bot_type"] = parse_bot_type(changes["bot_type"])
    if "name" in changes:
        changes["name"] = await _check_name(session, account_id=bot.account_id, name=changes["name"], exclude=bot.id)
    if "outgoing_url" in changes:
        changes["outgoing_url"] = validate_url(changes["outgoing_url"]) if changes["outgoing_url"] else None
        bot.disabled_reason = None  # a new URL is a new chance (410 disabled the old one)
    _check_ai(changes.get("temperature"), changes.get("max_exchanges"))
    if "handoff_keywords" in changes:
        changes["handoff_keywords"] = _clean_keywords(changes["handoff_keywords"])
    if changes.get("bot_type", bot.bot_type) == BotType.webhook.value and not changes.get("outgoing_url", bot.outgoing_url):
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


async def reset_bot_secret(session: AsyncSession, *, account_id: int | None, bot_id: int) -> AgentBot:
    """A new webhook signing secret (separate from the access token)."""
    bot = await _owned(session, account_id=account_id, bot_id=bot_id)
    bot.secret = new_signing_secret()
    bot.updated_at = time.time()
    await session.flush()
    return bot
