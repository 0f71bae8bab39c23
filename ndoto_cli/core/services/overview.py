"""The state of an installation at a glance (``ndoto status``): what waits, what fails, what will."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core.models import AgentBot, Conversation, Delivery, DeliveryStatus
from ndoto_cli.core.services import bots

DAY = 86_400.0


async def overview(session: AsyncSession, settings: Any, *, account_id: int | None = None) -> dict[str, Any]:
    """Counts of conversations by status and of deliveries due, retrying and failed; the bots that
    need attention (disabled, or failing in the last day); and the warnings of every bot."""
    now = time.time()
    conv = select(Conversation.status, func.count()).group_by(Conversation.status)
    if account_id is not None:
        conv = conv.where(Conversation.account_id == account_id)
    conversations = {"open": 0, "pending": 0, "snoozed": 0, "resolved": 0}
    conversations.update({str(status): int(n) for status, n in (await session.execute(conv)).all()})

    def deliveries(*where: Any) -> Any:
        query = select(func.count()).select_from(Delivery).where(*where)
        return query.where(Delivery.account_id == account_id) if account_id is not None else query

    waiting = Delivery.status.in_((DeliveryStatus.pending, DeliveryStatus.delivering))  # type: ignore[attr-defined]
    counts = {
        "due": int((await session.execute(deliveries(waiting, Delivery.next_attempt_at <= now))).scalar_one()),
        "retrying_later": int((await session.execute(deliveries(waiting, Delivery.next_attempt_at > now))).scalar_one()),
        "failed": int((await session.execute(deliveries(Delivery.status == DeliveryStatus.failed))).scalar_one()),
        "failed_last_day": int((await session.execute(
            deliveries(Delivery.status == DeliveryStatus.failed, Delivery.updated_at >= now - DAY))).scalar_one()),
    }
    failing = dict((await session.execute(
        select(Delivery.agent_bot_id, func.count()).where(Delivery.status == DeliveryStatus.failed, Delivery.updated_at >= now - DAY)
        .group_by(Delivery.agent_bot_id)
    )).all())
    attention = []
    query = select(AgentBot).order_by(AgentBot.id)
    if account_id is not None:
        query = query.where((AgentBot.account_id == account_id) | AgentBot.account_id.is_(None))  # type: ignore[union-attr]
    for bot in (await session.execute(query)).scalars():
        if bot.disabled_reason or failing.get(bot.id):
            attention.append({"id": bot.id, "name": bot.name, "disabled_reason": bot.disabled_reason,
                              "failed_last_day": int(failing.get(bot.id, 0))})
    return {"conversations": conversations, "deliveries": counts, "bots_needing_attention": attention,
            "warnings": await bots.every_warning(session, settings)}
