"""Delivery bookkeeping: claim due deliveries in order, record outcomes, retry, hand off, prune.

Claiming takes only the head of each (bot, conversation) queue, so a bot sees a conversation's
events one at a time and in order, while different conversations and bots proceed in parallel.
A claim is a lease: ``delivering`` with ``next_attempt_at`` = lease expiry. A process killed
mid-delivery leaves its leases to expire, and the delivery is claimed again with the same
``webhook_id`` (at-least-once, with the receiver's idempotency key unchanged).
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core import fastpath, routing
from ndoto_cli.core.actors import SYSTEM
from ndoto_cli.core.bundle import load_bundle
from ndoto_cli.core.db import NEW_DELIVERIES
from ndoto_cli.core.errors import Invalid, NotFound
from ndoto_cli.core.limits import row_id
from ndoto_cli.core.models import (
    Account,
    AgentBot,
    Conversation,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    Status,
)
from ndoto_cli.core.settings import Settings

LEASE_MARGIN = 5.0  # seconds beyond an attempt's timeout: an expired lease means a dead process
AI_LEASE = 180.0  # an AI agent's turn (retrieval + model + reply) may take longer than a POST
EXCERPT = 2048
MESSAGE_EVENTS = ("message_created", "message_updated")


@dataclass
class Claimed:
    delivery_id: int
    webhook_id: str
    event_id: int
    event_name: str
    payload: str
    bot_id: int
    bot_type: str
    outgoing_url: str | None
    secret: str
    timeout: float | None
    disabled_reason: str | None
    account_id: int | None
    conversation_id: int | None
    attempts: int  # including this one
    streak: int = 0  # deliveries of its queue claimed back to back before it by a worker (not stored)


# What a claim reads of a delivery, in Claimed's field order (attempts last: +1 for this one).
_CLAIM_COLUMNS = (
    "d.id, d.webhook_id, d.event_id, e.name, e.payload, d.agent_bot_id, b.bot_type, b.outgoing_url, b.secret, "
    "b.timeout, b.disabled_reason, d.account_id, d.conversation_id, d.attempts"
)
_CLAIM_JOINS = "JOIN events e ON e.id = d.event_id JOIN agent_bots b ON b.id = d.agent_bot_id"

_CLAIM_SQL = (
    f"SELECT {_CLAIM_COLUMNS} FROM deliveries d {{hint}} {_CLAIM_JOINS} "
    "WHERE d.status IN ('pending', 'delivering') AND d.next_attempt_at <= :now "
    "AND (d.conversation_id IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.agent_bot_id = d.agent_bot_id "
    "AND p.conversation_id = d.conversation_id AND p.id < d.id AND p.status IN ('pending', 'delivering'))) "
    "{skip}ORDER BY d.id LIMIT :limit"
)


def lease_seconds(claimed: Claimed, settings: Settings) -> float:
    if claimed.bot_type == "ai_agent":
        return AI_LEASE
    return (claimed.timeout or settings.delivery_timeout) + LEASE_MARGIN


def _claimed(row: Any) -> Claimed:
    return Claimed(*row[:13], attempts=row[13] + 1)


async def _lease(session: AsyncSession, claimed: list[Claimed], *, settings: Settings, now: float) -> None:
    """Mark claimed deliveries as being delivered, counting this attempt, under a lease."""
    if claimed:
        await fastpath.execute(
            session,
            "UPDATE deliveries SET status = 'delivering', attempts = attempts + 1, next_attempt_at = :lease, "
            "updated_at = :now WHERE id = :id",
            [{"lease": now + lease_seconds(c, settings), "now": now, "id": c.delivery_id} for c in claimed],
        )


@dataclass
class Claims:
    """What one scan leased. ``crowded``: bots that had more due deliveries than room (the rest
    wait for the next scan). ``complete``: the scan saw every due delivery it could take."""

    claimed: list[Claimed]
    crowded: set[int]
    complete: bool


async def claim(
    session: AsyncSession,
    *,
    limit: int,
    settings: Settings,
    exclude: set[int] | frozenset[int] = frozenset(),
    held: Mapping[int, int] | None = None,
    per_bot: int | None = None,
    bot_id: int | None = None,
) -> Claims:
    """Lease up to ``limit`` due deliveries (heads of their queues), oldest first.

    ``held`` (deliveries each bot already has claimed) and ``per_bot`` cap what one bot may hold,
    so a bot with a deep backlog cannot take the worker's whole capacity: bots at their cap are
    left out of the scan, and a bot's heads beyond its room are not leased. ``bot_id``: scan
    only that bot's deliveries."""
    now = time.time()
    held = held or {}
    full = sorted(b for b, n in held.items() if per_bot is not None and n >= per_bot)
    skip = f"AND d.agent_bot_id NOT IN ({', '.join(str(int(b)) for b in full)}) " if full else ""
    if bot_id is not None:
        skip += f"AND d.agent_bot_id = {int(bot_id)} "
    fetch = limit + len(exclude)
    params = {"now": now, "limit": fetch}
    raw = await fastpath.raw_sqlite(session)
    if raw is not None:
        # Walk open deliveries in id order and stop at the first heads (SQLite otherwise sorts
        # every due row on each claim: the whole backlog, many times a second).
        rows = raw.execute(_CLAIM_SQL.format(hint="INDEXED BY ix_deliveries_open_id", skip=skip), params).fetchall()
    else:
        from sqlalchemy import text

        rows = (await session.execute(text(_CLAIM_SQL.format(hint="", skip=skip)), params)).all()
    claimed: list[Claimed] = []
    crowded: set[int] = set()
    taken: dict[int, int] = {}
    for row in rows:
        if row[0] in exclude:
            continue
        if len(claimed) == limit:
            break
        bot_id = row[5]
        if per_bot is not None and held.get(bot_id, 0) + taken.get(bot_id, 0) >= per_bot:
            crowded.add(bot_id)
            continue
        taken[bot_id] = taken.get(bot_id, 0) + 1
        claimed.append(_claimed(row))
    await _lease(session, claimed, settings=settings, now=now)
    return Claims(claimed, crowded, complete=len(rows) < fetch)


