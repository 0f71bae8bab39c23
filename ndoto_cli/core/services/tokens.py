"""Issuing, resetting and resolving access tokens (hash-only storage)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core.actors import Actor
from ndoto_cli.core.credentials import hash_token, new_token
from ndoto_cli.core.db import statements
from ndoto_cli.core.errors import Unauthorized
from ndoto_cli.core.models import AccessToken, ActorKind, AgentBot, AgentBotInbox, PlatformApp, TokenOwner, User

LAST_USED_RESOLUTION = 60.0  # seconds: don't turn every authenticated read into a write


async def issue_token(session: AsyncSession, *, owner_type: TokenOwner, owner_id: int) -> str:
    """Create or replace the owner's token; the old one stops working in this same transaction."""
    token = new_token(owner_type)
    row = (
        await session.execute(
            select(AccessToken).where(AccessToken.owner_type == owner_type, AccessToken.owner_id == owner_id)
        )
    ).scalar_one_or_none()
    if row is None:
        row = AccessToken(owner_type=owner_type, owner_id=owner_id, token_hash="", prefix="")
        session.add(row)
    row.token_hash = hash_token(token)
    row.prefix = token[:8]
    row.created_at = time.time()
    row.last_used_at = None
    await session.flush()
    return token


async def delete_token(session: AsyncSession, *, owner_type: TokenOwner, owner_id: int) -> None:
    row = (
        await session.execute(
            select(AccessToken).where(AccessToken.owner_type == owner_type, AccessToken.owner_id == owner_id)
        )
    ).scalar_one_or_none()
    if row is not None:
        await session.delete(row)


@dataclass
class Principal:
    """The authenticated caller: exactly one of user, bot, platform_app is set."""

    kind: str
    token_id: int
    last_used_at: float | None
    user: User | None = None
    bot: AgentBot | None = None
    platform_app: PlatformApp | None = None

    @property
    def actor(self) -> Actor:
        if self.user is not None:
            return Actor.of_user(self.user)
        if self.bot is not None:
            return Actor.of_bot(self.bot)
        assert self.platform_app is not None
        return Actor(ActorKind.platform_app, self.platform_app.id, self.platform_app.name)


def _principal(found: tuple[Any, Any] | None) -> Principal:
    """The caller a token row and its owner make, or Unauthorized (no such token, or its owner gone)."""
    row, owner = found if found is not None else (None, None)
    if row is None or owner is None or row.owner_type not in _ROLE:
        raise Unauthorized("Invalid Access Token")
    principal = Principal(kind=row.owner_type, token_id=row.id, last_used_at=row.last_used_at)
    setattr(principal, _ROLE[row.owner_type], owner)
    return principal


_ROLE = {TokenOwner.user: "user", TokenOwner.agent_bot: "bot", TokenOwner.platform_app: "platform_app"}


async def authenticate(session: AsyncSession, token: str | None) -> Principal:
    """Resolve a presented token to its owner, or raise Unauthorized."""
    if not token:
        raise Unauthorized("missing api_access_token header")
    return _principal(await statements.fetch_token(session, hash_token(token.strip())))


async def authenticate_db(db: Any, token: str | None) -> Principal:
    """``authenticate`` on the database's quick connection (every API request)."""
    if not token:
        raise Unauthorized("missing api_access_token header")
    digest = hash_token(token.strip())
    quick = db.quick
    if quick is not None:
        return _principal(statements.fetch_token_raw(quick, digest))
    if not db.is_sqlite:
        return _principal(await statements.fetch_token_quick(db, digest))
    async with db.read() as session:
        return _principal(await statements.fetch_token(session, digest))


def needs_touch(principal: Principal) -> bool:
    return principal.last_used_at is None or time.time() - principal.last_used_at > LAST_USED_RESOLUTION


async def touch(session: AsyncSession, *, token_id: int) -> None:
    """Record the token's last use (at most once a minute per token, see ``needs_touch``)."""
    await session.execute(update(AccessToken).where(AccessToken.id == token_id).values(last_used_at=time.time()))


async def bot_serves_account(session: AsyncSession, *, bot_id: int, account_id: int) -> bool:
    """A system bot acts in an account only where one of the account's inboxes uses it (Chatwoot)."""
    linked = await session.execute(
        select(AgentBotInbox.id).where(AgentBotInbox.agent_bot_id == bot_id, AgentBotInbox.account_id == account_id).limit(1)
    )
    return linked.first() is not None
