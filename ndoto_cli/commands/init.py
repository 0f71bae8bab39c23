"""``ndoto init``: the first account and administrator."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ndoto_cli.commands.output import JsonOpt, console, dump_json, run, token_notice


def init(
    account_name: Annotated[str, typer.Option("--account-name", help="Name of the first account.")] = "My Company",
    admin_name: Annotated[str, typer.Option("--name", help="Administrator's name.")] = "Admin",
    admin_email: Annotated[str, typer.Option("--email", help="Administrator's email.")] = "admin@localhost.localdomain",
    as_json: JsonOpt = False,
) -> None:
    """Create the first account and an administrator; print the administrator's token once.

    Safe to run again: a second run says what exists and changes nothing.

    Example: ndoto init --account-name "Acme Support" --email ann@acme.test
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import accounts

        return await db.write(
            lambda s: accounts.bootstrap(s, account_name=account_name, admin_name=admin_name, admin_email=admin_email)
        )

    result = run(go, as_json=as_json)
    from ndoto_cli.core.views import account_json, user_json

    if as_json:
        dump_json(
            {
                "created": result.created,
                "account": account_json(result.account),
                "administrator": user_json(result.admin),
                "access_token": result.token,
            }
        )
        return
    out = console()
    if not result.created:
        out.print(
            f"Already set up: account {result.account.id} ({result.account.name}), "
            f"administrator {result.admin.email}. Nothing changed."
        )
        out.print("Lost the token? `ndoto agents token reset " + result.admin.email + "`")
        return
    out.print(f"Created account {result.account.id} ({result.account.name}) and administrator {result.admin.email}.")
    token_notice(result.token, "Administrator")
