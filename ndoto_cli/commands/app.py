"""The ``ndoto`` command: the root Typer app and the registry of its sub-commands.

Each noun or verb lives in its own module that imports only typer at module level; adding one is
one line in ``COMMANDS``.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from ndoto_cli import __version__


def _new_app() -> typer.Typer:
    root_app = typer.Typer(
        name="ndoto",
        help="Ndoto: bots that answer customer conversations, run from the terminal.\n\n"
        "Start with `ndoto init`, then `ndoto serve`. Every command takes --help.",
        no_args_is_help=True,
        rich_markup_mode=None,  # plain help: rich rendering costs ~0.25 s per --help
        context_settings={"help_option_names": ["-h", "--help"]},
        pretty_exceptions_enable=False,
    )
    root_app.callback()(root)
    return root_app


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ndoto {__version__}")
        raise typer.Exit()


def root(
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    account: Annotated[
        str | None, typer.Option("--account", "-a", help="Act in this account (id or name) whatever the command; "
                                 "a command's own --account wins.")
    ] = None,
) -> None:
    """Ndoto: bots that answer customer conversations, run from the terminal.

    Example: ndoto init && ndoto serve
    """
    from ndoto_cli.commands import output

    output.GLOBAL_ACCOUNT = account  # always set: one process may run several command lines (tests)


# name -> (module, attribute, "command" or "group"), in the order `ndoto --help` lists them.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("init", "init", "command"),
    "serve": ("serve", "serve", "command"),
    "worker": ("serve", "worker", "command"),
    "status": ("status", "status", "command"),
    "say": ("say", "say", "command"),
    "accounts": ("accounts", "app", "group"),
    "agents": ("agents", "app", "group"),
    "inboxes": ("inboxes", "app", "group"),
    "inbox": ("inboxes", "bind_app", "group"),
    "bots": ("bots", "app", "group"),
    "conversations": ("conversations", "app", "group"),
    "contacts": ("contacts", "app", "group"),
    "deliveries": ("deliveries", "app", "group"),
    "platform": ("platform", "app", "group"),
    "tui": ("tui", "tui", "command"),
    "chat": ("tui", "chat", "command"),
    "kb": ("kb", "app", "group"),
    "db": ("db", "app", "group"),
    "config": ("config", "app", "group"),
}


def build(only: str | None = None) -> typer.Typer:
    """The root app with every command, or with ``only`` one: Typer turns every registered
    command into a click command on each run (~50 ms for all of them), so a run builds just the
    one it was asked for; ``--help``, completion and the tests get them all."""
    from importlib import import_module

    root_app = _new_app()
    for name, (module, attribute, kind) in COMMANDS.items():
        if only is not None and name != only:
            continue
        target: Any = getattr(import_module(f"ndoto_cli.commands.{module}"), attribute)
        if kind == "group":
            root_app.add_typer(target, name=name)
        else:
            root_app.command(name)(target)
    return root_app


def _invoked(argv: list[str]) -> str | None:
    """The command a command line names (its first word after a global ``--account X``), when it
    is one of ours."""
    words = iter(argv)
    for arg in words:
        if arg in ("--account", "-a"):
            next(words, None)
            continue
        if arg.startswith("--account="):
            continue
        if arg.startswith("-"):
            return None  # another option before the command (--version, --help): the whole app answers
        return arg if arg in COMMANDS else None
    return None


def __getattr__(name: str) -> Any:
    """``app``, the whole command tree, is built on first use (tests, ``python -m``, completion),
    not on import: a command line builds only its own group (:func:`run`)."""
    if name == "app":
        whole = build()
        globals()["app"] = whole
        return whole
    raise AttributeError(name)


def run() -> None:
    completing = any(k.endswith("_COMPLETE") for k in os.environ)
    name = None if completing else _invoked(sys.argv[1:])
    target = build(name)
    try:
        code = target(standalone_mode=False)
    except typer.Abort:
        sys.stderr.write("Aborted: nothing changed.\n")
        code = 1
    except Exception as exc:
        if not _is_usage_error(exc):
            raise
        code = _usage_error(exc)
    sys.exit(code if isinstance(code, int) else 0)


def _is_usage_error(exc: Exception) -> bool:
    """Typer's usage errors (a bad option, a missing argument): ``exit_code`` 2 and a message."""
    return getattr(exc, "exit_code", None) == 2 and hasattr(exc, "format_message")


def _usage_error(exc: Any) -> int:
    """One line naming the problem and where help is (the JSON envelope too with ``--json``);
    a command group called without a command prints its help, as before."""
    from ndoto_cli.commands.output import ExitCode, fail

    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":
        sys.stderr.write(exc.format_message() + "\n")
        return ExitCode.USAGE
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    try:
        fail(exc.format_message() + where, code="usage", as_json="--json" in sys.argv[1:], exit_code=ExitCode.USAGE)
    except typer.Exit as done:
        return done.exit_code
    return ExitCode.USAGE
