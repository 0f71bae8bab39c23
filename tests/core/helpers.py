"""Helpers for core tests: read back events and deliveries from the outbox."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ndoto_cli.core.db import Database
from ndoto_cli.core.models import Delivery, Event


@dataclass
class Sent:
    event_id: int
    name: str
    payload: dict[str, Any]
    bots: list[int]


async def outbox(db: Database, *, after: int = 0) -> list[Sent]:
    async with db.read() as session:
        events = (await session.execute(select(Event).where(Event.id > after).order_by(Event.id))).scalars().all()
        rows = (await session.execute(select(Delivery).order_by(Delivery.id))).scalars().all()
    by_event: dict[int, list[int]] = {}
    for d in rows:
        by_event.setdefault(d.event_id, []).append(d.agent_bot_id)
    return [Sent(e.id, e.name, json.loads(e.payload), sorted(by_event.get(e.id, []))) for e in events]


async def last_event_id(db: Database) -> int:
    sent = await outbox(db)
    return sent[-1].event_id if sent else 0


def delivered_to(sent: list[Sent], bot_id: int) -> list[str]:
    """Names of the events that have a delivery for ``bot_id``, in order."""
    return [s.name for s in sent if bot_id in s.bots]
