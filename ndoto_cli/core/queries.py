"""Read queries shared by the REST API, the CLI and the console (one listing, one meaning)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core.bundle import Bundle, load_bundle
from ndoto_cli.core.errors import Invalid
from ndoto_cli.core.models import Conversation
from ndoto_cli.core.views import render_conversation

PAGE_SIZE = 25
ASSIGNEE_TYPES = ("me", "unassigned", "assigned", "all")


@dataclass
class ConversationPage:
    items: list[dict[str, Any]]
    mine_count: int
    assigned_count: int
    unassigned_count: int
    all_count: int

    def meta(self) -> dict[str, int]:
        return {
            "mine_count": self.mine_count,
            "assigned_count": self.assigned_count,
            "unassigned_count": self.unassigned_count,
            "all_count": self.all_count,
        }


async def list_conversations(
    session: AsyncSession,
    *,
    account_id: int,
    status: str | None = "open",
    inbox_id: int | None = None,
    assignee_type: str | None = "all",
    user_id: int | None = None,
    assignee_id: int | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> ConversationPage:
    """Chatwoot's listing: status open|pending|resolved|snoozed|all (default open), assignee_type
    me|unassigned|assigned|all, newest activity first, 25 per page, with counts per assignee type."""
    status = (status or "open").lower()
    if status not in ("open", "pending", "resolved", "snoozed", "all"):
        raise Invalid("status must be open, pending, resolved, snoozed or all", field="status")
    assignee_type = (assignee_type or "all").lower()
    if assignee_type not in ASSIGNEE_TYPES:
        raise Invalid("assignee_type must be me, unassigned, assigned or all", field="assignee_type")
    if page < 1:
        raise Invalid("page must be 1 or more", field="page")
    base = select(Conversation).where(Conversation.account_id == account_id)
    if status != "all":
        base = base.where(Conversation.status == status)
    if inbox_id is not None:
        base = base.where(Conversation.inbox_id == inbox_id)
    if assignee_id is not None:
        base = base.where(Conversation.assignee_id == assignee_id)

    async def count(query: Any) -> int:
        return int((await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one())

    mine = base.where(Conversation.assignee_id == user_id) if user_id is not None else None
    assigned = base.where(Conversation.assignee_id.is_not(None))  # type: ignore[union-attr]
    unassigned = base.where(Conversation.assignee_id.is_(None))  # type: ignore[union-attr]
    counts = {
        "mine": await count(mine) if mine is not None else 0,
        "assigned": await count(assigned),
        "unassigned": await count(unassigned),
        "all": await count(base),
    }
    chosen = {"me": mine if mine is not None else base.where(False), "assigned": assigned, "unassigned": unassigned, "all": base}[assignee_type]
    rows = (
        await session.execute(
            chosen.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())  # type: ignore[attr-defined]
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    ).scalars().all()
    items = [await render_conversation(session, await load_bundle(session, conv)) for conv in rows]
    return ConversationPage(items, counts["mine"], counts["assigned"], counts["unassigned"], counts["all"])


async def conversation_bundles(session: AsyncSession, conversations: list[Conversation]) -> list[Bundle]:
    return [await load_bundle(session, conv) for conv in conversations]
