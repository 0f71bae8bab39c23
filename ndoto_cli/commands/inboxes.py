"""``ndoto inboxes`` (create, list, show, update, embed, secret, delete) and ``ndoto inbox
assign|unassign`` (its bot)."""

from __future__ import annotations

import shlex
from enum import Enum
from typing import Annotated, Any

import typer

from ndoto_cli.commands.output import (
    AccountOpt,
    InboxArg,
    JsonOpt,
    YesOpt,
    confirm,
    console,
    dump_json,
    resolve_account,
    run,
    table,
)

app = typer.Typer(help="Inboxes: where conversations arrive (web widget or API channel).\n\nExample: ndoto inboxes create --name \"Website Chat\" --channel web_widget", no_args_is_help=True, rich_markup_mode=None)
secret_app = typer.Typer(help="A web-widget inbox's identity-verification secret (identifier_hash = HMAC-SHA256 of the user's identifier with it).\n\nExample: ndoto inboxes secret show \"Website Chat\"", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(secret_app, name="secret")
bind_app = typer.Typer(help="Connect an inbox to its bot (one active bot per inbox).\n\nExample: ndoto inbox assign OrderBot \"Website Chat\"", no_args_is_help=True, rich_markup_mode=None)


class ChannelChoice(str, Enum):
    web_widget = "web_widget"
    api = "api"


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
            return await inboxes.describe(s, await inboxes.create_inbox(s, account_id=account_id, name=name, channel=channel.value))

        return await db.write(change)

    data = run(go, as_json=as_json)
    if as_json:
        dump_json(data)
    else:
        kind = "a website chat" if data["channel_type"] == "Channel::WebWidget" else "an API inbox"
        out = console()
        out.print(f"Created inbox {data['name']} (id {data['id']}), {kind}. Its public identifier: {data['inbox_identifier']}", markup=False, highlight=False)
        if data["channel_type"] == "Channel::WebWidget":
            out.print(f"Put it on a site: ndoto inboxes embed {shlex.quote(data['name'])}", markup=False, highlight=False)


@app.command("list")
def list_(account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """List inboxes with the bot assigned to each.

    Example: ndoto inboxes list
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import inboxes

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            return [await inboxes.describe(s, i) for i in await inboxes.list_inboxes(s, account_id=account_id)]

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
            return await inboxes.describe(s, await inboxes.find_inbox(s, account_id=account_id, ref=ref))

    return run(go, as_json=as_json)


@app.command("show")
def show(inbox: InboxArg, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Show one inbox.

    Example: ndoto inboxes show "Website Chat"
    """
    data = _find(inbox, account, as_json)
    if as_json:
        dump_json(data)
        return
    table(COLUMNS, _rows([data]))
    console().print(f"Ratings at resolution: {'on' if data['csat_survey_enabled'] else 'off'}")
    if data.get("widget") is not None:
        _print_widget(data)


def _print_widget(data: dict[str, Any]) -> None:
    w = data["widget"]
    origins = ", ".join(w["allowed_origins"]) or "any (set --allow-origin to restrict)"
    prechat = " and ".join(k for k in ("name", "email") if w[f"prechat_{k}"]) or "off"
    rows = [
        ["title", w["title"]], ["greeting", w["greeting"]], ["color", w["color"]], ["position", w["position"]],
        ["locale", w["locale"]], ["allowed origins", origins], ["pre-chat form asks", prechat],
        ["identity verification", "required" if w["require_identity"] else "optional"],
    ]
    table(["widget setting", "value"], rows)


@app.command("update")
def update(
    inbox: InboxArg,
    name: Annotated[str | None, typer.Option("--name", help="Rename the inbox.")] = None,
    title: Annotated[str | None, typer.Option("--title", help="The widget's title, at the top of the chat.")] = None,
    greeting: Annotated[str | None, typer.Option("--greeting", help="The first message a visitor sees.")] = None,
    color: Annotated[str | None, typer.Option("--color", help="The widget's colour, like #1f6feb.")] = None,
    position: Annotated[str | None, typer.Option("--position", help="Where the bubble sits: left or right.")] = None,
    locale: Annotated[str | None, typer.Option("--locale", help="The widget's language, like en or fr.")] = None,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option("--allow-origin", help="A site that may use the chat, like https://shop.example.com (repeat for more; replaces the list)."),
    ] = None,
    any_origin: Annotated[bool, typer.Option("--any-origin", help="Let any site use the chat (clears the allowed origins).")] = False,
    prechat_name: Annotated[bool | None, typer.Option("--prechat-name/--no-prechat-name", help="Ask the visitor's name before the chat.")] = None,
    prechat_email: Annotated[bool | None, typer.Option("--prechat-email/--no-prechat-email", help="Ask the visitor's email before the chat.")] = None,
    require_identity: Annotated[
        bool | None,
        typer.Option("--require-identity/--no-require-identity", help="Refuse setUser calls without a right identifier_hash."),
    ] = None,
    csat: Annotated[
        bool | None,
        typer.Option("--csat/--no-csat", help="Ask the customer to rate the conversation (1-5) each time it is resolved (any inbox)."),
    ] = None,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rename an inbox, ask for ratings at resolution, or change its website chat (only the
    settings given change).

    Example: ndoto inboxes update "Website Chat" --title "Ask us" --color "#0f766e" --allow-origin https://shop.example.com
    """
    from ndoto_cli.commands.output import ExitCode, fail

    if any_origin and allow_origin:
        fail("--any-origin and --allow-origin contradict each other: give one", code="usage", as_json=as_json, exit_code=ExitCode.USAGE)
    origins = [] if any_origin else allow_origin
    changes = {"title": title, "greeting": greeting, "color": color, "position": position, "locale": locale,
               "allowed_origins": origins, "prechat_name": prechat_name, "prechat_email": prechat_email}
    if name is None and require_identity is None and csat is None and all(v is None for v in changes.values()):
        fail("nothing to change: give at least one option (see --help)", code="usage", as_json=as_json, exit_code=ExitCode.USAGE)

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import inboxes

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            found = await inboxes.find_inbox(s, account_id=account_id, ref=inbox)

        async def change(s: Any) -> Any:
            done = await inboxes.update_inbox(s, account_id=account_id, inbox_id=found.id, name=name,
                                              require_identity=require_identity, csat_survey=csat, **changes)
            return await inboxes.describe(s, done)

        return await db.write(change)

    data = run(go, as_json=as_json)
    if as_json:
        dump_json(data)
        return
    console().print(f"Updated inbox {data['id']} ({data['name']}); ratings at resolution: {'on' if data['csat_survey_enabled'] else 'off'}.")
    if data.get("widget") is not None:
        _print_widget(data)


@app.command("embed")
def embed(inbox: Annotated[str, typer.Argument(help="Inbox id or name (a web-widget inbox).")], account: AccountOpt = None,
          as_json: JsonOpt = False) -> None:
    """Print the script tag that puts the inbox's chat on a website, and the settings that shape it.

    The tag points at NDOTO_PUBLIC_URL (default http://NDOTO_HOST:NDOTO_PORT): set it to the
    address visitors' browsers reach `ndoto serve` at.

    Example: ndoto inboxes embed "Website Chat"
    """
    from ndoto_cli.commands.output import settings as read_settings

    config = read_settings(as_json=as_json)

    async def go(db: Any) -> Any:
        from ndoto_cli.core.errors import Invalid
        from ndoto_cli.core.services import inboxes

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            found = await inboxes.find_inbox(s, account_id=account_id, ref=inbox)
            if found.channel_type != "Channel::WebWidget":
                raise Invalid(f"inbox {found.name} is an API inbox: only web-widget inboxes have a chat to embed", field="inbox")
            return await inboxes.describe(s, found)

    data = run(go, as_json=as_json, settings=config)
    from urllib.parse import quote

    from ndoto_cli.core.services.widget import snippet

    base = config.base_url.rstrip("/")
    tag = snippet(base, data["website_token"])
    demo = f"{base}/widget/demo?inbox={quote(data['website_token'])}"
    if as_json:
        dump_json({"snippet": tag, "demo_url": demo, "website_token": data["website_token"], "inbox": data})
        return
    out = console()
    out.print(f"Put this tag on the pages of your site (before </body>) to show the chat of inbox {data['name']}:\n")
    out.print(tag, markup=False, highlight=False, soft_wrap=True)
    out.print(f"\nTry it now: {demo} (with `ndoto serve` running).")
    if config.public_url is None and config.host in ("127.0.0.1", "localhost", "::1"):
        out.print("Visitors' browsers must reach this address: set NDOTO_PUBLIC_URL to the URL they use.", style="yellow")
    _print_widget(data)


@secret_app.command("show")
def secret_show(inbox: InboxArg, account: AccountOpt = None,
                as_json: JsonOpt = False) -> None:
    """Print the inbox's identity-verification secret (keep it on your site's server, never in a page).

    Example: ndoto inboxes secret show "Website Chat"
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import inboxes

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            return await inboxes.find_inbox(s, account_id=account_id, ref=inbox)

    found = run(go, as_json=as_json)
    _print_secret(found, as_json)


def _print_secret(found: Any, as_json: bool) -> None:
    if as_json:
        dump_json({"id": found.id, "name": found.name, "hmac_token": found.hmac_token, "hmac_mandatory": bool(found.hmac_mandatory)})
        return
    out = console()
    out.print(found.hmac_token, markup=False, highlight=False)
    out.print("identifier_hash = hex HMAC-SHA256(key=this secret, message=the user's identifier); compute it on your server.",
              style="dim")


@secret_app.command("reset")
def secret_reset(inbox: InboxArg, yes: YesOpt = False, account: AccountOpt = None,
                 as_json: JsonOpt = False) -> None:
    """Replace the inbox's identity-verification secret (asks first: hashes made with the old one stop verifying).

    Example: ndoto inboxes secret reset "Website Chat" --yes
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import inboxes

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            found = await inboxes.find_inbox(s, account_id=account_id, ref=inbox)
        confirm(f"Replace the identity-verification secret of inbox {found.name}? Your site must sign with the new one", yes=yes,
                as_json=as_json)
        return await db.write(lambda s: inboxes.reset_hmac_token(s, account_id=account_id, inbox_id=found.id))

    _print_secret(run(go, as_json=as_json), as_json)


@app.command("delete")
def delete(
    inbox: InboxArg, yes: YesOpt = False, account: AccountOpt = None,
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
    inbox: InboxArg,
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
            return done, await inboxes.describe(s, done.inbox)

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
def unassign(inbox: InboxArg, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
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
            return done, await inboxes.describe(s, done.inbox)

        return await db.write(change)

    done, data = run(go, as_json=as_json)
    if as_json:
        dump_json(data)
    elif done.previous is None:
        console().print(f"Inbox {done.inbox.name} had no bot; nothing changed.")
    else:
        console().print(f"Bot {done.previous.name} no longer answers inbox {done.inbox.name}.")
