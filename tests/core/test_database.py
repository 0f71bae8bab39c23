"""The SQLite file is opened the way several processes can share it, migrated on open."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from ndoto_cli.core.db import Database
from ndoto_cli.core.db.migrate import current, head_revision
from ndoto_cli.core.settings import Settings


@pytest.mark.sqlite_only("the SQLite file, its pragmas and a hand-edited older file")
async def test_pragmas_and_migrations(db: Database, ndoto_home: Path) -> None:
    assert (ndoto_home / "ndoto.db").exists()
    async with db.read() as session:
        mode = (await session.execute(text("PRAGMA journal_mode"))).scalar_one()
        fks = (await session.execute(text("PRAGMA foreign_keys"))).scalar_one()
        busy = (await session.execute(text("PRAGMA busy_timeout"))).scalar_one()
    assert mode == "wal"
    assert fks == 1
    assert busy > 0
    assert await current(db.writer) == head_revision()


async def test_reopening_is_a_noop(settings: Settings) -> None:
    for _ in range(2):
        database = await Database(settings).open()
        assert await current(database.writer) == head_revision()
        await database.close()


async def test_group_commit_isolates_a_failing_caller(db: Database) -> None:
    """Concurrent writers share one commit; one failure rolls back only its own change."""
    from ndoto_cli.core.errors import Invalid
    from ndoto_cli.core.services import accounts

    async def bad(session):
        await accounts.create_account(session, name="doomed")
        raise Invalid("boom")

    results = await asyncio.gather(
        *[db.write(lambda s, i=i: accounts.create_account(s, name=f"acct {i}")) for i in range(20)],
        db.write(bad),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Invalid) for r in results) == 1
    async with db.read() as session:
        names = [a.name for a in await accounts.list_accounts(session)]
    assert len(names) == 20
    assert "doomed" not in names


@pytest.mark.sqlite_only("the SQLite file, its pragmas and a hand-edited older file")
def test_two_processes_write_the_same_file(tmp_path: Path) -> None:
    """The CLI, the TUI and the server each have a writer; BEGIN IMMEDIATE + busy_timeout serialize them."""
    script = (
        "import asyncio, sys\n"
        "from ndoto_cli.core.db import Database\n"
        "from ndoto_cli.core.settings import Settings\n"
        "from ndoto_cli.core.services import accounts\n"
        "async def main():\n"
        f"    db = await Database(Settings(home={str(tmp_path)!r})).open()\n"
        "    for i in range(60):\n"
        "        await db.write(lambda s, i=i: accounts.create_account(s, name=f'{sys.argv[1]}-{i}'))\n"
        "    await db.close()\n"
        "asyncio.run(main())\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, tag]) for tag in ("a", "b", "c")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    with sqlite3.connect(tmp_path / "ndoto.db") as conn:
        assert conn.execute("select count(*) from accounts").fetchone()[0] == 180


# SQLAlchemy has no type for PostgreSQL's xid8 (events.txid, migration 0009, which the comparison
# leaves out by include_object): reflecting it says so.
@pytest.mark.filterwarnings("ignore:Did not recognize type 'xid8'")
async def test_the_models_are_the_whole_schema(ndoto_home: Path) -> None:
    """After the migrations, autogenerate proposes nothing: models and migrations agree (on the
    database the suite runs on: SQLite or PostgreSQL)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool
    from sqlmodel import SQLModel

    from ndoto_cli.core.db.migrate import include_object

    settings = Settings(home=ndoto_home)
    database = await Database(settings).open()
    await database.close()
    engine = create_async_engine(settings.resolved_database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"include_object": include_object}), SQLModel.metadata))
    finally:
        await engine.dispose()
    assert diff == []


def test_the_shipped_revisions_are_alembics_chain() -> None:
    """Opening a database reads the revisions from the migration files' names (no Alembic import):
    they must be exactly Alembic's chain, newest last."""
    from alembic.script import ScriptDirectory

    from ndoto_cli.core.db.migrate import _config, alembic_head, head_revision, revisions

    chain = [s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()][::-1]
    assert revisions() == chain
    assert head_revision() == alembic_head()


@pytest.mark.sqlite_only("the SQLite file, its pragmas and a hand-edited older file")
async def test_an_older_database_with_twin_inbox_names_is_upgraded_without_losing_one(settings: Settings) -> None:
    """Migration 0006 makes inbox names unique: existing twins are kept, renamed with their id."""
    db = await Database(settings).open()
    await db.close()
    path = settings.home / "ndoto.db"
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX ux_inboxes_account_name")
        conn.execute("INSERT INTO accounts (name, created_at, keep_pending_on_bot_failure) VALUES ('A', 0, 0)")
        for n in range(3):
            conn.execute("INSERT INTO inboxes (account_id, name, channel_type, identifier, created_at, widget, hmac_mandatory) "
                         f"VALUES (1, 'Chat', 'Channel::Api', 'id{n}', 0, '{{}}', 0)")
        conn.execute("UPDATE alembic_version SET version_num = '0005'")
    db = await Database(settings).open()
    await db.close()
    with sqlite3.connect(path) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM inboxes ORDER BY id")] == ["Chat", "Chat (2)", "Chat (3)"]
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()
