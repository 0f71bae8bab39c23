"""Alembic migrations shipped in the package, applied whenever a database is opened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def _config(connection: Any = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def include_object(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    """What autogenerate compares: everything but the FTS5 index of the knowledge base (a virtual
    table and its shadow tables, made by migration 0002 in raw SQL: no model can declare them)."""
    return not (kind == "table" and (name or "").startswith("kb_fts"))


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def _current_revision(connection: Any) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _upgrade_sync(connection: Any) -> None:
    from alembic import command

    if _current_revision(connection) == head_revision():
        return
    command.upgrade(_config(connection), "head")


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (a no-op when it is already there)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_sync)


async def current(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current_revision)
