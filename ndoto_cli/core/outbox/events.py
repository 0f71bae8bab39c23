"""The outbox: an event row and its deliveries, written in the caller's transaction.

Lean statements (``core.fastpath``), not ORM units of work: this runs on every change, and
per-statement ORM overhead would cost more than the rest of a message write.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core.db import NEW_DELIVERIES, NEW_EVENTS, statements
from ndoto_cli.core.models import DeliveryStatus


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
    event_id = await statements.insert_returning_id(
        session,
        "INSERT INTO events (account_id, conversation_id, name, payload, created_at) "
        "VALUES (:account_id, :conversation_id, :name, :payload, :created_at) RETURNING id",
        {
            "account_id": account_id,
            "conversation_id": conversation_id,
            "name": name,
            "payload": json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
            "created_at": now,
        },
    )
    session.info[NEW_EVENTS] = True
    if recipients:
        session.info[NEW_DELIVERIES] = True
        await statements.execute(
            session,
            "INSERT INTO deliveries (event_id, agent_bot_id, account_id, conversation_id, webhook_id, status, "
            "attempts, next_attempt_at, handed_off, created_at, updated_at) VALUES (:event_id, :agent_bot_id, "
            ":account_id, :conversation_id, :webhook_id, :status, 0, :now, false, :now, :now)",
            [
                {
                    "event_id": event_id,
                    "agent_bot_id": bot_id,
                    "account_id": account_id,
                    "conversation_id": conversation_id,
                    "webhook_id": new_webhook_id(),
                    "status": DeliveryStatus.pending,
                    "now": now,
                }
                for bot_id in recipients
            ],
        )
    return event_id
