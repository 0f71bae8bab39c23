"""Database access: engines, migrations on open, and the group-committing writer.

Why a single writer: SQLite allows one writer at a time, and on this hardware Python CPU (not the
disk) is the limit. Every state change goes through :meth:`Database.write`, which runs concurrent
callers' changes on one connection, each inside its own savepoint, and commits them together
(group commit). Each caller still gets its result only after its own change is durable, and a
caller whose change fails is rolled back alone. Reads use a separate pooled engine (WAL lets
readers run beside the writer).

Several processes (``ndoto serve``, the CLI, the TUI) can share one SQLite file: write
transactions start with ``BEGIN IMMEDIATE`` and wait up to ``busy_timeout`` for each other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from ndoto_cli.core.settings import Settings

T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000
MAX_BATCH = 128


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _make_engine(url: str, *, writer: bool) -> AsyncEngine:
    kwargs: dict[str, Any] = {}
    if writer:
        kwargs.update(pool_size=1, max_overflow=0, pool_timeout=BUSY_TIMEOUT_MS / 1000)
    engine = create_async_engine(url, **kwargs)
    if _is_sqlite(url):
        begin_sql = "BEGIN IMMEDIATE" if writer else "BEGIN"

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take transaction control from the driver so we can say BEGIN IMMEDIATE.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql(begin_sql)

    return engine


CommitHook = Callable[[], None]


class Database:
    """One database: a reader engine, a writer engine and the group-commit queue."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.resolved_database_url
        if _is_sqlite(self.url):
            path = self.url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.reader = _make_engine(self.url, writer=False)
        self.writer = _make_engine(self.url, writer=True)
        self._queue: list[tuple[Callable[[AsyncSession], Awaitable[Any]], asyncio.Future[Any]]] = []
        self._writer_task: asyncio.Task[None] | None = None
        self._commit_hooks: list[CommitHook] = []

    @property
    def is_sqlite(self) -> bool:
        return _is_sqlite(self.url)

    @property
    def display_url(self) -> str:
        """The URL without a password, for printing."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    async def open(self) -> Database:
        """Apply pending migrations; returns self so ``db = await Database(s).open()`` reads well."""
        from ndoto_cli.core.migrate import upgrade

        await upgrade(self.writer)
        return self

    async def close(self) -> None:
        if self._writer_task is not None:
            await asyncio.gather(self._writer_task, return_exceptions=True)
        await self.reader.dispose()
        await self.writer.dispose()

    def on_commit(self, hook: CommitHook) -> None:
        """Call ``hook()`` after every commit (the dispatcher uses it to send new deliveries at once)."""
        self._commit_hooks.append(hook)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session on the reader engine."""
        async with AsyncSession(self.reader, expire_on_commit=False) as session:
            yield session

    async def write(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``fn(session)`` in a transaction, grouped with concurrent writers; commit; return."""
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

    async def _run_batch(self, batch: list[tuple[Callable[[AsyncSession], Awaitable[Any]], asyncio.Future[Any]]]) -> None:
        results: list[tuple[bool, Any]] = []
        try:
            async with AsyncSession(self.writer, expire_on_commit=False, autoflush=False) as session:
                async with session.begin():
                    if len(batch) == 1:
                        # No savepoint needed: a failure rolls back the only change.
                        results.append((True, await batch[0][0](session)))
                    else:
                        for fn, _future in batch:
                            try:
                                async with session.begin_nested():
                                    results.append((True, await fn(session)))
                            except Exception as exc:  # noqa: BLE001 - handed to the caller
                                results.append((False, exc))
        except Exception as exc:  # noqa: BLE001 - the whole batch failed (or the single change did)
            for _fn, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (ok, value), (_fn, future) in zip(results, batch, strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        for hook in self._commit_hooks:
            hook()


async def open_database(settings: Settings) -> Database:
    """Create and open (migrate) the database for these settings."""
    return await Database(settings).open()
