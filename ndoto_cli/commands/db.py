"""``ndoto db``: the database's location and schema, backups, and moving to another database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ndoto_cli.commands.output import JsonOpt, YesOpt, confirm, console, dump_json, fail, run

app = typer.Typer(help="Database schema and location.\n\nExample: ndoto db info", no_args_is_help=True, rich_markup_mode=None)


@app.command("upgrade")
def upgrade(as_json: JsonOpt = False) -> None:
    """Apply pending migrations (also done automatically whenever the database is opened).

    Example: ndoto db upgrade
    """

    async def go(db: Any) -> dict[str, Any]:
        from ndoto_cli.core.db.migrate import current, head_revision

        await db.open()
        return {"database": db.display_url, "revision": await current(db.reader), "head": head_revision()}

    info = run(go, as_json=as_json, migrate=False)
    if as_json:
        dump_json(info)
    else:
        console().print(f"Database {info['database']} is at revision {info['revision']} (newest).")


@app.command("info")
def info(as_json: JsonOpt = False) -> None:
    """Show which database is in use and its schema revision.

    Example: ndoto db info --json
    """

    async def go(db: Any) -> dict[str, Any]:
        from ndoto_cli.core.db.migrate import check_known, current, head_revision

        revision = await current(db.reader)
        check_known(revision, where=db.where)  # a newer database is a problem to say, not a detail
        return {"database": db.display_url, "revision": revision, "head": head_revision(), **await db.describe()}

    data = run(go, as_json=as_json, migrate=False)
    if as_json:
        dump_json(data)
    else:
        state = (f"{data['revision']} (newest: {data['head']})" if data["revision"]
                 else f"none yet: the first command that needs it (ndoto init) creates it at revision {data['head']}")
        console().print(f"Database: {data['engine']} {data['version']}, {data['database']}\nRevision: {state}", markup=False, highlight=False)


def _sqlite_path(db: Any, verb: str) -> str:
    from ndoto_cli.core.db import sqlite_path
    from ndoto_cli.core.errors import Invalid

    path = sqlite_path(db.url)
    if not path or path == ":memory:":
        raise Invalid(f"`ndoto db {verb}` works on the embedded SQLite database; for PostgreSQL use pg_dump / pg_restore")
    return path


@app.command("backup")
def backup(
    path: Annotated[Path, typer.Argument(help="Where to write the copy (a new file).")],
    as_json: JsonOpt = False,
) -> None:
    """A consistent copy of the database, safe while `ndoto serve` runs (SQLite's backup API).

    Example: ndoto db backup ~/ndoto-backup-$(date +%F).db
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.db import backup as store

        return store.backup(_sqlite_path(db, "backup"), path.expanduser())

    done = run(go, as_json=as_json, migrate=False)
    if as_json:
        dump_json({"path": done.path, "bytes": done.bytes, "revision": done.revision})
    else:
        console().print(f"Backed up to {done.path} ({done.bytes / 1e6:.1f} MB, schema revision {done.revision}).", highlight=False)


@app.command("restore")
def restore(
    path: Annotated[Path, typer.Argument(help="A backup made by `ndoto db backup`.")],
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Replace the database with a backup (asks first); refused while `ndoto serve` or `ndoto worker` uses it.

    Example: ndoto db restore ~/ndoto-backup-2026-12-01.db --yes
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.db import backup as store
        from ndoto_cli.core.db.migrate import head_revision

        target = _sqlite_path(db, "restore")
        head = head_revision()
        revision = store.check_backup(path.expanduser(), head=head)
        confirm(f"Replace the database at {target} with {path} (revision {revision})? Everything written since is lost.",
                yes=yes, as_json=as_json)
        await db.close()  # our own connections must not hold the file meanwhile
        done = store.restore(path.expanduser(), target, head=head)
        await db.open()  # bring an older backup's schema up to date
        return done

    if not path.expanduser().exists():
        fail(f"no such file: {path}", exit_code=1, as_json=as_json)
    done = run(go, as_json=as_json, migrate=False)
    if as_json:
        dump_json({"path": done.path, "bytes": done.bytes, "revision": done.revision})
    else:
        console().print(f"Restored {path} into {done.path}.", highlight=False)


@app.command("copy")
def copy(
    to: Annotated[str, typer.Option("--to", help="The target database's URL: postgresql+asyncpg://user@host/db, "
                                    "or sqlite+aiosqlite:////path/ndoto.db. It must be empty (it is migrated first).")],
    as_json: JsonOpt = False,
) -> None:
    """Copy this installation, every table with its ids, into another database (SQLite to
    PostgreSQL, or back), then check the counts table by table. Stop `ndoto serve` and
    `ndoto worker` first; afterwards point them at the new database with NDOTO_DATABASE_URL.

    Example: ndoto db copy --to postgresql+asyncpg://ndoto@localhost/ndoto
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.db import Database, sqlite_path
        from ndoto_cli.core.db.backup import running
        from ndoto_cli.core.db.copy import copy_database
        from ndoto_cli.core.errors import Conflict, Invalid

        path = sqlite_path(db.url)
        if path and path != ":memory:" and (busy := running(path)):
            names = ", ".join(f"{p['role']} (pid {p['pid']})" for p in busy)
            raise Conflict(f"the database is in use by {names}: stop it first, so that nothing is written during the copy")
        from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

        try:
            target = Database(db.settings.model_copy(update={"database_url": to}))
        except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:  # unreadable URL, driver not installed
            hint = "pip install 'ndoto-cli[postgresql]'" if "asyncpg" in str(exc) else None
            raise Invalid(f"cannot use {to!r} as a database URL: {exc}", hint=hint) from None
        try:
            try:
                await target.open()
            except (OSError, DBAPIError) as exc:
                raise Invalid(f"cannot open the target database {target.display_url}: {getattr(exc, 'orig', None) or exc}") from None
            progress = _Progress() if not as_json else None
            try:
                return await copy_database(db, target, on_progress=progress.update if progress else None), target.display_url
            finally:
                if progress:
                    progress.stop()
        finally:
            await target.close()

    copied, where = run(go, as_json=as_json)
    if as_json:
        dump_json({"to": where, "rows": copied.rows, "tables": copied.tables})
        return
    out = console()
    out.print(f"Copied {copied.rows:,} rows in {sum(1 for n in copied.tables.values() if n)} tables to {where}; "
              "every table's count matches its source.", markup=False, highlight=False)
    hidden = " (with its password)" if "***" in where else ""
    out.print(f"Use it: NDOTO_DATABASE_URL='{where}'{hidden} ndoto serve", markup=False, highlight=False)


class _Progress:
    """A progress bar per table on a terminal (rich), a line per table elsewhere."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.live = console().is_terminal
        self.bar = Progress(TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(), console=console())
        self.tasks: dict[str, Any] = {}
        if self.live:
            self.bar.start()

    def update(self, table: str, done: int, total: int) -> None:
        if not self.live:
            if done == total:
                console().print(f"{table:<20} {total:>10,} rows", markup=False, highlight=False)
            return
        if table not in self.tasks:
            self.tasks[table] = self.bar.add_task(table, total=total)
        self.bar.update(self.tasks[table], completed=done)

    def stop(self) -> None:
        if self.live:
            self.bar.stop()
