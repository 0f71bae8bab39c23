"""Platform API: system bots (no account: usable by every account), with a platform-app token.

A platform app sees and changes only the bots it created (Chatwoot's permissible list).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ndoto_cli.core.errors import Unauthorized
from ndoto_cli.core.models import AgentBot
from ndoto_cli.core.services import bots
from ndoto_cli.core.views import bot_json
from ndoto_cli.server.auth import platform_caller
from ndoto_cli.server.responses import BotOut, Deleted, doc
from ndoto_cli.server.schemas import BotCreate, BotUpdate, Id, bot_settings

router = APIRouter(prefix="/platform/api/v1", tags=["platform"])
JSON = dict[str, Any]


async def _mine(request: Request, bot_id: Id) -> tuple[Any, AgentBot]:
    who = await platform_caller(request)
    async with request.app.state.db.read() as s:
        bot = await s.get(AgentBot, bot_id)
    if bot is None or bot.platform_app_id != who.platform_app.id:  # type: ignore[union-attr]
        raise Unauthorized("Non permissible resource")
    return who, bot


@router.get("/agent_bots", responses=doc(list[BotOut]), summary="List the system bots this platform app created")
async def list_(request: Request) -> list[JSON]:
    who = await platform_caller(request)
    async with request.app.state.db.read() as s:
        rows = await bots.list_bots(s, account_id=None)
    return [bot_json(b, include_secret=True) for b in rows if b.platform_app_id == who.platform_app.id]  # type: ignore[union-attr]


@router.post("/agent_bots", responses=doc(BotOut), summary="Create a system bot (its token is in this answer only)")
async def create(request: Request, body: BotCreate) -> JSON:
    who = await platform_caller(request)
    bot, token = await request.app.state.db.write(
        lambda s: bots.create_bot(
            s, account_id=body.account_id, name=body.name, bot_type=str(body.bot_type), outgoing_url=body.outgoing_url,
            description=body.description, platform_app_id=who.platform_app.id, timeout=body.timeout,  # type: ignore[union-attr]
            keep_pending_on_failure=body.keep_pending_on_failure, **bot_settings(body.bot_config),
        )
    )
    return bot_json(bot, access_token=token, include_secret=True)


@router.get("/agent_bots/{bot_id}", responses=doc(BotOut), summary="Show a system bot")
async def show(request: Request, bot_id: Id) -> JSON:
    _who, bot = await _mine(request, bot_id)
    return bot_json(bot, include_secret=True)


async def _update(request: Request, bot_id: Id, body: BotUpdate) -> JSON:
    _who, bot = await _mine(request, bot_id)
    changes = {
        "name": body.name, "description": body.description, "outgoing_url": body.outgoing_url,
        "timeout": body.timeout, "keep_pending_on_failure": body.keep_pending_on_failure,
        "bot_type": str(body.bot_type) if body.bot_type is not None else None, **bot_settings(body.bot_config),
    }
    updated = await request.app.state.db.write(
        lambda s: bots.update_bot(s, account_id=bot.account_id, bot_id=bot_id, **changes)
    )
    return bot_json(updated, include_secret=True)


@router.patch("/agent_bots/{bot_id}", responses=doc(BotOut), summary="Update a system bot")
async def patch(request: Request, bot_id: Id, body: BotUpdate) -> JSON:
    return await _update(request, bot_id, body)


@router.put("/agent_bots/{bot_id}", responses=doc(BotOut), summary="Update a system bot (same as PATCH)")
async def put(request: Request, bot_id: Id, body: BotUpdate) -> JSON:
    return await _update(request, bot_id, body)


@router.delete("/agent_bots/{bot_id}", responses=doc(Deleted), summary="Delete a system bot")
async def delete(request: Request, bot_id: Id) -> JSON:
    _who, bot = await _mine(request, bot_id)
    await request.app.state.db.write(lambda s: bots.delete_bot(s, account_id=bot.account_id, bot_id=bot_id))
    return {"id": bot_id, "deleted": True}
