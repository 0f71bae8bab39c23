"""Token auth: who is calling, and in which account.

The header is matched case-insensitively with ``_`` and ``-`` equivalent (``api_access_token``,
``Api-Access-Token``): some proxies and clients rewrite one into the other. An ``Authorization``
header beside it is ignored. The check runs before the request's body is read (see
``server.route``): an unauthenticated request gets its 401 without costing a parse. What each
caller may then do is decided by the dependencies of ``server.deps`` and by core.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from ndoto_cli.core.errors import Forbidden, Invalid, TooManyRequests, Unauthorized
from ndoto_cli.core.models import Role
from ndoto_cli.core.services.tokens import Principal, authenticate_db, bot_serves_account, needs_touch, touch


def token_from(request: Request) -> str | None:
    for name, value in request.headers.items():
        if name.lower().replace("-", "_") == "api_access_token":
            return value
    return None


def client_key(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


async def principal(request: Request) -> Principal:
    """The token's owner, or 401; repeated failures from one client address are slowed (429)."""
    limiter = request.app.state.auth_failures
    key = client_key(request)
    wait = limiter.wait(key)
    if wait is not None:
        raise TooManyRequests("too many failed token checks from this address", retry_after=wait)
    db = request.app.state.db
    try:
        who = await authenticate_db(db, token_from(request))
    except Unauthorized:
        limiter.hit(key)
        raise
    if needs_touch(who):
        await db.write(lambda s: touch(s, token_id=who.token_id))
    return who


@dataclass
class Caller:
    """An authenticated caller inside one account."""

    principal: Principal
    account_id: int

    @property
    def actor(self):  # core.actors.Actor
        return self.principal.actor

    @property
    def is_bot(self) -> bool:
        return self.principal.bot is not None

    @property
    def bot_id(self) -> int | None:
        return self.principal.bot.id if self.principal.bot is not None else None

    @property
    def is_admin(self) -> bool:
        return self.principal.user is not None and self.principal.user.role == Role.administrator

    def require_user(self) -> None:
        if self.principal.user is None:
            raise Unauthorized("Access to this endpoint is not authorized for bots")

    def require_admin(self) -> None:
        self.require_user()
        if not self.is_admin:
            raise Forbidden("only administrators may do this")


async def account_caller(request: Request) -> Caller:
    """The caller of an account route (``/api/v1/accounts/{account_id}/...``)."""
    raw = request.path_params.get("account_id", "")
    try:
        account_id = int(raw)
    except ValueError:
        raise Invalid(f"account_id must be a number, not {str(raw)[:40]!r}", field="account_id") from None
    who = await principal(request)
    if who.platform_app is not None:
        raise Unauthorized("Access to this endpoint is not authorized for platform apps")
    if who.user is not None:
        if who.user.account_id != account_id:
            raise Unauthorized("You are not authorized to access this account")
        return Caller(who, account_id)
    bot = who.bot
    assert bot is not None
    if bot.account_id is not None and bot.account_id != account_id:
        raise Unauthorized("Bot is not authorized to access this account")
    if bot.account_id is None:
        async with request.app.state.db.read() as session:
            if not await bot_serves_account(session, bot_id=bot.id, account_id=account_id):  # type: ignore[arg-type]
                raise Unauthorized("Bot is not authorized to access this account")
    return Caller(who, account_id)


async def platform_caller(request: Request) -> Principal:
    who = await principal(request)
    if who.platform_app is None:
        raise Unauthorized("Invalid access_token: a platform app token is required")
    return who
