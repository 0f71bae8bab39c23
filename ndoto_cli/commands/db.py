"""``ndoto db``: the database's location and schema."""

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
        return {"database": db.display_url, "revision": revision, "head": head_revision()}

    data = run(go, as_json=as_json, migrate=False)
    if as_json:
        dump_json(data)
    else:
        state = (f"{data['revision']} (newest: {data['head']})" if data["revision"]
                 else f"none yet: the first command that needs it (ndoto init) creates it at revision {data['head']}")
        console().print(f"Database: {data['database']}\nRevision: {state}", markup=False, highlight=False)


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
