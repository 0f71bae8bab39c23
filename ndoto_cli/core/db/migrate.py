"""Alembic migrations shipped in the package, applied whenever a database is opened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from ndoto_cli.core.errors import NdotoError

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def _config(connection: Any = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


# PostgreSQL's own columns, made in raw SQL: the full-text index (0008), the events' transaction ids (0009).
FULL_TEXT = {("column", "search"), ("index", "ix_kb_passages_search"), ("column", "txid"), ("index", "ix_events_txid")}


def include_object(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    """What autogenerate compares: everything but what the migrations make in raw SQL because no
    model can declare it (SQLite: the FTS5 virtual table and its shadow tables, 0002; PostgreSQL:
    the generated tsvector column and its GIN index, 0008; the events' ``txid``, 0009; both: the
    conversation counts that triggers keep, 0018)."""
    if kind == "table" and ((name or "").startswith("kb_fts") or name == "conversation_counts"):
        return False
    return (kind, name) not in FULL_TEXT


VERSIONS_DIR = MIGRATIONS_DIR / "versions"


def revisions() -> list[str]:
    """The schema revisions this Ndoto ships, oldest first: the migration files' number prefixes
    (``0005_web_widget.py`` is revision ``0005``; a test checks this is Alembic's own chain).
    Read from the file names so that opening a current database never imports Alembic."""
    return sorted(p.name.split("_", 1)[0] for p in VERSIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py"))


def head_revision() -> str:
    return revisions()[-1]


def alembic_head() -> str | None:
    """Alembic's view of the newest revision (tests compare it with :func:`head_revision`)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


class NewerDatabase(NdotoError):
    code = "database_newer"


def check_known(revision: str | None, *, where: str = "this database") -> None:
    """A database written by a newer Ndoto is left untouched: this one cannot know its schema."""
    if revision is not None and revision not in revisions():
        raise NewerDatabase(f"{where} was written by a newer Ndoto (revision {revision} > {head_revision()}): upgrade ndoto")


async def current(engine: AsyncEngine) -> str | None:
    """The database's revision (None for an empty database), with one query and no Alembic."""
    async with engine.connect() as conn:
        try:
            row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
        except DBAPIError as exc:
            if "alembic_version" not in str(exc):
                raise
            return None  # not created yet: a new database
    return str(row[0]) if row is not None else None


MIGRATION_LOCK = 0x6E646F746F  # "ndoto": PostgreSQL advisory lock key held while migrating


def _upgrade_sync(connection: Any) -> None:
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    if connection.dialect.name == "postgresql":
        # Two processes starting at once on a fresh database: the second waits here until the
        # first commits the whole upgrade (PostgreSQL's DDL is transactional), then finds the
        # schema current. SQLite gets the same from BEGIN IMMEDIATE's write lock.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    revision = MigrationContext.configure(connection).get_current_revision()
    check_known(revision)  # again, under the write lock
    if revision == head_revision():
        return
    command.upgrade(_config(connection), "head")


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (a no-op when it is already there)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_sync)
