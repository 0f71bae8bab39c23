"""``ndoto accounts``: create, list, rename and delete accounts."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ndoto_cli.commands.output import ExitCode, JsonOpt, YesOpt, confirm, console, dump_json, fail, run, table

AccountArg = Annotated[str, typer.Argument(help="Account id or name.")]

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
        console().print(f"Created account {account.name} (id {account.id}).", markup=False, highlight=False)


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


@app.command("update")
def update(
    account: AccountArg,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    keep_pending_on_bot_failure: Annotated[bool | None, typer.Option(
        "--keep-pending-on-bot-failure/--hand-off-on-bot-failure",
        help="When a bot cannot be reached: keep its conversations pending, or hand them to humans.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rename an account or change what happens when its bots cannot be reached.

    Example: ndoto accounts update 1 --name "Acme Support"
    """
    if name is None and keep_pending_on_bot_failure is None:
        fail("nothing to change: give --name or --keep-pending-on-bot-failure/--hand-off-on-bot-failure",
             code="usage", as_json=as_json, exit_code=ExitCode.USAGE)

    async def go(db: Any) -> Any:
        from ndoto_cli.commands.output import resolve_account
        from ndoto_cli.core.services import accounts

        account_id = await resolve_account(db, account)
        return await db.write(lambda s: accounts.update_account(
            s, account_id=account_id, name=name, keep_pending_on_bot_failure=keep_pending_on_bot_failure))

    changed = run(go, as_json=as_json)
    from ndoto_cli.core.views import account_json

    if as_json:
        dump_json(account_json(changed))
    else:
        console().print(f"Updated account {changed.name} (id {changed.id}).", markup=False, highlight=False)


@app.command("delete")
def delete(account: AccountArg, yes: YesOpt = False, as_json: JsonOpt = False) -> None:
    """Delete an account and everything in it: agents, inboxes, its bots, contacts, conversations
    (asks first, with the counts; `ndoto db backup` beforehand keeps a copy).

    Example: ndoto accounts delete "Old Shop" --yes
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.commands.output import resolve_account
        from ndoto_cli.core.services import accounts

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            found = await accounts.get_account(s, account_id=account_id)
            counts = await accounts.account_contents(s, account_id=account_id)
        singular = {"agents": "agent", "inboxes": "inbox", "bots": "bot", "contacts": "contact",
                    "conversations": "conversation", "messages": "message"}
        what = ", ".join(f"{n} {singular[label] if n == 1 else label}" for label, n in counts.items() if n) or "nothing in it"
        confirm(f"Delete account {found.name} (id {found.id}) with {what}?", yes=yes, as_json=as_json)
        return await db.write(lambda s: accounts.delete_account(s, account_id=account_id)), counts

    gone, counts = run(go, as_json=as_json)
    from ndoto_cli.commands import config

    remembered = config.load()
    if remembered.get("account") == str(gone.id):  # a default pointing at nothing would fail every command
        config.forget("account")
    if as_json:
        dump_json({"id": gone.id, "deleted": True, "removed": counts})
    else:
        console().print(f"Deleted account {gone.name} (id {gone.id}) and everything in it.", markup=False, highlight=False)
