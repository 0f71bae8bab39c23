"""Read queries shared by the REST API, the CLI and the console (one listing, one meaning)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core.bundle import load_bundle
from ndoto_cli.core.errors import Invalid
from ndoto_cli.core.models import Conversation, Status
from ndoto_cli.core.views import owner_label, render_conversation

PAGE_SIZE = 25
ASSIGNEE_TYPES = ("me", "unassigned", "assigned", "all")


@dataclass
class ConversationPage:
    items: list[dict[str, Any]]
    mine_count: int
    assigned_count: int
    unassigned_count: int
    all_count: int
    inbox_names: dict[int, str] = field(default_factory=dict)  # for people reading the list

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
    bundles = [await load_bundle(session, conv) for conv in rows]
    items = [await render_conversation(session, bundle) for bundle in bundles]
    names = {int(b.inbox.id): b.inbox.name for b in bundles}  # type: ignore[arg-type]
    return ConversationPage(items, counts["mine"], counts["assigned"], counts["unassigned"], counts["all"], names)


TAB_WHERE = {
    "mine": "c.assignee_id = :user_id AND c.status != 'resolved'",
    "bot": "c.status = 'pending' AND c.assignee_id IS NULL",
    "open": "c.status IN ('open', 'snoozed')",
    "resolved": "c.status = 'resolved'",
    "all": "1 = 1",
}
TABS = tuple(TAB_WHERE)


def _tab_filter(tab: str) -> str:
    try:
        return TAB_WHERE[tab]
    except KeyError:
        raise Invalid(f"unknown tab {tab!r}") from None


async def tab_counts(session: AsyncSession, *, account_id: int, user_id: int | None, inbox_id: int | None = None) -> dict[str, int]:
    from sqlalchemy import text

    inbox = " AND c.inbox_id = :inbox_id" if inbox_id is not None else ""
    sums = ", ".join(f"SUM(CASE WHEN {where} THEN 1 ELSE 0 END)" for where in TAB_WHERE.values())
    sql = f"SELECT {sums} FROM conversations c WHERE c.account_id = :account_id{inbox}"
    row = (await session.execute(text(sql), {"account_id": account_id, "user_id": user_id, "inbox_id": inbox_id})).one()
    return {tab: int(value or 0) for tab, value in zip(TABS, row, strict=True)}


@dataclass
class Row:
    display_id: int
    contact: str
    status: str
    last_activity_at: float
    excerpt: str
    owner: str
    inbox: str


def like_pattern(text: str, *, anywhere: bool = True) -> str:
    """A LIKE pattern (with ``ESCAPE '\\'``) that finds ``text`` anywhere, or at the start with
    ``anywhere=False``; its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%" if anywhere else f"{escaped}%"


# Case-insensitive on both databases (SQLite's LIKE ignores ASCII case, PostgreSQL's does not):
# both sides lowered, the pattern lowered once by the caller.
SEARCH_WHERE = (
    "(lower(ct.name) LIKE :q ESCAPE '\\' OR lower(ct.email) LIKE :q ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages sm "
    "WHERE sm.conversation_id = c.id AND lower(sm.content) LIKE :q ESCAPE '\\'))"
)


async def conversation_rows(
    session: AsyncSession, *, account_id: int, tab: str, user_id: int | None, inbox_id: int | None = None,
    limit: int = 100, offset: int = 0, search: str | None = None, status: str | None = None,
    assignee_id: int | None = None, unassigned: bool = False,
) -> list[Row]:
    """One page of a tab, newest activity first, with each row's last public message excerpt.

    ``search`` finds a contact's name or email or any message's text (notes included: agents
    search their own notes too); ``status``, ``inbox_id``, ``assignee_id`` / ``unassigned`` narrow it."""
    from sqlalchemy import text

    where = _tab_filter(tab)
    if search:
        where += f" AND {SEARCH_WHERE}"
    if status:
        where += " AND c.status = :status"
    if assignee_id is not None:
        where += " AND c.assignee_id = :assignee_id"
    elif unassigned:
        where += " AND c.assignee_id IS NULL"
    inbox = " AND c.inbox_id = :inbox_id" if inbox_id is not None else ""
    sql = (
        "SELECT c.display_id, ct.name, c.status, c.last_activity_at, "
        "(SELECT m.content FROM messages m WHERE m.conversation_id = c.id AND NOT m.private AND m.message_type != 2 "
        " ORDER BY m.id DESC LIMIT 1), u.name, cb.name, ib.name, c.assignee_id, i.name "
        "FROM conversations c JOIN contacts ct ON ct.id = c.contact_id JOIN inboxes i ON i.id = c.inbox_id "
        "LEFT JOIN users u ON u.id = c.assignee_id LEFT JOIN agent_bots cb ON cb.id = c.assignee_agent_bot_id "
        "LEFT JOIN agent_bot_inboxes l ON l.inbox_id = c.inbox_id LEFT JOIN agent_bots ib ON ib.id = l.agent_bot_id "
        f"WHERE c.account_id = :account_id{inbox} AND {where} "
        "ORDER BY c.last_activity_at DESC, c.id DESC LIMIT :limit OFFSET :offset"
    )
    rows = (
        await session.execute(
            text(sql), {
                "account_id": account_id, "inbox_id": inbox_id, "limit": limit, "offset": offset, "user_id": user_id,
                "q": like_pattern(search.lower()) if search else None, "status": status, "assignee_id": assignee_id,
            }
        )
    ).all()
    out = []
    for display_id, contact, row_status, last, content, user, conv_bot, inbox_bot, assignee, inbox_name in rows:
        bot = (conv_bot or inbox_bot) if row_status == Status.pending and assignee is None else None
        owner = owner_label(user=user if assignee is not None else None, bot=bot, status=row_status)
        excerpt = " ".join((content or "").split())
        out.append(Row(display_id, contact, row_status, last, excerpt[:60], owner, inbox_name))
    return out


async def completion_names(session: AsyncSession, *, kind: str, account_id: int | None, prefix: str = "", limit: int = 50) -> list[str]:
    """Names a shell may complete: an account's bots (and the system bots it may use), inboxes, or
    agents' emails; ``account_id`` None means system bots. Sorted, at most ``limit``."""
    from ndoto_cli.core.models import AgentBot, Inbox, User

    column: Any
    if kind == "bot":
        column = AgentBot.name
        query = select(column).where(AgentBot.account_id.is_(None) if account_id is None  # type: ignore[union-attr]
                                     else (AgentBot.account_id == account_id) | AgentBot.account_id.is_(None))  # type: ignore[union-attr]
    elif kind == "inbox":
        column = Inbox.name
        query = select(column).where(Inbox.account_id == account_id)
    elif kind == "agent":
        column = User.email
        query = select(column).where(User.account_id == account_id)
    else:
        raise Invalid(f"unknown kind {kind!r}")
    if prefix:
        query = query.where(column.like(like_pattern(prefix, anywhere=False), escape="\\"))
    return sorted({str(n) for n in (await session.execute(query.order_by(column).limit(limit))).scalars()})
