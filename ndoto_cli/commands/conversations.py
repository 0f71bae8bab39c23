"""``ndoto conversations``: list, search, read, reply, resolve, reopen, snooze, assign — as an agent would."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from ndoto_cli.commands import complete
from ndoto_cli.commands.output import (
    AccountOpt,
    ExitCode,
    InboxOpt,
    JsonOpt,
    console,
    dump_json,
    fail,
    resolve_account,
    run,
    table,
)

app = typer.Typer(help="Conversations: read threads, reply, write private notes, resolve, assign.\n\nExample: ndoto conversations list --status pending", no_args_is_help=True, rich_markup_mode=None)

AsOpt = Annotated[str | None, typer.Option("--as", help="Act as this agent (email; default: the first administrator).", autocompletion=complete.agents)]
ConvArg = Annotated[int, typer.Argument(help="Conversation id (the per-account number shown by `list`).")]


class StatusChoice(str, Enum):
    open = "open"
    pending = "pending"
    resolved = "resolved"
    snoozed = "snoozed"
    all = "all"


async def acting_user(s: Any, account_id: int, ref: str | None) -> Any:
    from ndoto_cli.core.services import accounts

    return await accounts.acting_user(s, account_id=account_id, ref=ref)


def _actor(user: Any) -> Any:
    from ndoto_cli.core.actors import Actor

    return Actor.of_user(user)


@app.command("list")
def list_(
    status: Annotated[StatusChoice, typer.Option("--status", help="open, pending (bot), resolved, snoozed or all.")] = StatusChoice.all,
    inbox: InboxOpt = None,
    assignee: Annotated[str | None, typer.Option("--assignee", help="Agent email or id, or 'none' for unassigned.")] = None,
    page: Annotated[int, typer.Option("--page", min=1, help="Page of 25.")] = 1,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List conversations, most recent activity first.

    Example: ndoto conversations list --status pending --inbox "Website Chat"
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.queries import list_conversations
        from ndoto_cli.core.services import accounts, inboxes

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            inbox_id = (await inboxes.find_inbox(s, account_id=account_id, ref=inbox)).id if inbox else None
            assignee_type, assignee_id = "all", None
            if assignee and assignee.lower() == "none":
                assignee_type = "unassigned"
            elif assignee:
                assignee_id = (await accounts.find_user(s, account_id=account_id, ref=assignee)).id
            return await list_conversations(
                s, account_id=account_id, status=status.value, inbox_id=inbox_id, assignee_type=assignee_type,
                assignee_id=assignee_id, page=page,
            )

    result = run(go, as_json=as_json)
    if as_json:
        dump_json({"meta": result.meta(), "payload": result.items})
        return

    from ndoto_cli.core.present import when
    from ndoto_cli.core.views import owner_text

    def last(c: dict[str, Any]) -> str:
        text = " ".join(((c["last_non_activity_message"] or {}).get("content") or "").split())
        return text if len(text) <= 50 else text[:47] + "..."

    table(
        ["id", "contact", "inbox", "status", "owner", "last activity", "last message"],
        [[c["id"], c["meta"]["sender"]["name"], result.inbox_names.get(c["inbox_id"], c["inbox_id"]), c["status"], owner_text(c),
          when(c["last_activity_at"]), last(c)] for c in result.items],
        empty="No conversations match. Try a bot: ndoto say --inbox <inbox> --contact Jane \"Hello\"",
    )
    if result.all_count > page * 25:
        console().print(f"Page {page} of {(result.all_count + 24) // 25}: --page {page + 1} for more.", style="dim")


@app.command("show")
def show(conversation: ConvArg, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Show a conversation's thread: who wrote what, private notes and activity marked.

    Example: ndoto conversations show 1
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import conversations, messages, outcomes
        from ndoto_cli.core.views import load_sender, message_json, render_conversation

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            bundle = await conversations.load(s, account_id=account_id, display_id=conversation)
            rows = await messages.list_messages(s, conversation_id=bundle.conversation.id, limit=200)
            rating = await outcomes.conversation_rating(s, conversation_id=bundle.conversation.id)  # type: ignore[arg-type]
            return {**await render_conversation(s, bundle), "csat": rating}, [
                message_json(m, display_id=conversation, sender=await load_sender(s, m)) for m in rows
            ]

    conv, thread = run(go, as_json=as_json)
    if as_json:
        dump_json({**conv, "messages": thread})
        return
    from rich.markup import escape

    from ndoto_cli.core.present import when as moment
    from ndoto_cli.core.views import message_kind, owner_phrase, rating_given

    out = console()
    out.print(f"[bold]#{conv['id']}[/bold] {escape(conv['meta']['sender']['name'])} - {conv['status']} - {escape(owner_phrase(conv))}", highlight=False)
    if conv["csat"]:
        said = f": {escape(conv['csat']['feedback_message'])}" if conv["csat"]["feedback_message"] else ""
        out.print(f"Rated {conv['csat']['rating']}/5 by the customer{said}", highlight=False)
    for m in thread:
        when = moment(m["created_at"], compact=True)
        kind = message_kind(m)
        sender = escape((m["sender"] or {}).get("name", ""))
        text = escape(m["content"] or "")
        if kind == "activity":
            out.print(f"[dim]{when}   -- {text}[/dim]", highlight=False)
        elif kind == "rating":
            out.print(f"[dim]{when}   -- {text} {escape(rating_given(m) or '(not answered yet)')}[/dim]", highlight=False)
        elif kind == "note":
            out.print(f"{when} [yellow]\\[private note] {sender}:[/yellow] {text}", highlight=False)
        else:
            out.print(f"{when} [bold]{sender}[/bold] ({kind}): {text}", highlight=False)


def _message(conversation: int, text: str, private: bool, as_user: str | None, account: str | None, as_json: bool) -> Any:
    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import messages

        account_id = await resolve_account(db, account, email=as_user)
        async with db.read() as s:
            user = await acting_user(s, account_id, as_user)
        return await db.write(
            lambda s: messages.create_message(
                s, account_id=account_id, display_id=conversation, actor=_actor(user), content=text, private=private
            )
        )

    return run(go, as_json=as_json)


@app.command("reply")
def reply(
    conversation: ConvArg,
    text: Annotated[str, typer.Argument(help="The message.")],
    private: Annotated[bool, typer.Option("--private", help="A private note: only agents see it.")] = False,
    as_user: AsOpt = None,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reply to the customer (taking over from the bot) or write a private note.

    Example: ndoto conversations reply 1 "Hi Jane, Ann here." --as ann@acme.test
    """
    result = _message(conversation, text, private, as_user, account, as_json)
    if as_json:
        dump_json(result.json())
    else:
        console().print(f"{'Private note' if private else 'Reply'} {result.message.id} added to conversation {conversation}.")


