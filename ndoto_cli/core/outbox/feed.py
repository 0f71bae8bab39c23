"""The outbox read as a change feed: every event once, in commit order, none skipped.

The live views (the console's inbox, the website widget's hub) remember where they are and ask
for what came after. On SQLite one writer commits at a time, so ids commit in order and "after
the last id read" is exact. On PostgreSQL transactions commit concurrently (a pool of writers,
several processes): event 41 may commit after event 42 was read, and "after 42" would skip it
for good. So there each event records its transaction id (``txid``, migration 0009) and a reader
takes only events of transactions older than every transaction still running
(``pg_snapshot_xmin``): those can no longer change. It reads them in (txid, id) order; an event
whose transaction is still running is read once it has finished. The cost: a long-running
transaction anywhere in the database holds the live views back until it ends (Ndoto's own
transactions last milliseconds).

A conversation's events are in id order on both databases (a write holds its conversation until
it commits), so per-conversation readers (the widget's replay) can go by id alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class Mark:
    """Where a reader is: after this event (SQLite: ``txid`` is always 0)."""

    txid: int
    id: int


@dataclass
class Page:
    rows: list[Any]  # (id, account_id, conversation_id, name, payload), in commit order
    mark: Mark  # after the last of them (unchanged when there were none)


def _postgresql(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


async def start(session: AsyncSession) -> Mark:
    """A mark after everything committed so far, for a reader that begins now (on PostgreSQL a
    few of the newest events may be read again: better twice than never)."""
    if _postgresql(session):
        xmin = (await session.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"))).scalar_one()
        return Mark(int(xmin), 0)
    newest = (await session.execute(text("SELECT COALESCE(MAX(id), 0) FROM events"))).scalar_one()
    return Mark(0, int(newest))


async def after(session: AsyncSession, mark: Mark, *, limit: int, account_id: int | None = None) -> Page:
    """Up to ``limit`` events after ``mark`` (of one account, if given), and the mark after them."""
    where = " AND account_id = :account_id" if account_id is not None else ""
    params: dict[str, Any] = {"id": mark.id, "limit": limit, "account_id": account_id}
    if _postgresql(session):
        params["txid"] = mark.txid
        rows = (await session.execute(text(
            "SELECT id, account_id, conversation_id, name, payload, txid::text::bigint FROM events "
            "WHERE (txid, id) > (CAST(:txid AS xid8), :id) AND txid < pg_snapshot_xmin(pg_current_snapshot())"
            f"{where} ORDER BY txid, id LIMIT :limit"
        ), params)).all()
        if not rows:
            return Page([], mark)
        return Page([tuple(r[:5]) for r in rows], Mark(int(rows[-1][5]), int(rows[-1][0])))
    rows = (await session.execute(text(
        f"SELECT id, account_id, conversation_id, name, payload FROM events WHERE id > :id{where} ORDER BY id LIMIT :limit"
    ), params)).all()
    return Page([tuple(r) for r in rows], Mark(0, int(rows[-1][0])) if rows else mark)


async def newest_of_link(session: AsyncSession, link_id: int) -> int:
    """The newest event id of one visitor's conversations (a contact in an inbox): where its
    live stream starts. Read before its thread, so a change between the two is replayed, never
    skipped; per conversation ids commit in order, so id alone is exact here."""
    return int((await session.execute(text(
        "SELECT COALESCE(MAX(e.id), 0) FROM events e WHERE e.conversation_id IN "
        "(SELECT c.id FROM conversations c WHERE c.contact_inbox_id = :link)"
    ), {"link": link_id})).scalar_one())
