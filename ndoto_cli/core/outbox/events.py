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
    if conversation_id is not None:
        await statements.hold_conversation(session, conversation_id)
    event = {
        "account_id": account_id,
        "conversation_id": conversation_id,
        "name": name,
        "payload": json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
        "created_at": time.time(),
    }
    event_id = await (await statements.raw(session)).append_event(event, recipients, [new_webhook_id() for _ in recipients])
    session.info[NEW_EVENTS] = True
    if recipients:
        session.info[NEW_DELIVERIES] = True
    return event_id
