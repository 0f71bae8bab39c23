"""Account API: deliveries to bots (administrators): list, show with attempts, retry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ndoto_cli.core.services import deliveries
from ndoto_cli.server.auth import account_caller
from ndoto_cli.server.responses import DeliveryOut, Retried, doc
from ndoto_cli.server.schemas import Body, DbId, Id, OptId

router = APIRouter(prefix="/api/v1/accounts/{account_id}", tags=["deliveries"])
JSON = dict[str, Any]


class RetryBody(Body):
    failed: bool = True
    agent_bot_id: DbId | None = None
    since: float | None = None


@router.get("/deliveries", responses=doc(list[DeliveryOut]), summary="Deliveries, newest first (filters: agent_bot_id, status, since)")
async def list_(request: Request, account_id: Id, agent_bot_id: OptId = None, status: str | None = None,
                since: float | None = None, limit: int = 50) -> list[JSON]:
    caller = await account_caller(request, account_id)
    caller.require_admin()
    async with request.app.state.db.read() as s:
        rows = await deliveries.list_deliveries(
            s, account_id=account_id, bot_id=agent_bot_id, status=status, since=since, limit=max(1, min(limit, 1000))
        )
    return [deliveries.delivery_json(d, name) for d, name in rows]


@router.get("/deliveries/{delivery_id}", responses=doc(DeliveryOut), summary="A delivery with every attempt")
async def show(request: Request, account_id: Id, delivery_id: Id) -> JSON:
    caller = await account_caller(request, account_id)
    caller.require_admin()
    async with request.app.state.db.read() as s:
        d, event, attempts = await deliveries.get_delivery(s, delivery_id=delivery_id, account_id=account_id)
    return {**deliveries.delivery_json(d, event.name), "attempt_log": [deliveries.attempt_json(a) for a in attempts]}


@router.post("/deliveries/{delivery_id}/retry", responses=doc(Retried), summary="Make a delivery due again (same webhook-id)")
async def retry_one(request: Request, account_id: Id, delivery_id: Id) -> JSON:
    caller = await account_caller(request, account_id)
    caller.require_admin()
    async with request.app.state.db.read() as s:
        await deliveries.get_delivery(s, delivery_id=delivery_id, account_id=account_id)
    done = await request.app.state.db.write(lambda s: deliveries.retry(s, delivery_ids=[delivery_id]))
    return {"retried": done}


@router.post("/deliveries/retry", responses=doc(Retried), summary="Retry every failed delivery (optionally of one bot, since a time)")
async def retry_failed(request: Request, account_id: Id, body: RetryBody | None = None) -> JSON:
    caller = await account_caller(request, account_id)
    caller.require_admin()
    body = body or RetryBody()
    async with request.app.state.db.read() as s:
        ids = await deliveries.failed_ids(s, account_id=account_id, bot_id=body.agent_bot_id, since=body.since)
    done = 0
    for start in range(0, len(ids), 200):
        done += await request.app.state.db.write(lambda s, part=ids[start : start + 200]: deliveries.retry(s, delivery_ids=part))
    return {"retried": done, "considered": len(ids)}
