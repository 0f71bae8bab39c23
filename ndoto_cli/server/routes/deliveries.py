"""Account API: deliveries to bots (administrators): list, show with attempts, retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from ndoto_cli.core import limits
from ndoto_cli.core.services import deliveries
from ndoto_cli.server.deps import JSON, AdminCaller, Db
from ndoto_cli.server.responses import DeliveryOut, Retried, doc
from ndoto_cli.server.route import AccountRoute
from ndoto_cli.server.schemas import Body, DbId, Id, OptId

router = APIRouter(prefix="/api/v1/accounts/{account_id}", tags=["deliveries"], route_class=AccountRoute)
Since = Annotated[float | None, Query(ge=0, le=limits.MAX_TIMESTAMP, description="Unix seconds")]


class RetryBody(Body):
    failed: bool = True
    agent_bot_id: DbId | None = None
    since: Annotated[float, Field(ge=0, le=limits.MAX_TIMESTAMP)] | None = None


@router.get("/deliveries", responses=doc(list[DeliveryOut]), summary="Deliveries, newest first (filters: agent_bot_id, status, since)")
async def list_(db: Db, caller: AdminCaller, account_id: Id, agent_bot_id: OptId = None, status: str | None = None,
                since: Since = None, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[JSON]:
    async with db.read() as s:
        rows = await deliveries.list_deliveries(s, account_id=account_id, bot_id=agent_bot_id, status=status, since=since, limit=limit)
    return [deliveries.delivery_json(d, name) for d, name in rows]


@router.get("/deliveries/{delivery_id}", responses=doc(DeliveryOut), summary="A delivery with every attempt")
async def show(db: Db, caller: AdminCaller, account_id: Id, delivery_id: Id) -> JSON:
    async with db.read() as s:
        d, event, attempts = await deliveries.get_delivery(s, delivery_id=delivery_id, account_id=account_id)
    return deliveries.detail_json(d, event, attempts)


@router.post("/deliveries/{delivery_id}/retry", responses=doc(Retried), summary="Make a delivery due again (same webhook-id)")
async def retry_one(db: Db, caller: AdminCaller, account_id: Id, delivery_id: Id) -> JSON:
    async with db.read() as s:
        await deliveries.get_delivery(s, delivery_id=delivery_id, account_id=account_id)
    done = await db.write(lambda s: deliveries.retry(s, delivery_ids=[delivery_id]))
    return {"retried": done}


@router.post("/deliveries/retry", responses=doc(Retried), summary="Retry every failed delivery (optionally of one bot, since a time)")
async def retry_failed(db: Db, caller: AdminCaller, account_id: Id, body: RetryBody | None = None) -> JSON:
    body = body or RetryBody()
    done, considered = await deliveries.retry_failed(db, account_id=account_id, bot_id=body.agent_bot_id, since=body.since)
    return {"retried": done, "considered": considered}
