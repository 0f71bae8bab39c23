"""``ndoto agents``: human agents (administrators and agents) and their API tokens."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from ndoto_cli.commands.output import (
    AccountOpt,
    AgentArg,
    ExitCode,
    JsonOpt,
    YesOpt,
    confirm,
    console,
    dump_json,
    fail,
    fields,
    resolve_account,
    run,
    table,
    token_notice,
)

app = typer.Typer(help="Human agents: administrators manage bots and inboxes, agents work conversations.\n\nExample: ndoto agents create --email ann@acme.test --name Ann", no_args_is_help=True, rich_markup_mode=None)
token_app = typer.Typer(help="An agent's API token.\n\nExample: ndoto agents token reset ann@acme.test", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(token_app, name="token")


class RoleChoice(str, Enum):
    administrator = "administrator"
    agent = "agent"


@app.command("create")
def create(
    email: Annotated[str, typer.Option("--email", help="Login email (unique in the account).")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    role: Annotated[RoleChoice, typer.Option("--role", help="administrator or agent.")] = RoleChoice.agent,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a human agent and print their API token once.

    Example: ndoto agents create --email ann@acme.test --name "Ann" --role agent
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import accounts

        account_id = await resolve_account(db, account)
        return await db.write(lambda s: accounts.create_user(s, account_id=account_id, name=name, email=email, role=role.value))

    user, token = run(go, as_json=as_json)
    from ndoto_cli.core.views import user_json

    if as_json:
        dump_json({**user_json(user), "access_token": token})
        return
    console().print(f"Created {'an administrator' if user.role == 'administrator' else 'an agent'}: {user.name} <{user.email}> (id {user.id}).", markup=False, highlight=False)
    token_notice(token, "Agent")


def _find(ref: str, account: str | None, as_json: bool) -> Any:
    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import accounts

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            return await accounts.find_user(s, account_id=account_id, ref=ref)

    return run(go, as_json=as_json)


@app.command("list")
def list_(account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """List the account's human agents.

    Example: ndoto agents list
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import accounts

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            return await accounts.list_users(s, account_id=account_id)

    rows = run(go, as_json=as_json)
    from ndoto_cli.core.views import user_json

    if as_json:
        dump_json([user_json(u) for u in rows])
    else:
        table(["id", "name", "email", "role"], [[u.id, u.name, u.email, u.role] for u in rows])


@app.command("show")
def show(agent: AgentArg, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Show one agent (never their token).

    Example: ndoto agents show ann@acme.test
    """
    user = _find(agent, account, as_json)
    from ndoto_cli.core.views import user_json

    data = user_json(user)
    if as_json:
        dump_json(data)
    else:
        fields(data, skip=("thumbnail", "available_name"))


@app.command("update")
def update(
    agent: AgentArg,
    name: Annotated[str | None, typer.Option("--name", help="New display name.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="New login email (unique in the account).")] = None,
    role: Annotated[RoleChoice | None, typer.Option("--role", help="administrator or agent (the last administrator stays one).")] = None,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rename an agent, change their email or their role; their token keeps working.

    Example: ndoto agents update ann@acme.test --role administrator
    """
    if name is None and email is None and role is None:
        fail("nothing to change: give --name, --email or --role", code="usage", as_json=as_json, exit_code=ExitCode.USAGE)

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import accounts

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            user = await accounts.find_user(s, account_id=account_id, ref=agent)
        return await db.write(lambda s: accounts.update_user(
            s, account_id=account_id, user_id=user.id, name=name, email=email, role=role.value if role else None))

    user = run(go, as_json=as_json)
    from ndoto_cli.core.views import user_json

    if as_json:
        dump_json(user_json(user))
    else:
        console().print(f"Updated {user.name} <{user.email}>, {'an administrator' if user.role == 'administrator' else 'an agent'}.",
                        markup=False, highlight=False)


@app.command("delete")
def delete(
    agent: AgentArg, yes: YesOpt = False, account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete an agent (asks first); their conversations become unassigned. The last administrator stays.

    Example: ndoto agents delete ann@acme.test --yes
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import accounts

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            user = await accounts.find_user(s, account_id=account_id, ref=agent)
        confirm(f"Delete agent {user.name} <{user.email}>? Their conversations become unassigned.", yes=yes, as_json=as_json)
        return await db.write(lambda s: accounts.delete_user(s, account_id=account_id, user_id=user.id))

    user = run(go, as_json=as_json)
    if as_json:
        dump_json({"id": user.id, "deleted": True})
    else:
        console().print(f"Deleted agent {user.email}.")


@token_app.command("reset")
def token_reset(
    agent: AgentArg, yes: YesOpt = False, account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue a new API token for an agent (asks first); the old one stops working at once.

    Example: ndoto agents token reset admin@localhost.localdomain --yes
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import accounts

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            user = await accounts.find_user(s, account_id=account_id, ref=agent)
        confirm(f"Reset the API token of {user.email}? Their current token stops working at once.", yes=yes, as_json=as_json)
        return await db.write(lambda s: accounts.reset_user_token(s, account_id=account_id, user_id=user.id))

    user, token = run(go, as_json=as_json)
    if as_json:
        dump_json({"id": user.id, "email": user.email, "access_token": token})
        return
    console().print(f"New token for {user.email}; the old one no longer works.")
    token_notice(token, "Agent")
