"""Every statement a piece of code runs, recorded at the driver, and its query plan read back.

Why at the driver: the hot path's statements (``core.db.statements``) and the token lookups
(``Database.quick``) bypass SQLAlchemy, so its events would miss the statements that matter most.
SQLite: each connection is made with recording connection and cursor classes (the statement
and its parameters), and ``EXPLAIN QUERY PLAN`` reads its plan with the same parameters bound.
SQLite plans without ``sqlite_stat1`` (Ndoto never runs ANALYZE), so the plan does not depend
on how many rows the test wrote. PostgreSQL: SQLAlchemy's statements from its engine events
(asyncpg's query logger misses the prepared statements its dialect runs), the hand-written
ones from each asyncpg connection's query logger; ``EXPLAIN (FORMAT JSON)`` runs with
``enable_seqscan`` and ``enable_sort`` off, so a sequential scan or a sort in the plan means
no index could avoid it, whatever the table's size.

A full read is: a scan of the table, a walk of a whole index with no condition on it (the
partial indexes of open deliveries excepted: they hold only the queue), or a sort of the rows
under a LIMIT (every matching row read to return a page).
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

WATCHED = ("messages", "conversations", "deliveries")
# Partial indexes over open deliveries: walking them is reading the queue, not the table.
QUEUE_INDEXES = ("ix_deliveries_open_id", "ix_deliveries_open_queue")
_PLANNED = re.compile(r"^\s*(select|update|delete|with|insert\s+into\s+\w+\s*\([^)]*\)\s*select)\b", re.IGNORECASE | re.DOTALL)
_TABLE = re.compile(r"\b(?:from|join|update|into)\s+(\w+)(?:\s+(?:as\s+)?(\w+))?", re.IGNORECASE)
_NOT_ALIAS = {"where", "on", "join", "left", "inner", "outer", "cross", "set", "order", "group", "limit", "using",
              "indexed", "values", "natural", "union", "select", "returning", "default", "as"}


@dataclass
class Recorder:
    statements: list[Any] = field(default_factory=list)  # (SQL, its parameters) as the driver got them
    paused: bool = False  # the test's own checks, not the product's statements

    def add(self, item: Any) -> None:
        if not self.paused:
            self.statements.append(item)

    @contextlib.contextmanager
    def pause(self) -> Iterator[None]:
        self.paused = True
        try:
            yield
        finally:
            self.paused = False

    def distinct(self) -> list[Any]:
        seen: dict[str, Any] = {}
        for item in self.statements:
            key = item[0] + repr(item[1])
            seen.setdefault(key, item)
        return list(seen.values())


@contextlib.contextmanager
def recording(monkeypatch: Any) -> Iterator[Recorder]:
    """Record every statement of every connection opened inside the block (both databases)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    recorder = Recorder()
    original = sqlite3.connect

    class Cursor(sqlite3.Cursor):
        def execute(self, sql: str, parameters: Any = (), /) -> Any:
            recorder.add((sql, parameters))
            return super().execute(sql, parameters)

        def executemany(self, sql: str, seq: Any, /) -> Any:
            seq = list(seq)
            if seq:
                recorder.add((sql, seq[0]))
            return super().executemany(sql, seq)

    class Connection(sqlite3.Connection):
        def cursor(self, factory: Any = Cursor) -> Any:  # type: ignore[override]
            return super().cursor(factory)

        def execute(self, sql: str, parameters: Any = (), /) -> Any:
            return self.cursor().execute(sql, parameters)

        def executemany(self, sql: str, seq: Any, /) -> Any:
            return self.cursor().executemany(sql, seq)

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        kwargs.setdefault("factory", Connection)
        return original(*args, **kwargs)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and hasattr(driver, "add_query_logger"):
            driver.add_query_logger(lambda q: recorder.add((q.query, tuple(q.args or ()))))

    def before_execute(conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool) -> None:
        # asyncpg's query logger misses prepared statements, which SQLAlchemy's dialect uses.
        if conn.dialect.name == "postgresql":
            recorder.add((statement, tuple(parameters[0] if executemany and parameters else parameters or ())))

    monkeypatch.setattr(sqlite3, "connect", connect)
    event.listen(Pool, "connect", on_connect)
    event.listen(Engine, "before_cursor_execute", before_execute)
    try:
        yield recorder
    finally:
        event.remove(Engine, "before_cursor_execute", before_execute)
        event.remove(Pool, "connect", on_connect)
        monkeypatch.setattr(sqlite3, "connect", original)