_QUEUE_HEAD_SQL = (
    f"SELECT {_CLAIM_COLUMNS}, d.next_attempt_at FROM deliveries d {_CLAIM_JOINS} "
    "WHERE d.agent_bot_id = :bot AND d.conversation_id = :conversation AND d.status IN ('pending', 'delivering') "
    "ORDER BY d.id LIMIT 1"
)


async def claim_queues(
    session: AsyncSession, *, queues: list[tuple[int, int]], settings: Settings, exclude: set[int] | frozenset[int] = frozenset()
) -> list[Claimed]:
    """Lease the next delivery of each given (bot, conversation) queue, if it is due.

    The worker calls this for queues whose delivery it just finished: one indexed lookup per
    queue instead of a scan past every blocked delivery of the backlog. ``exclude``: deliveries
    this worker has in flight (never claimed twice, even with an expired lease).
    """
    if not queues:
        return []
    raw = await fastpath.raw_sqlite(session)
    if raw is None:
        return (await claim(session, limit=len(queues), settings=settings, exclude=exclude)).claimed
    now = time.time()
    claimed: list[Claimed] = []
    for bot_id, conversation_id in queues:
        row = raw.execute(_QUEUE_HEAD_SQL, {"bot": bot_id, "conversation": conversation_id}).fetchone()
        if row is None or row[14] > now or row[0] in exclude:
            continue  # empty, waiting for its retry time, or leased by a live worker
        claimed.append(_claimed(row))
    await _lease(session, claimed, settings=settings, now=now)
    return claimed


