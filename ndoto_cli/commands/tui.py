"""``ndoto tui`` (the agents' console) and ``ndoto chat`` (talk to an inbox as a customer)."""

from __future__ import annotations

from typing import Annotated

import typer

from ndoto_cli.commands.output import AccountOpt, fail, settings


def tui(
    as_email: Annotated[str | None, typer.Option("--as", help="Act as this agent (email); default: the first administrator.")] = None,
    account: AccountOpt = None,
) -> None:
    """Open the console: inboxes, conversations (Mine, Bot, Open, Resolved, All), the thread, replies,
    private notes, take over, hand back, assign, resolve; bots and deliveries screens.

    Example: ndoto tui --as ann@acme.test
    """
    from ndoto_cli.tui.app import InboxApp

    app = InboxApp(settings(), as_email=as_email, account=account)
    app.run()
    if app.error:
        fail(app.error)
    if app.return_code and app.return_code != 0:
        raise typer.Exit(app.return_code)


def chat(
    inbox: Annotated[str, typer.Argument(help="Inbox id or name.")],
    contact: Annotated[str, typer.Option("--contact", help="Your name as the customer.")] = "Test Customer",
    account: AccountOpt = None,
) -> None:
    """Talk to an inbox as a customer: the fastest way to try a bot by hand.

    Example: ndoto chat "Website Chat" --contact Jane
    """
    from ndoto_cli.tui.chat import ChatApp

    app = ChatApp(settings(), inbox=inbox, contact=contact, account=account)
    app.run()
    if app.error:
        fail(app.error)