def _tables(sql: str) -> dict[str, str]:
    """Alias (or name) -> table, for the tables a statement names."""
    out: dict[str, str] = {}
    for table, alias in _TABLE.findall(sql):
        out[table.lower()] = table.lower()
        if alias and alias.lower() not in _NOT_ALIAS:
            out[alias.lower()] = table.lower()
    return out


def watched(sql: str) -> bool:
    return bool(_PLANNED.match(sql)) and any(t in WATCHED for t in _tables(sql).values())


def sqlite_full_reads(path: str, statements: list[tuple[str, Any]]) -> list[str]:
    """``statement: plan line`` for each full read of a watched table."""
    problems = []
    conn = sqlite3.connect(path)  # after recording(): the standard library's own class
    try:
        for sql, parameters in statements:
            if not watched(sql):
                continue
            names = _tables(sql)
            # With the parameters bound, as the statement ran: a literal could pick a partial
            # index that the prepared statement cannot use.
            rows = conn.execute("EXPLAIN QUERY PLAN " + sql, parameters).fetchall()
            has_limit = re.search(r"\blimit\b", sql, re.IGNORECASE) is not None
            for _id, _parent, _unused, detail in rows:
                scan = re.match(r"SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?", detail)
                if scan and names.get(scan.group(1).lower()) in WATCHED and scan.group(2) not in QUEUE_INDEXES:
                    problems.append(_problem(detail, sql, parameters))
                if detail.startswith("USE TEMP B-TREE FOR") and "ORDER BY" in detail and has_limit:
                    problems.append(_problem(detail, sql, parameters))
    finally:
        conn.close()
    return problems


async def postgresql_full_reads(url: str, statements: list[tuple[str, tuple[Any, ...]]]) -> list[str]:
    import json

    import asyncpg

    problems = []
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        # Off, a sequential scan or a sort in the plan means no index could avoid it.
        await conn.execute("SET enable_seqscan = off")
        await conn.execute("SET enable_sort = off")
        for sql, args in statements:
            if not watched(sql):
                continue
            # EXPLAIN without ANALYZE plans a write without running it.
            # An executemany's query logger gives every row's arguments: then its first row is planned.
            try:
                found = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
            except (asyncpg.InterfaceError, asyncpg.DataError):
                found = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args[0])
            plan = json.loads(found)[0]["Plan"]
            problems.extend(_problem(problem, sql, args) for problem in _pg_problems(plan, under_limit=False))
    finally:
        await conn.close()
    return problems


def _pg_problems(node: dict[str, Any], *, under_limit: bool) -> Iterator[str]:
    kind = node["Node Type"]
    relation = node.get("Relation Name")
    if relation in WATCHED:
        if kind == "Seq Scan":
            yield f"Seq Scan on {relation}"
        # A walk of the whole primary key is how the planner reads a table in id order when no
        # index serves the statement. (Walks of other indexes are left out: on a table of a few
        # rows, with sequential scans off, PostgreSQL sometimes walks a small index to join.)
        if kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in node and str(node.get("Index Name")).endswith("_pkey"):
            yield f"{kind} of all of {node.get('Index Name')} on {relation}"
    if kind == "Sort" and under_limit and _reads_watched(node):
        yield f"Sort of every row ({node.get('Sort Key')})"
    below_limit = under_limit or kind == "Limit"
    for child in node.get("Plans", []):
        yield from _pg_problems(child, under_limit=below_limit and kind not in ("Aggregate",))


def _reads_watched(node: dict[str, Any]) -> bool:
    return node.get("Relation Name") in WATCHED or any(_reads_watched(c) for c in node.get("Plans", []))


def _problem(what: str, sql: str, parameters: Any) -> str:
    return f"{what}: {' '.join(sql.split())} {parameters!r}"
