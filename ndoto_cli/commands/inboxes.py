"""``ndoto inboxes`` (create, list, show, delete) and ``ndoto inbox assign|unassign`` (its bot)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from ndoto_cli.commands.output import AccountOpt, JsonOpt, YesOpt, confirm, console, dump_json, resolve_account, run, table

app = typer.Typer(help="Inboxes: where conversations arrive (web widget or API channel).\n\nExample: ndoto inboxes create --name \"Website Chat\" --channel web_widget", no_args_is_help=True, rich_markup_mode=None)
bind_app = typer.Typer(help="Connect an inbox to its bot (one active bot per inbox).\n\nExample: ndoto inbox assign OrderBot \"Website Chat\"", no_args_is_help=True, rich_markup_mode=None)


class ChannelChoice(str, Enum):
    web_widget = "web_widget"
    api = "api"


async def inbox_view(s: Any, inbox: Any) -> dict[str, Any]:
    from ndoto_cli.core.services import inboxes
    from ndoto_cli.core.views import inbox_json

    return inbox_json(inbox, await inboxes.inbox_link(s, inbox_id=inbox.id), await inboxes.inbox_bot(s, inbox_id=inbox.id))


def _rows(items: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [i["id"], i["name"], i["channel_type"].removeprefix("Channel::"), (i["agent_bot"] or {}).get("name", "-"), i["inbox_identifier"]]
        for i in items
    ]


COLUMNS = ["id", "name", "channel", "bot", "public identifier"]


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Inbox name.")],
    channel: Annotated[ChannelChoice, typer.Option("--channel", help="web_widget or api.")] = ChannelChoice.api,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an inbox.

    Example: ndoto inboxes create --name "Website Chat" --channel web_widget
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import inboxes

        account_id = await resolve_account(db, account)

        async def change(s: Any) -> Any:
            return await inbox_view(s, await inboxes.create_inbox(s, account_id=account_id, name=name, channel=channel.value))

        return await db.write(change)

    data = run(go, as_json=as_json)
    if as_json:
        dump_json(data)
    else:
        console().print(f"Created inbox {data['id']} ({data['name']}, {data['channel_type']}); public identifier {data['inbox_identifier']}.")


@app.command("list")
def list_(account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """List inboxes with the bot assigned to each.

    Example: ndoto inboxes list
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import inboxes

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            return [await inbox_view(s, i) for i in await inboxes.list_inboxes(s, account_id=account_id)]

    items = run(go, as_json=as_json)
    if as_json:
        dump_json(items)
    else:
        table(COLUMNS, _rows(items), empty='No inboxes yet: `ndoto inboxes create --name "Website Chat" --channel web_widget`.')


def _find(ref: str, account: str | None, as_json: bool) -> Any:
    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import inboxes

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            return await inbox_view(s, await inboxes.find_inbox(s, account_id=account_id, ref=ref))

    return run(go, as_json=as_json)


@app.command("show")
def show(inbox: Annotated[str, typer.Argument(help="Inbox id or name.")], account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Show one inbox.

    Example: ndoto inboxes show "Website Chat"
    """
    data = _find(inbox, account, as_json)
    if as_json:
        dump_json(data)
    else:
        table(COLUMNS, _rows([data]))


@app.command("delete")
def delete(
    inbox: Annotated[str, typer.Argument(help="Inbox id or name.")], yes: YesOpt = False, account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete an inbox and all its conversations (asks first).

    Example: ndoto inboxes delete "Old Inbox" --yes
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import inboxes

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            found = await inboxes.find_inbox(s, account_id=account_id, ref=inbox)
            count = await inboxes.conversation_count(s, inbox_id=found.id)
        confirm(f"Delete inbox {found.name} (id {found.id}) and its {count} conversation(s)?", yes=yes, as_json=as_json)
        return await db.write(lambda s: inboxes.delete_inbox(s, account_id=account_id, inbox_id=found.id))

    deleted = run(go, as_json=as_json)
    if as_json:
        dump_json({"id": deleted.id, "deleted": True})
    else:
        console().print(f"Deleted inbox {deleted.id} ({deleted.name}).")


@bind_app.command("assign")
def assign(
    bot: Annotated[str, typer.Argument(help="Bot id or name.")],
    inbox: Annotated[str, typer.Argument(help="Inbox id or name.")],
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a bot the inbox's active bot (replacing any other; new conversations start pending).

    Example: ndoto inbox assign OrderBot "Website Chat"
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import bots, inboxes

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            found_bot = await bots.find_bot(s, account_id=account_id, ref=bot)
            found_inbox = await inboxes.find_inbox(s, account_id=account_id, ref=inbox)

        async def change(s: Any) -> Any:
            done = await inboxes.set_inbox_bot(s, account_id=account_id, inbox_id=found_inbox.id, bot_id=found_bot.id)
            return done, await inbox_view(s, done.inbox)

        return await db.write(change)

    done, data = run(go, as_json=as_json)
    if as_json:
        dump_json({**data, "replaced_agent_bot_id": done.previous.id if done.previous and done.previous.id != done.bot.id else None})
        return
    out = console()
    if done.previous is not None and done.previous.id != done.bot.id:
        out.print(f"Replaced bot {done.previous.name} with {done.bot.name} on inbox {done.inbox.name} (an inbox has one active bot).")
    else:
        out.print(f"Bot {done.bot.name} now answers inbox {done.inbox.name}.")


@bind_app.command("unassign")
def unassign(inbox: Annotated[str, typer.Argument(help="Inbox id or name.")], account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Disconnect the inbox's bot (new conversations start open, for humans).

    Example: ndoto inbox unassign "Website Chat"
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import inboxes

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            found = await inboxes.find_inbox(s, account_id=account_id, ref=inbox)

        async def change(s: Any) -> Any:
            done = await inboxes.set_inbox_bot(s, account_id=account_id, inbox_id=found.id, bot_id=None)
            return done, await inbox_view(s, done.inbox)

        return await db.write(change)

    done, data = run(go, as_json=as_json)
    if as_json:
        dump_json(data)
    elif done.previous is None:
        console().print(f"Inbox {done.inbox.name} had no bot; nothing changed.")
    else:
        console().print(f"Bot {done.previous.name} no longer answers inbox {done.inbox.name}.")
