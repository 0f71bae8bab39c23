"""The ``ndoto`` command: the root Typer app and the registry of its sub-commands.

Each noun or verb lives in its own module that imports only typer at module level; adding one is
one line in ``_register``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ndoto_cli import __version__

app = typer.Typer(
    name="ndoto",
    help="Ndoto: bots that answer customer conversations, run from the terminal.\n\n"
    "Start with `ndoto init`, then `ndoto serve`. Every command takes --help.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: rich rendering costs ~0.25 s per --help
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ndoto {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Ndoto: bots that answer customer conversations, run from the terminal.

    Example: ndoto init && ndoto serve
    """


def _register() -> None:
    from ndoto_cli.commands import accounts, agents, bots, conversations, deliveries, inboxes, platform, say
    from ndoto_cli.commands import db as db_cmd
    from ndoto_cli.commands import init as init_cmd
    from ndoto_cli.commands import serve as serve_cmd

    app.command("init")(init_cmd.init)
    app.command("serve")(serve_cmd.serve)
    app.command("worker")(serve_cmd.worker)
    app.command("say")(say.say)
    app.add_typer(accounts.app, name="accounts")
    app.add_typer(agents.app, name="agents")
    app.add_typer(inboxes.app, name="inboxes")
    app.add_typer(inboxes.bind_app, name="inbox")
    app.add_typer(bots.app, name="bots")
    app.add_typer(conversations.app, name="conversations")
    app.add_typer(deliveries.app, name="deliveries")
    app.add_typer(platform.app, name="platform")
    from ndoto_cli.commands import bots_ai, kb
    from ndoto_cli.commands import tui as tui_cmd

    app.command("tui")(tui_cmd.tui)
    app.command("chat")(tui_cmd.chat)
    app.add_typer(kb.app, name="kb")
    bots.app.command("try")(bots_ai.try_)
    bots.app.command("eval")(bots_ai.eval_)
    bots.app.command("stats")(bots_ai.stats)
    app.add_typer(db_cmd.app, name="db")


_register()


def run() -> None:
    app()
