"""The outbox: an event row and its deliveries, written in the caller's transaction.

Lean Core inserts (not ORM units of work): this runs on every change, and per-row ORM overhead
would cost more than the rest of a message write (DESIGN.md's performance table).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core.models import Delivery, DeliveryStatus, Event

EVENT_NAMES = (
    "message_created",
    "message_updated",
    "conversation_opened",
    "conversation_resolved",
    "conversation_status_changed",
    "conversation_updated",
    "webwidget_triggered",
)


def new_webhook_id() -> str:
    """Standard Webhooks message id: stable across retries of one delivery (the idempotency key)."""
    return "msg_" + uuid.uuid4().hex


async def emit(
    session: AsyncSession,
    *,
    name: str,
    account_id: int | None,
    conversation_id: int | None,
    payload: dict[str, Any],
    recipients: list[int],
) -> int:
    """Append ``name`` with its payload and one pending delivery per recipient bot; return event id."""
    now = time.time()
    result = await session.execute(
        insert(Event).values(
            name=name,
            account_id=account_id,
            conversation_id=conversation_id,
            payload=json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
            created_at=now,
        )
    )
    event_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    if recipients:
        await session.execute(
            insert(Delivery),
            [
                {
                    "event_id": event_id,
                    "agent_bot_id": bot_id,
                    "account_id": account_id,
                    "conversation_id": conversation_id,
                    "webhook_id": new_webhook_id(),
                    "status": DeliveryStatus.pending.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "handed_off": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for bot_id in recipients
            ],
        )
    return event_id