def _status(conversation: int, status: str, as_user: str | None, account: str | None, as_json: bool, *,
            snoozed_until: float | None = None, quiet: bool = False) -> Any:
    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import conversations
        from ndoto_cli.core.views import render_conversation

        account_id = await resolve_account(db, account, email=as_user)
        async with db.read() as s:
            user = await acting_user(s, account_id, as_user)

        async def change(s: Any) -> Any:
            bundle = await conversations.change_status(
                s, account_id=account_id, display_id=conversation, status=status, actor=_actor(user), snoozed_until=snoozed_until
            )
            return await render_conversation(s, bundle)

        return await db.write(change)

    data = run(go, as_json=as_json)
    if quiet:
        return data
    if as_json:
        dump_json(data)
    else:
        console().print(f"Conversation {conversation} is {data['status']}.")
    return data


@app.command("resolve")
def resolve(conversation: ConvArg, as_user: AsOpt = None, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Mark a conversation resolved.

    Example: ndoto conversations resolve 1
    """
    _status(conversation, "resolved", as_user, account, as_json)


@app.command("reopen")
def reopen(conversation: ConvArg, as_user: AsOpt = None, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Reopen a resolved or snoozed conversation (for humans: status open).

    Example: ndoto conversations reopen 1
    """
    _status(conversation, "open", as_user, account, as_json)


@app.command("snooze")
def snooze(
    conversation: ConvArg,
    until: Annotated[str, typer.Option("--until", help="When it reopens: 30m, 2h, 1d, 1w, tomorrow (9:00) or a date-time (2026-12-24 09:00).")],
    as_user: AsOpt = None,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Put a conversation aside until a time; it reopens for humans then (under a running
    `ndoto serve` or `ndoto worker`), or earlier when the customer writes.

    Example: ndoto conversations snooze 1 --until 2h
    """
    from ndoto_cli.core.present import parse_moment

    try:
        moment = parse_moment(until)
    except ValueError as exc:
        fail(str(exc), code="usage", as_json=as_json, exit_code=ExitCode.USAGE)
    data = _status(conversation, "snoozed", as_user, account, as_json, snoozed_until=moment, quiet=True)
    if as_json:
        dump_json(data)
        return
    from ndoto_cli.core.present import when

    console().print(f"Conversation {conversation} is snoozed until {when(moment)}.", markup=False, highlight=False)


@app.command("search")
def search(
    text: Annotated[str, typer.Argument(help="Text found in a contact's name or email, or in any message (notes included).")],
    status: Annotated[StatusChoice, typer.Option("--status", help="open, pending (bot), resolved, snoozed or all.")] = StatusChoice.all,
    inbox: InboxOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many conversations, newest activity first.")] = 50,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find conversations by contact name, email or message text (the console's search).

    Example: ndoto conversations search "refund" --status open
    """
    if not text.strip():
        fail("give the text to search for", code="usage", as_json=as_json, exit_code=ExitCode.USAGE)

    async def go(db: Any) -> Any:
        from ndoto_cli.core.queries import conversation_rows
        from ndoto_cli.core.services import inboxes

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            inbox_id = (await inboxes.find_inbox(s, account_id=account_id, ref=inbox)).id if inbox else None
            return await conversation_rows(
                s, account_id=account_id, tab="all", user_id=None, inbox_id=inbox_id, limit=limit, search=text.strip(),
                status=None if status == StatusChoice.all else status.value,
            )

    rows = run(go, as_json=as_json)
    if as_json:
        from dataclasses import asdict

        dump_json([{**asdict(r), "id": r.display_id, "last_activity_at": int(r.last_activity_at)} for r in rows])
        return
    from ndoto_cli.core.present import when

    table(["id", "contact", "inbox", "status", "owner", "last activity", "last message"],
          [[r.display_id, r.contact, r.inbox, r.status, r.owner, when(r.last_activity_at), r.excerpt] for r in rows],
          empty=f"No conversation mentions {text.strip()!r}.")


@app.command("assign")
def assign(
    conversation: ConvArg,
    agent: Annotated[str | None, typer.Option("--agent", help="Give it to this human (email or id): takes over from the bot.", autocompletion=complete.agents)] = None,
    bot: Annotated[str | None, typer.Option("--bot", help="Give it to this bot (id or name): overrides the inbox bot.", autocompletion=complete.bots)] = None,
    none: Annotated[bool, typer.Option("--none", help="Unassign: back to the inbox's bot if it has one.")] = False,
    as_user: AsOpt = None,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Assign a conversation to a human, to a bot, or to nobody.

    Example: ndoto conversations assign 1 --agent ann@acme.test
    """
    if sum([agent is not None, bot is not None, none]) != 1:
        fail("give exactly one of --agent, --bot or --none", exit_code=ExitCode.USAGE, as_json=as_json)

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import accounts, bots, conversations
        from ndoto_cli.core.views import render_conversation

        account_id = await resolve_account(db, account, email=as_user)
        async with db.read() as s:
            actor_user = await acting_user(s, account_id, as_user)
            target_user = await accounts.find_user(s, account_id=account_id, ref=agent) if agent else None
            target_bot = await bots.find_bot(s, account_id=account_id, ref=bot) if bot else None

        async def change(s: Any) -> Any:
            actor = _actor(actor_user)
            if target_bot is not None:
                bundle = await conversations.assign_bot(s, account_id=account_id, display_id=conversation, bot_id=target_bot.id, actor=actor)
            else:
                bundle = await conversations.assign_user(
                    s, account_id=account_id, display_id=conversation, user_id=target_user.id if target_user else None, actor=actor
                )
                if none and bundle.conversation.assignee_agent_bot_id is not None:
                    bundle = await conversations.assign_bot(s, account_id=account_id, display_id=conversation, bot_id=None, actor=actor)
            return await render_conversation(s, bundle)

        return await db.write(change)

    data = run(go, as_json=as_json)
    if as_json:
        dump_json(data)
        return
    from ndoto_cli.core.views import owner_phrase

    console().print(f"Conversation {conversation} is {data['status']}, {owner_phrase(data)}.")
