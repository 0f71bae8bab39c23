"""The delivery queue the dispatcher works: claim due deliveries in order, record outcomes, hand
stuck conversations to humans.

Claiming takes only the head of each (bot, conversation) queue, so a bot sees a conversation's
events one at a time and in order, while different conversations and bots proceed in parallel.
A claim is a lease: ``delivering`` with ``next_attempt_at`` = lease expiry. A process killed
mid-delivery leaves its leases to expire, and the delivery is claimed again with the same
``webhook_id`` (at-least-once, with the receiver's idempotency key unchanged).

The types here are the contract with the transports: a :class:`Claimed` delivery goes in, an
:class:`Outcome` comes out, and the worker records a :class:`Result` (both, with the start time).
Operators' views of deliveries (list, show, retry, prune) are ``core.services.deliveries``.
"""

from __future__ import annotations

import functools
import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core import routing
from ndoto_cli.core.actors import SYSTEM
from ndoto_cli.core.bundle import load_bundle
from ndoto_cli.core.db import statements
from ndoto_cli.core.models import Account, AgentBot, BotType, Conversation, Delivery, DeliveryStatus
from ndoto_cli.core.services.bots import set_disabled
from ndoto_cli.core.services.handoff import hand_to_humans
from ndoto_cli.core.settings import Settings

LEASE_MARGIN = 5.0  # seconds beyond an attempt's timeout: an expired lease means a dead process
AI_LEASE = 180.0  # an AI agent's turn (retrieval + model + reply) may take longer than a POST
EXCERPT = 2048
MESSAGE_EVENTS = ("message_created", "message_updated")


@dataclass
class Claimed:
    """A delivery leased for one attempt: what a transport needs to send it, read in the claim."""

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

    @functools.cached_property
    def data(self) -> dict[str, Any]:
        """The payload, parsed (once) for transports that read it (the AI agent)."""
        return json.loads(self.payload)


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
    "{skip}ORDER BY d.id LIMIT :limit{lock}"
)
# The dialects' index hint and locking clause: ``statements.SQLite`` / ``statements.PostgreSQL``.


def lease_seconds(claimed: Claimed, settings: Settings) -> float:
    if claimed.bot_type == BotType.ai_agent:
        return AI_LEASE
    return (claimed.timeout or settings.delivery_timeout) + LEASE_MARGIN


def _claimed(row: Any) -> Claimed:
    return Claimed(*row[:13], attempts=row[13] + 1)


async def _lease(session: AsyncSession, claimed: list[Claimed], *, settings: Settings, now: float) -> None:
    """Mark claimed deliveries as being delivered, counting this attempt, under a lease."""
    if claimed:
        await statements.execute(
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
    raw = await statements.raw(session)
    rows = await raw.all(_CLAIM_SQL.format(hint=raw.claim_hint, skip=skip, lock=raw.claim_lock), params)
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


# One queue's head; ``{bot}`` and ``{conversation}`` are filled in by the dialect (``heads``).
_QUEUE_HEAD_SQL = (
    f"SELECT {_CLAIM_COLUMNS}, d.next_attempt_at FROM deliveries d {_CLAIM_JOINS} "
    "WHERE d.agent_bot_id = {bot} AND d.conversation_id = {conversation} AND d.status IN ('pending', 'delivering') "
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
    raw = await statements.raw(session)
    now = time.time()
    claimed: list[Claimed] = []
    for row in await raw.heads(_QUEUE_HEAD_SQL, sorted(queues)):
        if row is None or row[14] > now or row[0] in exclude:
            continue  # empty, waiting for its retry time, or leased by a live worker
        claimed.append(_claimed(row))
    await _lease(session, claimed, settings=settings, now=now)
    return claimed


async def renew_lease(session: AsyncSession, claimed: Claimed, *, settings: Settings) -> bool:
    """Extend a claim's lease before its attempt starts (it waited for a free slot of its bot).
    False: the lease ran out meanwhile and another worker claimed the delivery; leave it to that one."""
    now = time.time()
    changed = await statements.execute(
        session,
        "UPDATE deliveries SET next_attempt_at = :lease, updated_at = :now "
        "WHERE id = :id AND status = 'delivering' AND attempts = :attempts",
        {"lease": now + lease_seconds(claimed, settings), "now": now, "id": claimed.delivery_id, "attempts": claimed.attempts},
    )
    return changed == 1


async def release(session: AsyncSession, claimed: list[Claimed]) -> None:
    """Give back claims whose attempt never started (the worker is stopping): due again at once,
    with the attempt they were counted for taken back."""
    if not claimed:
        return
    now = time.time()
    await statements.execute(
        session,
        "UPDATE deliveries SET status = 'pending', attempts = attempts - 1, next_attempt_at = :now, updated_at = :now "
        "WHERE id = :id AND status = 'delivering' AND attempts = :attempts",
        [{"now": now, "id": c.delivery_id, "attempts": c.attempts} for c in claimed],
    )


@dataclass
class Outcome:
    """What one attempt did, as a transport reports it.

    ``ok`` -> delivered. Otherwise ``retryable`` says whether to try again (timeouts, connection
    errors, 408, 429, 5xx) and ``retry_after`` (seconds) overrides the backoff when the receiver
    said so. ``disable_reason`` stops all deliveries to the bot (e.g. 410 Gone).
    """

    ok: bool
    retryable: bool = False
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None
    retry_after: float | None = None
    duration_ms: float = 0.0
    disable_reason: str | None = None


@dataclass
class Result:
    """One attempt to record: the claim, what the transport reported, when it started."""

    claimed: Claimed
    outcome: Outcome
    started_at: float


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
    for result in results:
        c, r = result.claimed, result.outcome
        excerpt = (r.response_excerpt or "")[:EXCERPT] or None
        attempts.append(
            {
                "delivery_id": c.delivery_id, "started_at": result.started_at, "duration_ms": r.duration_ms,
                "status_code": r.status_code, "error": r.error, "response_excerpt": excerpt,
            }
        )
        if r.ok:
            status, due, delivered_at = DeliveryStatus.delivered, now, now
        elif r.retryable and c.attempts < settings.delivery_max_attempts:
            status, due, delivered_at = DeliveryStatus.pending, next_attempt_at(settings, c.attempts, r.retry_after, now), None
        else:
            status, due, delivered_at = DeliveryStatus.failed, now, None
            failed.append(c.delivery_id)
        updates.append(
            {
                "id": c.delivery_id, "status": status, "due": due, "code": r.status_code, "error": r.error,
                "response": excerpt, "now": now, "delivered_at": delivered_at,
            }
        )
        if r.disable_reason:
            await set_disabled(session, bot_id=c.bot_id, reason=r.disable_reason)
    if attempts:
        await statements.execute(
            session,
            "INSERT INTO delivery_attempts (delivery_id, started_at, duration_ms, status_code, error, response_excerpt) "
            "VALUES (:delivery_id, :started_at, :duration_ms, :status_code, :error, :response_excerpt)",
            attempts,
        )
        await statements.execute(
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
    delivery.handed_off = True
    await hand_to_humans(
        session, bundle=bundle, actor=SYSTEM,
        activity=f"Conversation was handed to a human: bot {bot.name} could not be reached ({reason})",
        reason=f"unreachable: {reason}",
    )
    return True


