"""Inboxes, their bot link (one active bot per inbox, a bot serves many inboxes) and, for
web-widget inboxes, the widget's settings and identity-verification secret."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core import limits
from ndoto_cli.core.bundle import active_bot_of
from ndoto_cli.core.credentials import new_identifier
from ndoto_cli.core.errors import Conflict, Invalid, NameTaken, NotFound, Unauthorized
from ndoto_cli.core.models import AgentBot, AgentBotInbox, Channel, Conversation, Inbox, LinkStatus
from ndoto_cli.core.services.bots import get_bot

CHANNEL_ALIASES = {
    "web_widget": Channel.web_widget,
    "webwidget": Channel.web_widget,
    "web": Channel.web_widget,
    "Channel::WebWidget": Channel.web_widget,
    "api": Channel.api,
    "Channel::Api": Channel.api,
}


def parse_channel(channel: str) -> str:
    value = CHANNEL_ALIASES.get(channel.strip()) or CHANNEL_ALIASES.get(channel.strip().lower())
    if value is None:
        raise Invalid(f"channel must be web_widget or api, not {channel!r}", field="channel")
    return value


async def _check_name(session: AsyncSession, *, account_id: int, name: str, exclude: int | None = None) -> str:
    """An inbox's name: not empty, and unique in its account (commands name inboxes by it)."""
    name = (limits.text(name, field="name", max_length=limits.NAME) or "").strip()
    if not name:
        raise Invalid("inbox name must not be empty", field="name")
    query = select(Inbox.id).where(Inbox.account_id == account_id, Inbox.name == name)
    if exclude is not None:
        query = query.where(Inbox.id != exclude)
    if (await session.execute(query)).first() is not None:
        raise NameTaken(f"an inbox named {name!r} already exists in account {account_id}: choose another name", field="name")
    return name


async def create_inbox(session: AsyncSession, *, account_id: int, name: str, channel: str = "api") -> Inbox:
    name = await _check_name(session, account_id=account_id, name=name)
    inbox = Inbox(
        account_id=account_id, name=name, channel_type=parse_channel(channel), identifier=new_identifier(),
        hmac_token=new_hmac_token(), widget_key=new_widget_key(),
    )
    session.add(inbox)
    await session.flush()
    return inbox


async def list_inboxes(session: AsyncSession, *, account_id: int) -> list[Inbox]:
    return list((await session.execute(select(Inbox).where(Inbox.account_id == account_id).order_by(Inbox.id))).scalars())


async def get_inbox(session: AsyncSession, *, account_id: int, inbox_id: int) -> Inbox:
    inbox = await session.get(Inbox, limits.row_id(inbox_id, what="inbox"))
    if inbox is None or inbox.account_id != account_id:
        raise NotFound(f"inbox {inbox_id} not found in account {account_id}")
    return inbox


async def get_inbox_by_identifier(session: AsyncSession, *, identifier: str) -> Inbox:
    if not isinstance(identifier, str) or len(identifier) > limits.IDENTIFIER or "\x00" in identifier:
        raise NotFound("inbox not found")
    inbox = (await session.execute(select(Inbox).where(Inbox.identifier == identifier))).scalar_one_or_none()
    if inbox is None:
        raise NotFound("inbox not found")
    return inbox


async def find_inbox(session: AsyncSession, *, account_id: int, ref: str) -> Inbox:
    """An inbox by id or name; an ambiguous name lists the matches."""
    ref = str(ref).strip()
    if ref.isdigit():
        return await get_inbox(session, account_id=account_id, inbox_id=int(ref))
    matches = list(
        (await session.execute(select(Inbox).where(Inbox.account_id == account_id, Inbox.name == ref))).scalars()
    )
    if not matches:
        raise NotFound(f"no inbox named {ref!r} in account {account_id}")
    if len(matches) > 1:
        ids = ", ".join(str(m.id) for m in matches)
        raise Conflict(f"inbox name {ref!r} is ambiguous: ids {ids}; use an id")
    return matches[0]


async def delete_inbox(session: AsyncSession, *, account_id: int, inbox_id: int) -> Inbox:
    inbox = await get_inbox(session, account_id=account_id, inbox_id=inbox_id)
    await session.delete(inbox)
    await session.flush()
    return inbox


