"""``ndoto say``: post a customer's message, the quickest way to try a bot."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ndoto_cli.commands import complete
from ndoto_cli.commands.output import AccountOpt, JsonOpt, console, dump_json, resolve_account, run


def say(
    text: Annotated[str, typer.Argument(help="What the customer writes.")],
    inbox: Annotated[str, typer.Option("--inbox", help="Inbox id or name.", autocompletion=complete.inboxes)],
    contact: Annotated[str, typer.Option("--contact", help="Customer name (created when new).")] = "Test Customer",
    new: Annotated[bool, typer.Option("--new", help="Start a new conversation instead of continuing the last one.")] = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Post an incoming customer message, creating the contact and conversation when needed.

    Example: ndoto say --inbox "Website Chat" --contact Jane "Where is my order?"
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import customers, inboxes

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            found = await inboxes.find_inbox(s, account_id=account_id, ref=inbox)
        return await db.write(lambda s: customers.say(s, inbox=found, contact_name=contact, content=text, new_conversation=new))

    result = run(go, as_json=as_json)
    if as_json:
        dump_json(result.json())
        return
    conv = result.bundle.conversation
    out = console()
    out.print(f"{contact} wrote in conversation {conv.display_id} ({conv.status}).", highlight=False)
    if conv.status == "pending":
        out.print(f"Its bot answers while `ndoto serve` (or `ndoto worker`) runs: ndoto conversations show {conv.display_id}", style="dim")
