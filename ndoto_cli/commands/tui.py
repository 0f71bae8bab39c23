"""``ndoto tui`` (the agents' console) and ``ndoto chat`` (talk to an inbox as a customer)."""

from __future__ import annotations

from typing import Annotated

import typer

from ndoto_cli.commands import complete
from ndoto_cli.commands.output import AccountOpt, InboxArg, account_ref, fail, run, settings


def _ready(what: str) -> object:
    """Before a full-screen app starts: the settings, an openable database at a known revision
    (a broken one is the CLI's one error line, never a screen drawn and torn down), a terminal."""
    import sys

    config = settings()

    async def opened(db: object) -> None:
        return None

    run(opened, settings=config)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail(f"{what} needs a terminal (it reads keys and draws the screen): run it in one, not through a pipe")
    return config


def tui(
    as_email: Annotated[str | None, typer.Option("--as", help="Act as this agent (email); default: the first administrator.", autocompletion=complete.agents)] = None,
    account: AccountOpt = None,
) -> None:
    """Open the console: inboxes, conversations (Mine, Bot, Open, Resolved, All), the thread, replies,
    private notes, take over, hand back, assign, resolve; bots and deliveries screens.

    Example: ndoto tui --as ann@acme.test
    """
    from ndoto_cli.tui.app import InboxApp

    app = InboxApp(_ready("ndoto tui"), as_email=as_email, account=account_ref(account)[0])  # type: ignore[arg-type]
    app.run()
    if app.error:
        fail(app.error)
    if app.return_code and app.return_code != 0:
        raise typer.Exit(app.return_code)


def chat(
    inbox: InboxArg,
    contact: Annotated[str, typer.Option("--contact", help="Your name as the customer.")] = "Test Customer",
    account: AccountOpt = None,
) -> None:
    """Talk to an inbox as a customer: the fastest way to try a bot by hand.

    Example: ndoto chat "Website Chat" --contact Jane
    """
    from ndoto_cli.tui.chat import ChatApp

    app = ChatApp(_ready("ndoto chat"), inbox=inbox, contact=contact, account=account_ref(account)[0])  # type: ignore[arg-type]
    app.run()
    if app.error:
        fail(app.error)