async def describe(session: AsyncSession, inbox: Inbox) -> dict[str, Any]:
    """The inbox as every front end shows it: its bot and, for a web widget, its settings."""
    from ndoto_cli.core.views import inbox_json

    link = await inbox_link(session, inbox_id=inbox.id)
    bot = await inbox_bot(session, inbox_id=inbox.id)
    widget = settings_of(inbox) if inbox.channel_type == Channel.web_widget else None
    return inbox_json(inbox, link, bot, widget=widget)


async def inbox_link(session: AsyncSession, *, inbox_id: int) -> AgentBotInbox | None:
    return (
        await session.execute(select(AgentBotInbox).where(AgentBotInbox.inbox_id == inbox_id))
    ).scalar_one_or_none()


async def inbox_bot(session: AsyncSession, *, inbox_id: int) -> AgentBot | None:
    bot_id = active_bot_of(await inbox_link(session, inbox_id=inbox_id))
    return await session.get(AgentBot, bot_id) if bot_id is not None else None


@dataclass
class Assignment:
    inbox: Inbox
    bot: AgentBot | None
    previous: AgentBot | None


async def set_inbox_bot(
    session: AsyncSession, *, account_id: int, inbox_id: int, bot_id: int | None
) -> Assignment:
    """Connect a bot to an inbox (replacing any other) or disconnect with ``bot_id=None``.

    Conversations already in the inbox keep their status: only new ones start pending.
    """
    inbox = await get_inbox(session, account_id=account_id, inbox_id=inbox_id)
    link = await inbox_link(session, inbox_id=inbox_id)
    previous = await session.get(AgentBot, link.agent_bot_id) if link is not None else None
    before = link.agent_bot_id if link is not None and link.status == LinkStatus.active else None
    bot = None
    if bot_id is None:
        if link is not None:
            await session.delete(link)
    else:
        bot = await get_bot(session, account_id=account_id, bot_id=bot_id)
        if link is None:
            session.add(AgentBotInbox(inbox_id=inbox_id, agent_bot_id=bot.id, account_id=account_id))  # type: ignore[arg-type]
        else:
            link.agent_bot_id = bot.id  # type: ignore[assignment]
            link.status = LinkStatus.active
    await session.flush()
    from ndoto_cli.core.services import outcomes

    await outcomes.inbox_bot_changed(session, inbox_id=inbox_id, before=before, after=bot.id if bot else None)
    return Assignment(inbox, bot, previous)


async def inboxes_of_bot(session: AsyncSession, *, bot_id: int, account_id: int | None = None) -> list[Inbox]:
    query = select(Inbox).join(AgentBotInbox, AgentBotInbox.inbox_id == Inbox.id).where(AgentBotInbox.agent_bot_id == bot_id)
    if account_id is not None:
        query = query.where(Inbox.account_id == account_id)
    return list((await session.execute(query.order_by(Inbox.id))).scalars())


async def bot_serves_inbox(session: AsyncSession, *, bot_id: int, inbox_id: int) -> bool:
    """A bot reads only the inboxes it is connected to (an inbox's identifier opens its public API)."""
    link = await inbox_link(session, inbox_id=inbox_id)
    return link is not None and link.agent_bot_id == bot_id


async def conversation_count(session: AsyncSession, *, inbox_id: int) -> int:
    from sqlalchemy import func

    query = select(func.count()).select_from(Conversation).where(Conversation.inbox_id == inbox_id)
    return int((await session.execute(query)).scalar_one())


# -- The web widget's settings -------------------------------------------------------------

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
DEFAULTS: dict[str, Any] = {
    "title": "Chat with us", "greeting": "Hi! How can we help?", "color": "#1f6feb", "position": "right", "locale": "en",
    "allowed_origins": [], "prechat_name": False, "prechat_email": False,
}


def settings_of(inbox: Inbox) -> dict[str, Any]:
    """The inbox's widget settings, defaults filled in, plus whether identity is required."""
    return {**DEFAULTS, **(inbox.widget or {}), "require_identity": bool(inbox.hmac_mandatory)}


def _origin(value: str) -> str:
    """An origin as browsers send it: scheme and host (and a port, unless it is the scheme's own)."""
    parts = urlsplit(value.strip())
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query
            or parts.fragment or parts.username or parts.password or port == -1):
        raise Invalid(f"an allowed origin is a scheme and a host, like https://shop.example.com, not {value[:80]!r}",
                      field="allowed_origins")
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


