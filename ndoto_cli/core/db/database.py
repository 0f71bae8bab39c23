"""Database access: engines, migrations on open, and the group-committing writer.

Why a single writer: SQLite allows one writer at a time, and on this hardware Python CPU (not the
disk) is the limit. Every state change goes through :meth:`Database.write`, which runs concurrent
callers' changes on one connection in one transaction and commits them together (group commit).
Each caller still gets its result only after its own change is durable. A caller whose change
fails does not take the others down: the batch is rolled back and each change is run again
alone, in a transaction of its own (no savepoints on the common path: they cost two statements
per change). Reads use a separate pooled engine (WAL lets readers run beside the writer).

Several processes (``ndoto serve``, the CLI, the TUI) can share one SQLite file: write
transactions start with ``BEGIN IMMEDIATE`` and wait up to ``busy_timeout`` for each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from ndoto_cli.core.db.migrate import check_known, current, head_revision, upgrade
from ndoto_cli.core.db.sqlite_inline import creator
from ndoto_cli.core.errors import NdotoError
from ndoto_cli.core.limits import SESSION_KEY, Limits, loads_stored
from ndoto_cli.core.settings import Settings

T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000  # how long a writer waits for another process's write lock
INLINE_BUSY_MS = 20  # inline connections wait only briefly: longer waits are asyncio sleeps
MAX_BATCH = 128


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    return make_url(url).database if _is_sqlite(url) else None


def application_name() -> str:
    """This process as PostgreSQL lists it: the ndoto command and the pid."""
    import os
    import sys

    words = [w for w in sys.argv[1:3] if not w.startswith("-")][:1]
    return f"ndoto {words[0] if words else 'python'} {os.getpid()}"[:63]


async def running_on_postgresql(engine: AsyncEngine) -> list[dict[str, Any]]:
    """The `ndoto serve` and `ndoto worker` processes connected to this database, by host."""
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT application_name, coalesce(host(client_addr), 'local'), min(backend_start) FROM pg_stat_activity "
            "WHERE datname = current_database() AND (application_name LIKE 'ndoto serve %' "
            "OR application_name LIKE 'ndoto worker %') GROUP BY 1, 2 ORDER BY 3"
        ))).all()
    out = []
    for name, host, started in rows:
        _ndoto, role, pid = name.split(" ", 2)
        out.append({"role": role, "pid": int(pid) if pid.isdigit() else pid, "address": None, "host": host,
                    "started_at": started.timestamp() if started is not None else None})
    return out


def _make_engine(url: str, *, writer: bool, writers: int = 1) -> AsyncEngine:
    kwargs: dict[str, Any] = {}
    if writer:
        # SQLite: one connection, the group-commit writer's. PostgreSQL: one per concurrent
        # write transaction.
        size = 1 if _is_sqlite(url) else writers
        kwargs.update(pool_size=size, max_overflow=0, pool_timeout=BUSY_TIMEOUT_MS / 1000)
    else:
        # Keep enough readers open for a busy server: opening a connection (SQLite's pragmas; a
        # PostgreSQL backend) per overflowing request cost more than the request itself.
        kwargs.update(pool_size=32, max_overflow=64) if _is_sqlite(url) else kwargs.update(pool_size=16, max_overflow=32)
    path = sqlite_path(url)
    if path and path != ":memory:":
        kwargs["async_creator"] = creator(path, busy_timeout_ms=INLINE_BUSY_MS if writer else 1000)
    if url.startswith("postgresql+asyncpg"):
        # Who is connected, for `ndoto status` (pg_stat_activity): "ndoto serve 4121".
        kwargs["connect_args"] = {"server_settings": {"application_name": application_name()}}
    engine = create_async_engine(url, json_deserializer=loads_stored, **kwargs)
    if _is_sqlite(url):
        begin_sql = "BEGIN IMMEDIATE" if writer else "BEGIN"

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql(begin_sql)

    return engine


def explain(exc: BaseException, settings: Settings) -> str:
    """One line for a database that cannot be used, naming the file and what to do (for every front end)."""
    path = sqlite_path(settings.resolved_database_url) or settings.resolved_database_url
    text = str(getattr(exc, "orig", None) or exc)
    lowered = text.lower()
    if "file is not a database" in lowered or "malformed" in lowered:
        return f"{path} is not an Ndoto database or is damaged: move it away, or put a backup back (ndoto db restore)"
    if "unable to open database file" in lowered:
        return f"cannot open the database {path}: check that its folder exists and is writable"
    if "readonly" in lowered or "read-only" in lowered:
        return f"the database {path} is read-only: Ndoto needs to write to it and its folder"
    if isinstance(exc, PermissionError):
        return f"no permission to use {path}: {exc.strerror}"
    return f"database error ({path}): {text}"


TRANSIENT_RETRIES = 3


def _is_transient(exc: BaseException) -> bool:
    """PostgreSQL's deadlock and serialization failures: another process won; trying again works."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return code in ("40P01", "40001")


