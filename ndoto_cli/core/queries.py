"""Read queries shared by the REST API, the CLI and the console (one listing, one meaning)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import false, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core.bundle import load_bundles
from ndoto_cli.core.db.database import in_written_order
from ndoto_cli.core.errors import Invalid
from ndoto_cli.core.models import Conversation, Status
from ndoto_cli.core.views import owner_label, render_conversations

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
    where: list[Any] = [Conversation.account_id == account_id]
    counted = []  # the same filters on the counts' rows
    if status != "all":
        where.append(Conversation.status == status)
        counted.append("c.status = :status")
    if inbox_id is not None:
        where.append(Conversation.inbox_id == inbox_id)
        counted.append("c.inbox_id = :inbox_id")
    if assignee_id is not None:
        where.append(Conversation.assignee_id == assignee_id)
        counted.append("c.assignee_id = :assignee_id")
    counts = await _counted(
        session, COUNT_WHERE, account_id=account_id, where=counted,
        params={"status": status, "inbox_id": inbox_id, "assignee_id": assignee_id, "user_id": user_id},
    )
    chosen = {
        "me": Conversation.assignee_id == user_id if user_id is not None else false(),
        "assigned": Conversation.assignee_id.is_not(None),  # type: ignore[union-attr]
        "unassigned": Conversation.assignee_id.is_(None),  # type: ignore[union-attr]
        "all": true(),
    }[assignee_type]
    bundles = await load_bundles(
        session, *where, chosen,
        order_by=(Conversation.last_activity_at.desc(), Conversation.id.desc()),  # type: ignore[attr-defined]
        limit=page_size, offset=(page - 1) * page_size,
    )
    items = await render_conversations(session, bundles)
    names = {int(b.inbox.id): b.inbox.name for b in bundles}  # type: ignore[arg-type]
    return ConversationPage(items, counts["mine"], counts["assigned"], counts["unassigned"], counts["all"], names)


# The counts read the rows migration 0018's triggers keep per account, inbox, status and assignee
# (a few rows, whatever the size of the account), presented with the conversations' own column
# names so that the tabs' rules below are written once and serve the listing and the counts.
COUNTS = (
    "(SELECT account_id, inbox_id, status, CASE WHEN assignee_id = 0 THEN NULL ELSE assignee_id END AS assignee_id, n"
    " FROM conversation_counts) c"
)
COUNT_WHERE = {
    "mine": "c.assignee_id = :user_id",
    "assigned": "c.assignee_id IS NOT NULL",
    "unassigned": "c.assignee_id IS NULL",
    "all": "1 = 1",
}


async def _counted(
    session: AsyncSession, cases: dict[str, str], *, account_id: int, where: list[str], params: dict[str, Any],
) -> dict[str, int]:
    """How many conversations of the account match each of ``cases`` (SQL over a conversation
    ``c``), within ``where``."""
    sums = ", ".join(f"SUM(CASE WHEN {case} THEN c.n ELSE 0 END)" for case in cases.values())
    filters = "".join(f" AND {w}" for w in where)
    sql = f"SELECT {sums} FROM {COUNTS} WHERE c.account_id = :account_id{filters}"
    row = (await session.execute(text(sql), {**params, "account_id": account_id})).one()
    return {name: int(value or 0) for name, value in zip(cases, row, strict=True)}


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
    return await _counted(
        session, TAB_WHERE, account_id=account_id, where=["c.inbox_id = :inbox_id"] if inbox_id is not None else [],
        params={"user_id": user_id, "inbox_id": inbox_id},
    )


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
        await in_written_order(
            session, text(sql), {
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
