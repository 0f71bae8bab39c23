"""Platform API: system bots (no account: usable by every account), with a platform-app token.

A platform app sees and changes only the bots it created (Chatwoot's permissible list), and
creates system bots only: an account's bots are its administrators' (``bots.platform_bot``).
"""

from __future__ import annotations

from fastapi import APIRouter

from ndoto_cli.core.services import bots
from ndoto_cli.core.views import bot_json
from ndoto_cli.server.deps import JSON, Db, PlatformApp
from ndoto_cli.server.responses import BotOut, Deleted, doc
from ndoto_cli.server.route import PlatformRoute
from ndoto_cli.server.schemas import BotCreate, BotUpdate, Id, bot_changes

router = APIRouter(prefix="/platform/api/v1", tags=["platform"], route_class=PlatformRoute)


@router.get("/agent_bots", responses=doc(list[BotOut]), summary="List the system bots this platform app created")
async def list_(db: Db, app: PlatformApp) -> list[JSON]:
    async with db.read() as s:
        rows = await bots.platform_bots(s, platform_app_id=app.platform_app.id)  # type: ignore[union-attr]
    return [bot_json(b, include_secret=True) for b in rows]


@router.post("/agent_bots", responses=doc(BotOut), summary="Create a system bot (its token is in this answer only)")
async def create(db: Db, app: PlatformApp, body: BotCreate) -> JSON:
    changes = bot_changes(body)
    bot, token = await db.write(
        lambda s: bots.create_platform_bot(s, platform_app_id=app.platform_app.id, account_id=body.account_id, **changes)  # type: ignore[union-attr]
    )
    return bot_json(bot, access_token=token, include_secret=True)


@router.get("/agent_bots/{bot_id}", responses=doc(BotOut), summary="Show a system bot")
async def show(db: Db, app: PlatformApp, bot_id: Id) -> JSON:
    async with db.read() as s:
        bot = await bots.platform_bot(s, platform_app_id=app.platform_app.id, bot_id=bot_id)  # type: ignore[union-attr]
    return bot_json(bot, include_secret=True)


async def _update(db: Db, app: PlatformApp, bot_id: int, body: BotUpdate) -> JSON:
    changes = bot_changes(body)

    async def go(s: object) -> object:
        bot = await bots.platform_bot(s, platform_app_id=app.platform_app.id, bot_id=bot_id)  # type: ignore[arg-type, union-attr]
        return await bots.update_bot(s, account_id=bot.account_id, bot_id=bot_id, **changes)  # type: ignore[arg-type]

    return bot_json(await db.write(go), include_secret=True)


@router.patch("/agent_bots/{bot_id}", responses=doc(BotOut), summary="Update a system bot")
async def patch(db: Db, app: PlatformApp, bot_id: Id, body: BotUpdate) -> JSON:
    return await _update(db, app, bot_id, body)


@router.put("/agent_bots/{bot_id}", responses=doc(BotOut), summary="Update a system bot (same as PATCH)")
async def put(db: Db, app: PlatformApp, bot_id: Id, body: BotUpdate) -> JSON:
    return await _update(db, app, bot_id, body)


@router.delete("/agent_bots/{bot_id}", responses=doc(Deleted), summary="Delete a system bot")
async def delete(db: Db, app: PlatformApp, bot_id: Id) -> JSON:
    async def go(s: object) -> object:
        bot = await bots.platform_bot(s, platform_app_id=app.platform_app.id, bot_id=bot_id)  # type: ignore[arg-type, union-attr]
        return await bots.delete_bot(s, account_id=bot.account_id, bot_id=bot_id)  # type: ignore[arg-type]

    await db.write(go)
    return {"id": bot_id, "deleted": True}