async def update_inbox(
    session: AsyncSession, *, account_id: int, inbox_id: int, name: str | None = None, require_identity: bool | None = None,
    csat_survey: bool | None = None, **changes: Any,
) -> Inbox:
    """Rename an inbox, turn its rating question at resolution on or off (any inbox), or change
    a web-widget inbox's widget: title, greeting, colour, position, locale, allowed origins, the
    pre-chat form's fields, and whether identity verification is required. ``None`` leaves a
    setting as it is; nothing changes unless every value is valid."""
    inbox = await get_inbox(session, account_id=account_id, inbox_id=inbox_id)
    if name is not None:
        name = await _check_name(session, account_id=account_id, name=name, exclude=inbox.id)
    widget_changes = {k: v for k, v in changes.items() if v is not None}
    if (widget_changes or require_identity is not None) and inbox.channel_type != Channel.web_widget:
        raise Invalid(f"inbox {inbox.name} is an API inbox: only web-widget inboxes have a widget", field="inbox")
    inbox.widget = _widget_settings(inbox, widget_changes)
    if name is not None:
        inbox.name = name
    if require_identity is not None:
        inbox.hmac_mandatory = bool(require_identity)
    if csat_survey is not None:
        if not isinstance(csat_survey, bool):
            raise Invalid("csat_survey_enabled must be true or false", field="csat_survey_enabled")
        inbox.csat_survey = csat_survey
    await session.flush()
    return inbox


def _widget_settings(inbox: Inbox, changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(DEFAULTS)
    if unknown:
        raise Invalid(f"unknown widget setting(s): {', '.join(sorted(unknown))}")
    widget = dict(inbox.widget or {})
    for key, value in changes.items():
        if key in ("title", "greeting"):
            value = (limits.text(value, field=key, max_length=100 if key == "title" else 500) or "").strip()
            if not value:
                raise Invalid(f"the widget's {key} must not be empty", field=key)
        elif key == "color":
            if not isinstance(value, str) or not COLOR.match(value):
                raise Invalid(f"color is a hex colour like #1f6feb, not {str(value)[:20]!r}", field="color")
        elif key == "position":
            if value not in ("left", "right"):
                raise Invalid("position is left or right", field="position")
        elif key == "locale":
            if not isinstance(value, str) or not LOCALE.match(value):
                raise Invalid(f"locale is a language tag like en or fr, not {str(value)[:20]!r}", field="locale")
        elif key == "allowed_origins":
            if not isinstance(value, list) or len(value) > 50:
                raise Invalid("allowed_origins is a list of at most 50 origins", field="allowed_origins")
            value = sorted({_origin(limits.text(v, field=key, max_length=limits.URL) or "") for v in value})
        elif key in ("prechat_name", "prechat_email") and not isinstance(value, bool):
            raise Invalid(f"{key} is true or false", field=key)
        widget[key] = value
    return widget


async def reset_hmac_token(session: AsyncSession, *, account_id: int, inbox_id: int) -> Inbox:
    """A new identity-verification secret: the site's server must sign with it from now on."""
    inbox = await get_inbox(session, account_id=account_id, inbox_id=inbox_id)
    inbox.hmac_token = new_hmac_token()
    await session.flush()
    return inbox


def identity_hash(inbox: Inbox, identifier: str) -> str:
    """Chatwoot's ``identifier_hash``: hex HMAC-SHA256 of the identifier, keyed with the inbox's secret."""
    return hmac.new((inbox.hmac_token or "").encode(), identifier.encode(), hashlib.sha256).hexdigest()


def check_identity(inbox: Inbox, identifier: str, identifier_hash: str | None) -> bool:
    """True when ``identifier_hash`` proves the identifier; a wrong hash is a 401 (never a quiet
    "unverified"); no hash is False."""
    if not identifier_hash:
        return False
    if not inbox.hmac_token or not hmac.compare_digest(identity_hash(inbox, identifier), str(identifier_hash).strip().lower()):
        raise Unauthorized("identifier_hash does not match this identifier: compute it with the inbox's secret")
    return True


def new_hmac_token() -> str:
    return secrets.token_hex(16)


def new_widget_key() -> str:
    return secrets.token_urlsafe(32)
