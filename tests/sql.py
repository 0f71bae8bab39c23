"""Tests that look into the database do it through SQLAlchemy, on whichever database the suite
runs on (the SQLite file, or the test's PostgreSQL database from ``NDOTO_DATABASE_URL``)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any


def run_sql(home: Path | None, sql: str, params: dict[str, Any] | None = None, *, url: str | None = None) -> list[tuple[Any, ...]]:
    """Run one statement in its own transaction (committed) and return its rows, on the database
    of ``home`` (or at ``url``). Runs in a thread of its own, so async tests may call it too."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from ndoto_cli.core.settings import Settings

    url = url or Settings(home=home).resolved_database_url
    out: list[tuple[Any, ...]] = []
    failure: list[BaseException] = []

    async def go() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(sql), params or {})
                if result.returns_rows:
                    out.extend(tuple(r) for r in result.all())
        finally:
            await engine.dispose()

    def thread() -> None:
        try:
            asyncio.run(go())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            failure.append(exc)

    worker = threading.Thread(target=thread)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return out


def one(home: Path, sql: str, params: dict[str, Any] | None = None) -> tuple[Any, ...] | None:
    rows = run_sql(home, sql, params)
    return rows[0] if rows else None