async def renew_lease(session: AsyncSession, claimed: Claimed, *, settings: Settings) -> bool:
    """Extend a claim's lease before its attempt starts (it waited for a free slot of its bot).
    False: the lease ran out meanwhile and another worker claimed the delivery; leave it to that one."""
    now = time.time()
    changed = await fastpath.execute(
        session,
        "UPDATE deliveries SET next_attempt_at = :lease, updated_at = :now "
        "WHERE id = :id AND status = 'delivering' AND attempts = :attempts",
        {"lease": now + lease_seconds(claimed, settings), "now": now, "id": claimed.delivery_id, "attempts": claimed.attempts},
    )
    return changed == 1


async def release(session: AsyncSession, claimed: list[Claimed]) -> int:
    """Give back claims whose attempt never started (the worker is stopping): due again at once,
    with the attempt they were counted for taken back."""
    if not claimed:
        return 0
    now = time.time()
    return await fastpath.execute(
        session,
        "UPDATE deliveries SET status = 'pending', attempts = attempts - 1, next_attempt_at = :now, updated_at = :now "
        "WHERE id = :id AND status = 'delivering' AND attempts = :attempts",
        [{"now": now, "id": c.delivery_id, "attempts": c.attempts} for c in claimed],
    )


@dataclass
class Result:
    """One attempt's outcome, as the worker hands it back for recording."""

    claimed: Claimed
    ok: bool
    retryable: bool
    started_at: float
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None
    retry_after: float | None = None
    disable_reason: str | None = None


def next_attempt_at(settings: Settings, attempts: int, retry_after: float | None, now: float) -> float:
    if retry_after is not None:
        return now + max(0.0, retry_after)
    return now + settings.retry_delay(attempts) * (1.0 + random.random() * 0.2)


async def record(session: AsyncSession, results: list[Result], *, settings: Settings) -> list[int]:
    """Record a batch of outcomes; returns the ids of deliveries that failed for good."""
    now = time.time()
    updates: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    failed: list[int] = []
    for r in results:
        c = r.claimed
        excerpt = (r.response_excerpt or "")[:EXCERPT] or None
        attempts.append(
            {
                "delivery_id": c.delivery_id, "started_at": r.started_at, "duration_ms": r.duration_ms,
                "status_code": r.status_code, "error": r.error, "response_excerpt": excerpt,
            }
        )
        if r.ok:
            status, due, delivered_at = DeliveryStatus.delivered.value, now, now
        elif r.retryable and c.attempts < settings.delivery_max_attempts:
            status, due, delivered_at = DeliveryStatus.pending.value, next_attempt_at(settings, c.attempts, r.retry_after, now), None
        else:
            status, due, delivered_at = DeliveryStatus.failed.value, now, None
            failed.append(c.delivery_id)
        updates.append(
            {
                "id": c.delivery_id, "status": status, "due": due, "code": r.status_code, "error": r.error,
                "response": excerpt, "now": now, "delivered_at": delivered_at,
            }
        )
        if r.disable_reason:
            await fastpath.execute(
                session, "UPDATE agent_bots SET disabled_reason = :reason, updated_at = :now WHERE id = :id",
                {"reason": r.disable_reason, "now": now, "id": c.bot_id},
            )
    if attempts:
        await fastpath.execute(
            session,
            "INSERT INTO delivery_attempts (delivery_id, started_at, duration_ms, status_code, error, response_excerpt) "
            "VALUES (:delivery_id, :started_at, :duration_ms, :status_code, :error, :response_excerpt)",
            attempts,
        )
        await fastpath.execute(
            session,
            "UPDATE deliveries SET status = :status, next_attempt_at = :due, last_status_code = :code, "
            "last_error = :error, last_response = :response, updated_at = :now, delivered_at = :delivered_at "
            "WHERE id = :id",
            updates,
        )
    return failed


