"""``ndoto db``: the database's location and schema."""

from __future__ import annotations

from typing import Any

import typer

from ndoto_cli.commands._common import JsonOpt, console, dump_json, run

app = typer.Typer(help="Database schema and location.\n\nExample: ndoto db info", no_args_is_help=True, rich_markup_mode=None)


@app.command("upgrade")
def upgrade(as_json: JsonOpt = False) -> None:
    """Apply pending migrations (also done automatically whenever the database is opened).

    Example: ndoto db upgrade
    """

    async def go(db: Any) -> dict[str, Any]:
        from ndoto_cli.core.migrate import current, head_revision

        await db.open()
        return {"database": db.display_url, "revision": await current(db.writer), "head": head_revision()}

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
        from ndoto_cli.core.migrate import current, head_revision

        return {"database": db.display_url, "revision": await current(db.writer), "head": head_revision()}

    data = run(go, as_json=as_json, migrate=False)
    if as_json:
        dump_json(data)
    else:
        console().print(f"Database: {data['database']}\nRevision: {data['revision']} (newest: {data['head']})")
