"""``ndoto contacts``: the customers of an account — find them, read them, correct them."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from ndoto_cli.commands.output import (
    AccountOpt,
    ExitCode,
    JsonOpt,
    console,
    dump_json,
    fail,
    fields,
    resolve_account,
    run,
    table,
)

app = typer.Typer(help="Contacts: the customers who write in.\n\nExample: ndoto contacts list --search jane", no_args_is_help=True, rich_markup_mode=None)

ContactArg = Annotated[str, typer.Argument(help="Contact id, or exact email, identifier or name.")]


@app.command("list")
def list_(
    search: Annotated[str | None, typer.Option("--search", "-s", help="Text found in a name, email, phone number or identifier.")] = None,
    page: Annotated[int, typer.Option("--page", min=1, help="Page of 25, newest contacts first.")] = 1,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the account's contacts, newest first.

    Example: ndoto contacts list --search @acme.test
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import contacts

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            return await contacts.list_contacts(s, account_id=account_id, search=search, page=page)

    rows, total = run(go, as_json=as_json)
    from ndoto_cli.core.views import contact_json

    if as_json:
        dump_json({"meta": {"count": total, "current_page": page}, "payload": [contact_json(c) for c in rows]})
        return
    from ndoto_cli.core.present import when

    table(["id", "name", "email", "phone", "identifier", "created"],
          [[c.id, c.name, c.email, c.phone_number, c.identifier, when(c.created_at)] for c in rows],
          empty="No contacts match." if search else "No contacts yet: they appear when customers write in (try `ndoto say`).")
    if total > page * 25:
        console().print(f"Page {page} of {(total + 24) // 25}: --page {page + 1} for more.", style="dim")


@app.command("show")
def show(contact: ContactArg, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Show a contact and their conversations.

    Example: ndoto contacts show jane@acme.test
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import contacts

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            found = await contacts.find_contact(s, account_id=account_id, ref=contact)
            return found, await contacts.contact_conversations(s, contact=found)

    found, conversations = run(go, as_json=as_json)
    from ndoto_cli.core.views import contact_json

    data = contact_json(found)
    if as_json:
        dump_json({**data, "conversations": conversations})
        return
    fields(data, skip=("thumbnail", "availability_status", "blocked", "last_activity_at"))
    from ndoto_cli.core.present import when

    table(["conversation", "inbox", "status", "last activity"],
          [[c["id"], c["inbox"], c["status"], when(c["last_activity_at"])] for c in conversations],
          title="Conversations", empty="No conversations.")


def _attributes(pairs: list[str], removed: list[str], *, as_json: bool) -> dict[str, Any] | None:
    """``KEY=VALUE`` pairs (a VALUE that reads as JSON is taken as JSON: numbers, true, lists)
    and removed keys, as one change to merge."""
    if not pairs and not removed:
        return None
    change: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"--attribute needs KEY=VALUE, got {pair!r}", code="usage", as_json=as_json, exit_code=ExitCode.USAGE)
        try:
            change[key.strip()] = json.loads(value)
        except ValueError:
            change[key.strip()] = value
    for key in removed:
        change[key] = None
    return change


@app.command("update")
def update(
    contact: ContactArg,
    name: Annotated[str | None, typer.Option("--name", help="New display name.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="New email ('' to clear).")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="New phone number ('' to clear).")] = None,
    identifier: Annotated[str | None, typer.Option("--identifier", help="Your system's id for this customer ('' to clear).")] = None,
    attribute: Annotated[list[str] | None, typer.Option("--attribute", help="Set a custom attribute KEY=VALUE (repeatable; JSON values allowed).")] = None,
    remove_attribute: Annotated[list[str] | None, typer.Option("--remove-attribute", help="Remove a custom attribute (repeatable).")] = None,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Correct a contact's name, email, phone, identifier or custom attributes.

    Example: ndoto contacts update 3 --email jane@acme.test --attribute plan=gold
    """
    custom = _attributes(attribute or [], remove_attribute or [], as_json=as_json)
    given = {k: v for k, v in {"name": name, "email": email, "phone_number": phone, "identifier": identifier,
                               "custom_attributes": custom}.items() if v is not None}
    if not given:
        fail("nothing to change: give --name, --email, --phone, --identifier or --attribute", code="usage",
             as_json=as_json, exit_code=ExitCode.USAGE)

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import contacts

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            found = await contacts.find_contact(s, account_id=account_id, ref=contact)
        return await db.write(lambda s: contacts.update_contact(s, account_id=account_id, contact_id=found.id, **given))

    changed = run(go, as_json=as_json)
    from ndoto_cli.core.views import contact_json

    if as_json:
        dump_json(contact_json(changed))
    else:
        console().print(f"Updated contact {changed.name} (id {changed.id}).", markup=False, highlight=False)