async def handoff_if_stuck(
    session: AsyncSession, *, claimed: Claimed, reason: str, settings: Settings, final: bool
) -> bool:
    """The customer must not wait forever for an unreachable bot: once its quick retries are
    spent (``settings.handoff_after`` seconds since the event) or the delivery failed for good,
    a message event's conversation that the bot still owns goes to humans (status open, with an
    activity message saying why) unless the bot, the account or the server keeps it pending."""
    if claimed.event_name not in MESSAGE_EVENTS or claimed.conversation_id is None:
        return False
    delivery = await session.get(Delivery, claimed.delivery_id)
    if delivery is None or delivery.handed_off:
        return False
    if not final and time.time() - delivery.created_at < settings.handoff_after:
        return False
    conv = await session.get(Conversation, claimed.conversation_id)
    bot = await session.get(AgentBot, claimed.bot_id)
    if conv is None or bot is None:
        return False
    account = await session.get(Account, conv.account_id)
    keep = bot.keep_pending_on_failure
    if keep is None:
        keep = (account.keep_pending_on_bot_failure if account else False) or settings.keep_pending_on_bot_failure
    if keep:
        return False
    bundle = await load_bundle(session, conv)
    if routing.owner_bot_id(bundle) != bot.id:
        return False
    from ndoto_cli.core.services.conversations import apply_status

    delivery.handed_off = True
    await apply_status(
        session, bundle, Status.open.value, actor=SYSTEM,
        activity=f"Conversation was handed to a human: bot {bot.name} could not be reached ({reason})",
    )
    return True


async def list_deliveries(
    session: AsyncSession,
    *,
    account_id: int | None = None,
    bot_id: int | None = None,
    status: str | None = None,
    since: float | None = None,
    limit: int = 50,
) -> list[tuple[Delivery, str]]:
    """Newest first, with the event name."""
    query = select(Delivery, Event.name).join(Event, Event.id == Delivery.event_id)
    if status is not None:
        if status not in {s.value for s in DeliveryStatus}:
            raise Invalid("status must be pending, delivering, delivered or failed", field="status")
        query = query.where(Delivery.status == status)
    if account_id is not None:
        query = query.where((Delivery.account_id == account_id) | Delivery.account_id.is_(None))  # type: ignore[union-attr]
    if bot_id is not None:
        query = query.where(Delivery.agent_bot_id == bot_id)
    if since is not None:
        query = query.where(Delivery.created_at >= since)
    rows = (await session.execute(query.order_by(Delivery.id.desc()).limit(limit))).all()  # type: ignore[union-attr]
    return [(d, name) for d, name in rows]


async def get_delivery(session: AsyncSession, *, delivery_id: int, account_id: int | None = None) -> tuple[Delivery, Event, list[DeliveryAttempt]]:
    delivery = await session.get(Delivery, row_id(delivery_id, what="delivery"))
    if delivery is None or (account_id is not None and delivery.account_id not in (None, account_id)):
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
        if delivery.status in (DeliveryStatus.delivered.value, DeliveryStatus.delivering.value):
            continue
        delivery.status = DeliveryStatus.pending.value
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
    query = select(Delivery.id).where(Delivery.status == DeliveryStatus.failed.value)
    if account_id is not None:
        query = query.where((Delivery.account_id == account_id) | Delivery.account_id.is_(None))  # type: ignore[union-attr]
    if bot_id is not None:
        query = query.where(Delivery.agent_bot_id == bot_id)
    if since is not None:
        query = query.where(Delivery.created_at >= since)
    return [int(i) for i in (await session.execute(query.order_by(Delivery.id))).scalars()]


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
                select(Delivery.id).where(Delivery.status == DeliveryStatus.delivered.value, Delivery.created_at < cutoff)
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
            select(Delivery.status).where(Delivery.agent_bot_id == bot_id).order_by(Delivery.id.desc()).limit(last)  # type: ignore[union-attr]
        )
    ).scalars().all()
    out: dict[str, int] = {}
    for status in rows:
        out[status] = out.get(status, 0) + 1
    return out


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


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    rows = (await session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))).all()
    return {status: int(n) for status, n in rows}


