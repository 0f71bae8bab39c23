"""Account API: an AI bot's HTTP tools (administrators only: a tool's URL and headers describe
the business's internal APIs). Secrets are accepted, never returned. The rules are core's
(``core.ai.tools``), as for ``ndoto bots tools``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ndoto_cli.core.ai import tools as core_tools
from ndoto_cli.core.errors import Forbidden
from ndoto_cli.core.services import bots
from ndoto_cli.server.deps import JSON, AdminCaller, Db
from ndoto_cli.server.responses import Deleted, ToolOut, ToolTestOut, doc
from ndoto_cli.server.route import AccountRoute
from ndoto_cli.server.schemas import Id, ToolCreate, ToolTest, ToolUpdate

router = APIRouter(prefix="/api/v1/accounts/{account_id}/agent_bots/{bot_id}/tools", route_class=AccountRoute, tags=["agent bot tools"])


async def _bot(s: Any, account_id: int, bot_id: int) -> Any:
    bot = bots.require_ai(await bots.get_bot(s, account_id=account_id, bot_id=bot_id), "tools")
    if bot.account_id != account_id:
        raise Forbidden("a system bot's tools are the installation's: `ndoto bots tools --system` manages them", field="bot_id")
    return bot


def _values(body: ToolUpdate) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True, exclude_none=True)


@router.get("", responses=doc(list[ToolOut]), summary="List an AI bot's tools")
async def list_tools(db: Db, caller: AdminCaller, account_id: Id, bot_id: Id) -> list[JSON]:
    async with db.read() as s:
        bot = await _bot(s, account_id, bot_id)
        return [core_tools.tool_json(t) for t in await core_tools.list_tools(s, bot_id=bot.id)]


@router.post("", responses=doc(ToolOut), summary="Give an AI bot an HTTP tool (its secret is write-only)")
async def add_tool(db: Db, caller: AdminCaller, account_id: Id, bot_id: Id, body: ToolCreate) -> JSON:
    async def go(s: Any) -> JSON:
        return core_tools.tool_json(await core_tools.add_tool(s, bot=await _bot(s, account_id, bot_id), **_values(body)))

    return await db.write(go)


@router.get("/{tool_id}", responses=doc(ToolOut), summary="Show a tool")
async def show_tool(db: Db, caller: AdminCaller, account_id: Id, bot_id: Id, tool_id: Id) -> JSON:
    async with db.read() as s:
        return core_tools.tool_json(await core_tools.find_tool(s, bot=await _bot(s, account_id, bot_id), ref=tool_id))


@router.patch("/{tool_id}", responses=doc(ToolOut), summary="Change a tool")
async def update_tool(db: Db, caller: AdminCaller, account_id: Id, bot_id: Id, tool_id: Id, body: ToolUpdate) -> JSON:
    async def go(s: Any) -> JSON:
        bot = await _bot(s, account_id, bot_id)
        return core_tools.tool_json(await core_tools.update_tool(s, bot=bot, ref=tool_id, **_values(body)))

    return await db.write(go)


@router.delete("/{tool_id}", responses=doc(Deleted), summary="Remove a tool")
async def remove_tool(db: Db, caller: AdminCaller, account_id: Id, bot_id: Id, tool_id: Id) -> JSON:
    async def go(s: Any) -> JSON:
        tool = await core_tools.remove_tool(s, bot=await _bot(s, account_id, bot_id), ref=tool_id)
        return {"id": tool.id, "deleted": True}

    return await db.write(go)


@router.post("/{tool_id}/test", responses=doc(ToolTestOut), summary="Call a tool once with the given arguments (not counted)")
async def test_tool(db: Db, caller: AdminCaller, account_id: Id, bot_id: Id, tool_id: Id, body: ToolTest) -> JSON:
    from ndoto_cli.dispatch.ai.agent import runner_for

    async with db.read() as s:
        tool = await core_tools.find_tool(s, bot=await _bot(s, account_id, bot_id), ref=tool_id)
    runner = runner_for(db.settings)
    try:
        result = await runner.call(tool, body.arguments)
    finally:
        await runner.close()
    return {
        "tool": result.tool, "ok": result.ok, "status": result.status_code, "duration_ms": round(result.duration_ms, 1),
        "request": result.request, "model_sees": result.for_model(), "error": result.error,
    }
