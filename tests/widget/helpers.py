"""What the widget's tests share: run a function on an open database, count rows."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from ndoto_cli.core.db import Database
from ndoto_cli.core.settings import Settings


def with_db(settings: Settings, fn: Any) -> Any:
    """``await fn(db)`` on a database opened (and closed) for it, from a plain test."""

    async def go() -> Any:
        db = await Database(settings).open()
        try:
            return await fn(db)
        finally:
            await db.close()

    return asyncio.run(go())


def count(settings: Settings, model: Any, *where: Any) -> int:
    async def go(db: Database) -> int:
        async with db.read() as s:
            return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())

    return with_db(settings, go)
