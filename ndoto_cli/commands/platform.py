"""``ndoto platform``: platform apps, whose tokens manage system bots through the platform API."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ndoto_cli.commands.output import JsonOpt, console, dump_json, run, table, token_notice

app = typer.Typer(help="Platform apps: tokens for the platform API (system bots).\n\nExample: ndoto platform create Provisioning", no_args_is_help=True, rich_markup_mode=None)


@app.command("create")
def create(name: Annotated[str, typer.Argument(help="A name for the app.")], as_json: JsonOpt = False) -> None:
    """Create a platform app and print its token once.

    Example: ndoto platform create "Provisioning"
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import accounts

        return await db.write(lambda s: accounts.create_platform_app(s, name=name))

    app_row, token = run(go, as_json=as_json)
    if as_json:
        dump_json({"id": app_row.id, "name": app_row.name, "access_token": token})
        return
    console().print(f"Created platform app {app_row.name} (id {app_row.id}).", markup=False, highlight=False)
    token_notice(token, "Platform")


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List platform apps (never their tokens).

    Example: ndoto platform list
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import accounts

        async with db.read() as s:
            return await accounts.list_platform_apps(s)

    rows = run(go, as_json=as_json)
    if as_json:
        dump_json([{"id": a.id, "name": a.name, "created_at": int(a.created_at)} for a in rows])
    else:
        table(["id", "name"], [[a.id, a.name] for a in rows], empty='No platform apps: `ndoto platform create "Provisioning"`.')
