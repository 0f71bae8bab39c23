"""``ndoto accounts``: create and list accounts."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ndoto_cli.commands.output import JsonOpt, console, dump_json, run, table

app = typer.Typer(help="Accounts (each has its own agents, inboxes, bots and conversations).\n\nExample: ndoto accounts list", no_args_is_help=True, rich_markup_mode=None)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The account's name.")],
    keep_pending_on_bot_failure: Annotated[
        bool, typer.Option("--keep-pending-on-bot-failure", help="Keep conversations pending when a bot cannot be reached.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create an account.

    Example: ndoto accounts create "Acme Support"
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import accounts

        async def change(s: Any) -> Any:
            account = await accounts.create_account(s, name=name)
            if keep_pending_on_bot_failure:
                await accounts.update_account(s, account_id=account.id, keep_pending_on_bot_failure=True)
            return account

        return await db.write(change)

    account = run(go, as_json=as_json)
    from ndoto_cli.core.views import account_json

    if as_json:
        dump_json(account_json(account))
    else:
        console().print(f"Created account {account.id} ({account.name}).")


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List accounts.

    Example: ndoto accounts list --json
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import accounts

        async with db.read() as s:
            return await accounts.list_accounts(s)

    rows = run(go, as_json=as_json)
    from ndoto_cli.core.views import account_json

    if as_json:
        dump_json([account_json(a) for a in rows])
    else:
        table(["id", "name", "keep pending on bot failure"], [[a.id, a.name, a.keep_pending_on_bot_failure] for a in rows],
              empty="No accounts yet: run `ndoto init`.")
