"""Deliveries as operators see them: list, show with attempts, retry, prune, health.

The queue the dispatcher works (claim, lease, record, failure handoff) is ``core.outbox.queue``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core.db import NEW_DELIVERIES
from ndoto_cli.core.errors import Invalid, NotFound
from ndoto_cli.core.limits import row_id
from ndoto_cli.core.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
)

NEWEST_FIRST = (Delivery.created_at.desc(), Delivery.id.desc())  # type: ignore[attr-defined,union-attr]


async def list_deliveries(
    session: AsyncSession,
    *,
    account_id: int | None = None,
    bot_id: int | None = None,
    status: str | None = None,
    since: float | None = None,
    limit: int = 50,
) -> list[tuple[Delivery, str]]:
    """Newest first (created time, then id: the order of the listing indexes), with the event name."""
    query = select(Delivery, Event.name).join(Event, Event.id == Delivery.event_id)
    if status is not None:
        if status not in {s.value for s in DeliveryStatus}:
            raise Invalid("status must be pending, delivering, delivered or failed", field="status")
        query = query.where(Delivery.status == status)
    query = _narrowed(query, account_id=account_id, bot_id=bot_id, since=since)
    rows = (await session.execute(query.order_by(*NEWEST_FIRST).limit(limit))).all()
    return [(d, name) for d, name in rows]


def _narrowed(query: Any, *, account_id: int | None, bot_id: int | None, since: float | None) -> Any:
    """An account's deliveries (to its bots and to system bots alike: every delivery carries its
    conversation's account), of one bot, since a time: for every listing."""
    if account_id is not None:
        query = query.where(Delivery.account_id == account_id)
    if bot_id is not None:
        query = query.where(Delivery.agent_bot_id == bot_id)
    if since is not None:
        query = query.where(Delivery.created_at >= since)
    return query


async def get_delivery(session: AsyncSession, *, delivery_id: int, account_id: int | None = None) -> tuple[Delivery, Event, list[DeliveryAttempt]]:
    delivery = await session.get(Delivery, row_id(delivery_id, what="delivery"))
    if delivery is None or (account_id is not None and delivery.account_id != account_id):
        raise NotFound(f"delivery {delivery_id} not found")
    event = await session.get(Event, delivery.event_id)
    assert event is not None
    attempts = list(
        (
            await session.execute(
                select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id).order_by(DeliveryAttempt.id)
            )
        ).scalars()
    )
    return delivery, event, attempts


async def retry(session: AsyncSession, *, delivery_ids: list[int]) -> int:
    """Make failed (or waiting) deliveries due now, with a fresh attempt budget; same webhook id."""
    now = time.time()
    count = 0
    for delivery_id in delivery_ids:
        delivery = await session.get(Delivery, row_id(delivery_id, what="delivery"))
        if delivery is None:
            raise NotFound(f"delivery {delivery_id} not found")
        if delivery.status in (DeliveryStatus.delivered, DeliveryStatus.delivering):
            continue
        delivery.status = DeliveryStatus.pending
        delivery.attempts = 0
        delivery.next_attempt_at = now
        delivery.updated_at = now
        count += 1
    await session.flush()
    if count:
        session.info[NEW_DELIVERIES] = True
    return count


async def failed_ids(
    session: AsyncSession, *, account_id: int | None = None, bot_id: int | None = None, since: float | None = None
) -> list[int]:
    query = _narrowed(select(Delivery.id).where(Delivery.status == DeliveryStatus.failed), account_id=account_id, bot_id=bot_id, since=since)
    return [int(i) for i in (await session.execute(query.order_by(Delivery.created_at, Delivery.id))).scalars()]  # the status index's order


RETRY_CHUNK = 200  # deliveries per transaction: a big retry never holds the write lock for long


async def retry_failed(
    db: Any, *, account_id: int | None = None, bot_id: int | None = None, since: float | None = None,
    on_progress: Any = None,
) -> tuple[int, int]:
    """Make every failed delivery (of an account, a bot, since a time) due again, in chunks of
    ``RETRY_CHUNK`` per transaction; ``on_progress(n)`` after each chunk. Returns (retried, found)."""
    async with db.read() as session:
        ids = await failed_ids(session, account_id=account_id, bot_id=bot_id, since=since)
    done = 0
    for start in range(0, len(ids), RETRY_CHUNK):
        part = ids[start : start + RETRY_CHUNK]
        done += await db.write(lambda s, part=part: retry(s, delivery_ids=part))
        if on_progress is not None:
            on_progress(len(part))
    return done, len(ids)


async def prune(session: AsyncSession, *, older_than_days: float) -> int:
    """Drop delivered deliveries (and their attempts) older than the retention; failures stay."""
    cutoff = time.time() - older_than_days * 86400
    ids = [
        int(i)
        for i in (
            await session.execute(
                select(Delivery.id).where(Delivery.status == DeliveryStatus.delivered, Delivery.created_at < cutoff)
            )
        ).scalars()
    ]
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        await session.execute(DeliveryAttempt.__table__.delete().where(DeliveryAttempt.delivery_id.in_(part)))  # type: ignore[attr-defined]
        await session.execute(Delivery.__table__.delete().where(Delivery.id.in_(part)))  # type: ignore[attr-defined]
    return len(ids)


async def health(session: AsyncSession, *, bot_id: int, last: int = 20) -> dict[str, int]:
    """Statuses of a bot's most recent deliveries (for bot lists)."""
    rows = (
        await session.execute(
            select(Delivery.status).where(Delivery.agent_bot_id == bot_id).order_by(*NEWEST_FIRST).limit(last)
        )
    ).scalars().all()
    out: dict[str, int] = {}
    for status in rows:
        out[status] = out.get(status, 0) + 1
    return out


async def bot_names(session: AsyncSession, bot_ids: list[int]) -> dict[int, str]:
    """Bot names by id, for people reading a list of deliveries."""
    from ndoto_cli.core.models import AgentBot

    ids = sorted(set(bot_ids))
    if not ids:
        return {}
    rows = (await session.execute(select(AgentBot.id, AgentBot.name).where(AgentBot.id.in_(ids)))).all()  # type: ignore[union-attr]
    return {int(i): n for i, n in rows}


def delivery_json(delivery: Delivery, event_name: str) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event": event_name,
        "agent_bot_id": delivery.agent_bot_id,
        "account_id": delivery.account_id,
        "conversation_id": delivery.conversation_id,
        "webhook_id": delivery.webhook_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": int(delivery.next_attempt_at),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "last_response": delivery.last_response,
        "handed_off": delivery.handed_off,
        "created_at": int(delivery.created_at),
        "delivered_at": int(delivery.delivered_at) if delivery.delivered_at else None,
    }


def attempt_json(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "started_at": attempt.started_at,
        "duration_ms": round(attempt.duration_ms, 1),
        "status_code": attempt.status_code,
        "error": attempt.error,
        "response_excerpt": attempt.response_excerpt,
    }


def detail_json(delivery: Delivery, event: Event, attempts: list[DeliveryAttempt]) -> dict[str, Any]:
    """One delivery as ``deliveries show`` and the API show it: its state, the payload the bot was
    sent (what to replay by hand when debugging a bot), and every attempt."""
    return {**delivery_json(delivery, event.name), "payload": json.loads(event.payload), "attempt_log": [attempt_json(a) for a in attempts]}
