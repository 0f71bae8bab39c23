"""Token auth and who-may-call-what.

The header is matched case-insensitively with ``_`` and ``-`` equivalent (``api_access_token``,
``Api-Access-Token``): some proxies and clients rewrite one into the other. An ``Authorization``
header beside it is ignored. Bots may call only an allow-list of endpoints (Chatwoot's, plus
reading the conversations they own); platform tokens only the platform API.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from ndoto_cli.core.errors import Forbidden, Unauthorized
from ndoto_cli.core.models import AgentBotInbox, Role
from ndoto_cli.core.services.tokens import Principal, authenticate_db, needs_touch, touch


def token_from(request: Request) -> str | None:
    for name, value in request.headers.items():
        if name.lower().replace("-", "_") == "api_access_token":
            return value
    return None


async def principal(request: Request) -> Principal:
    db = request.app.state.db
    who = await authenticate_db(db, token_from(request))
    if needs_touch(who):
        await db.write(lambda s: touch(s, token_id=who.token_id))
    return who


@dataclass
class Caller:
    """An authenticated caller inside one account."""

    principal: Principal
    account_id: int

    @property
    def actor(self):
        return self.principal.actor

    @property
    def is_bot(self) -> bool:
        return self.principal.bot is not None

    @property
    def is_admin(self) -> bool:
        return self.principal.user is not None and self.principal.user.role == Role.administrator.value

    def require_user(self) -> None:
        if self.principal.user is None:
            raise Unauthorized("Access to this endpoint is not authorized for bots")

    def require_admin(self) -> None:
        self.require_user()
        if not self.is_admin:
            raise Forbidden("only administrators may do this")


async def account_caller(request: Request, account_id: int) -> Caller:
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
        from sqlalchemy import select

        async with request.app.state.db.read() as session:
            linked = (
                await session.execute(
                    select(AgentBotInbox.id).where(AgentBotInbox.agent_bot_id == bot.id, AgentBotInbox.account_id == account_id)
                )
            ).first()
        if linked is None:
            raise Unauthorized("Bot is not authorized to access this account")
    return Caller(who, account_id)


async def platform_caller(request: Request) -> Principal:
    who = await principal(request)
    if who.platform_app is None:
        raise Unauthorized("Invalid access_token: a platform app token is required")
    return who