def _is_locked(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "database is busy" in text


CommitHook = Callable[[], None]
NEW_DELIVERIES = "ndoto_new_deliveries"  # session.info flag set by core.events.emit
NEW_EVENTS = "ndoto_new_events"  # session.info flag set by core.events.emit for every event
WRITING = "ndoto_writing"  # session.info flag: this session is a write transaction (Database.write)


async def in_written_order(session: AsyncSession, statement: Any, params: dict[str, Any] | None = None) -> Any:
    """Run a many-join statement with its joins taken in the written order on PostgreSQL.

    Why: choosing an order for the nine relations of a conversation's bundle took PostgreSQL's
    planner 19-25 ms, against 0.3-0.6 ms to run the plan (EXPLAIN ANALYZE, 5,000 conversations),
    and the console's rows (seven relations) 4-6 ms against 1; listings with a LIMIT and OFFSET
    are planned again on every call. The statements given here are written in the right order:
    the conversations first, through their indexes, then each neighbour by its key. Planned
    that way: 0.5-0.9 ms. SQLite plans them in microseconds: nothing to do there."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return await session.execute(statement, params)
    await session.execute(text("SET LOCAL join_collapse_limit = 1"))
    try:
        return await session.execute(statement, params)
    finally:
        await session.execute(text("SET LOCAL join_collapse_limit TO DEFAULT"))
CHANNEL = "ndoto_changes"  # PostgreSQL NOTIFY channel: "deliveries" or "events" committed (sent by events.emit)
log = logging.getLogger("ndoto.db")


class Database:
    """One database: a reader engine, a writer engine and the group-commit queue."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limits = Limits.from_settings(settings)
        self.url = settings.resolved_database_url
        path = sqlite_path(self.url)
        if path and path != ":memory:":
            folder = Path(path).parent
            if folder.exists() and not folder.is_dir():
                raise NdotoError(f"{folder} is a file, not a folder: point NDOTO_HOME at a folder (Ndoto keeps ndoto.db in it)")
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise NdotoError(f"cannot create the folder {folder} for the database: {exc.strerror}") from exc
        try:
            self.reader = _make_engine(self.url, writer=False)
            self.writer = _make_engine(self.url, writer=True, writers=settings.database_writers)
        except ImportError as exc:  # the URL names a driver that is not installed
            hint = "pip install 'ndoto-cli[postgresql]'" if "asyncpg" in str(exc) else None
            raise NdotoError(f"the database URL needs a driver that is not installed ({exc.name or exc})", hint=hint) from None
        self._queue: list[tuple[Callable[[AsyncSession], Awaitable[Any]], asyncio.Future[Any]]] = []
        self._writer_task: asyncio.Task[None] | None = None
        self._commit_hooks: list[CommitHook] = []
        self._change_hooks: list[CommitHook] = []
        self._wake_pending = False
        self._quick: Any | None = None
        self._quick_pg: tuple[Any, Any] | None = None  # (SQLAlchemy connection held, its asyncpg connection)
        self._quick_pg_lock = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        self._closing = False
        self.listening = asyncio.Event()  # set while LISTEN is on (PostgreSQL)

    @property
    def quick(self) -> Any | None:
        """A plain sqlite3 connection for the hottest reads (token lookups), or None elsewhere.

        Why: an AsyncSession costs ~0.7 ms to open, begin and close here, more than the query.
        Statements on it run inline and in autocommit, each on a fresh WAL snapshot, and never
        await, so one connection serves every task of the event loop.
        """
        if self._quick is None and self.is_sqlite:
            path = sqlite_path(self.url)
            if path and path != ":memory:":
                import sqlite3

                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA busy_timeout=1000")
                conn.execute("PRAGMA foreign_keys=ON")
                self._quick = conn
        return self._quick

    async def quick_row(self, sql: str, params: dict[str, Any]) -> Any | None:
        """PostgreSQL's :attr:`quick`: one row of a single-statement read, on a connection kept
        for the hottest reads (token lookups), one statement at a time, in autocommit. Why: a
        pool checkout and a session cost ~150 us here, three times the statement. A lost
        connection is replaced on the next call."""
        from ndoto_cli.core.db.statements import positional

        query, names = positional(sql)
        async with self._quick_pg_lock:
            if self._quick_pg is None:
                held = await self.reader.connect()
                self._quick_pg = (held, (await held.get_raw_connection()).driver_connection)
            held, driver = self._quick_pg
            try:
                return await driver.fetchrow(query, *[params[n] for n in names])
            except Exception:
                if driver.is_closed():
                    self._quick_pg = None
                    with contextlib.suppress(Exception):
                        await held.invalidate()
                raise

    @property
    def is_sqlite(self) -> bool:
        return _is_sqlite(self.url)

    @property
    def where(self) -> str:
        """The database as a user knows it: the SQLite file's path, else the URL without password."""
        path = sqlite_path(self.url)
        return path if path and path != ":memory:" else self.display_url

    @functools.cached_property
    def display_url(self) -> str:
        """The URL without a password, for printing."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    async def describe(self) -> dict[str, Any]:
        """Which database this is, for people (`ndoto status`, `ndoto db info`): its engine and
        version, and its size in bytes (the file and its WAL, or PostgreSQL's own count)."""
        from sqlalchemy import text

        if self.is_sqlite:
            import sqlite3

            path = sqlite_path(self.url)
            files = [Path(f"{path}{suffix}") for suffix in ("", "-wal")] if path and path != ":memory:" else []
            return {"engine": "SQLite", "version": sqlite3.sqlite_version,
                    "bytes": sum(f.stat().st_size for f in files if f.exists())}
        async with self.reader.connect() as conn:
            version = (await conn.execute(text("SHOW server_version"))).scalar_one()
            size = (await conn.execute(text("SELECT pg_database_size(current_database())"))).scalar_one()
        return {"engine": "PostgreSQL", "version": str(version).split(" ")[0], "bytes": int(size)}

    async def open(self) -> Database:
        """Apply pending migrations; returns self so ``db = await Database(s).open()`` reads well."""
        if not self.is_sqlite or Path(sqlite_path(self.url) or "").exists():
            revision = await current(self.reader)
            if revision == head_revision():
                return self  # the common case: one query, no write lock, no Alembic
            check_known(revision, where=self.where)
        await self._retry_locked(lambda: upgrade(self.writer))
        return self

    async def _retry_locked(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt``; while another process holds SQLite's write lock, sleep and retry."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BUSY_TIMEOUT_MS / 1000
        delay = 0.002
        while True:
            try:
                return await attempt()
            except Exception as exc:
                if not self.is_sqlite or not _is_locked(exc) or loop.time() > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.1)

    async def close(self) -> None:
        self._closing = True
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._writer_task is not None:
            await asyncio.gather(self._writer_task, return_exceptions=True)
        if self._quick is not None:
            self._quick.close()
            self._quick = None
        if self._quick_pg is not None:
            with contextlib.suppress(Exception):
                await self._quick_pg[0].close()
            self._quick_pg = None
        await self.reader.dispose()
        await self.writer.dispose()

    def on_commit(self, hook: CommitHook) -> None:
        """Call ``hook()`` after a commit that added deliveries (the dispatcher sends them at once):
        this process's commits, and on PostgreSQL every other process's too (LISTEN/NOTIFY)."""
        self._commit_hooks.append(hook)
        self._listen_soon()

    def on_change(self, hook: CommitHook) -> None:
        """Call ``hook()`` after every commit of this process, and on PostgreSQL after another
        process commits an event (live views look at the outbox at once; on SQLite other
        processes' commits reach them by polling)."""
        self._change_hooks.append(hook)
        self._listen_soon()

    def _listen_soon(self) -> None:
        """Start listening for other processes' commits (PostgreSQL) once someone cares."""
        if self.is_sqlite or self._listener is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: polling covers it
        self._listener = loop.create_task(self._listen(), name="ndoto-listen")

    async def _listen(self) -> None:
        """A connection of its own LISTENs on :data:`CHANNEL`; a notification runs the hooks as a
        commit of this process would. Reconnects after a lost connection; meanwhile the hooks'
        owners poll, as on SQLite, so nothing is missed, only later."""
        failures = 0
        while not self._closing:
            try:
                async with self.reader.connect() as conn:
                    driver = (await conn.get_raw_connection()).driver_connection
                    await driver.add_listener(CHANNEL, self._notified)
                    self.listening.set()
                    failures = 0
                    while not self._closing and not driver.is_closed():
                        await asyncio.sleep(1.0)
                    if not driver.is_closed():
                        await driver.remove_listener(CHANNEL, self._notified)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the server restarted, the network went away: retry
                failures += 1
                if failures == 1:
                    log.warning("listening for other processes' changes failed; polling until it works again: %s", exc)
            self.listening.clear()
            if not self._closing:
                await asyncio.sleep(1.0)

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        for hook in self._change_hooks:
            hook()
        if payload == "deliveries":
            for hook in self._commit_hooks:
                hook()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session on the reader engine."""
        async with AsyncSession(self.reader, expire_on_commit=False, info={SESSION_KEY: self.limits}) as session:
            yield session

    async def write(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``fn(session)`` in a transaction, grouped with concurrent writers; commit; return.

        ``fn`` may run twice: when another change of its batch fails, the batch is rolled back and
        each change re-run alone (and on PostgreSQL after a deadlock). So a write function changes
        nothing outside its session; what it decides for the caller, it returns (see the
        dispatcher's ``_claim`` and ``_record``).

        On PostgreSQL there is no batch: each change is a transaction of its own on a pooled
        connection (``NDOTO_DATABASE_WRITERS`` at once), run concurrently with the others. The
        server takes row locks where SQLite takes its one file lock; a change to a conversation
        holds that conversation until it commits (``statements.PostgreSQL.conversation_lock``),
        so its events still take their ids in commit order."""
        if not self.is_sqlite:
            (value,) = await self._transaction([fn])
            self._committed()
            return value
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((fn, future))
        if self._writer_task is None or self._writer_task.done():
            self._writer_task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            await self._run_batch(batch)

    async def _begin(self, session: AsyncSession) -> None:
        """Take the write lock (BEGIN IMMEDIATE), waiting with asyncio sleeps, not inline."""
        if not self.is_sqlite:
            return

        async def attempt() -> None:
            try:
                await session.connection()
            except Exception:
                await session.rollback()
                raise

        await self._retry_locked(attempt)

    async def _run_batch(self, batch: list[tuple[Callable[[AsyncSession], Awaitable[Any]], asyncio.Future[Any]]]) -> None:
        """Run a batch in one transaction; if any change fails, run each alone instead.

        No savepoints on the common path (each costs two statements per change); a failing
        change is rare (bad input is mostly rejected before writing), and re-running the batch's
        changes one by one gives every caller exactly the result it would have had alone.
        """
        try:
            results = await self._transaction([fn for fn, _ in batch])
        except Exception as exc:  # noqa: BLE001 - one change failed (or the commit did)
            if len(batch) == 1:
                self._settle(batch[0][1], False, exc)
                return
            for fn, future in batch:
                try:
                    (value,) = await self._transaction([fn])
                except Exception as single_exc:  # noqa: BLE001 - handed to its caller
                    self._settle(future, False, single_exc)
                else:
                    self._settle(future, True, value)
            self._committed()
            return
        for (_fn, future), value in zip(batch, results, strict=True):
            self._settle(future, True, value)
        self._committed()

    async def _transaction(self, fns: list[Callable[[AsyncSession], Awaitable[Any]]]) -> list[Any]:
        """One transaction; on PostgreSQL a deadlock or serialization failure between processes
        (SQLSTATE 40P01, 40001) is run again, a few times: the changes are write functions, safe
        to re-run (see :meth:`write`)."""
        for attempt in range(TRANSIENT_RETRIES + 1):
            try:
                return await self._transaction_once(fns)
            except Exception as exc:
                if self.is_sqlite or attempt == TRANSIENT_RETRIES or not _is_transient(exc):
                    raise
                await asyncio.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _transaction_once(self, fns: list[Callable[[AsyncSession], Awaitable[Any]]]) -> list[Any]:
        info = {SESSION_KEY: self.limits, WRITING: True}
        async with AsyncSession(self.writer, expire_on_commit=False, autoflush=False, info=info) as session:
            await self._begin(session)
            try:
                results = [await fn(session) for fn in fns]
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            if session.info.get(NEW_DELIVERIES):
                self._wake_pending = True
            return results

    @staticmethod
    def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def _committed(self) -> None:
        """Tell listeners (the dispatcher) that new deliveries are due; other commits stay quiet,
        so the dispatcher's own bookkeeping commits never wake it in a loop."""
        for hook in self._change_hooks:
            hook()
        if not self._wake_pending:
            return
        self._wake_pending = False
        for hook in self._commit_hooks:
            hook()
