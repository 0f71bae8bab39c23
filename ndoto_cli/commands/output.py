"""The CLI's output layer: data to stdout (rich or ``--json``), diagnostics to stderr, one error
envelope, one set of exit codes, the question before a destructive action. Every command goes
through :func:`run`.

Only typer (and the standard library) is imported at module level so ``ndoto --help`` stays fast;
core, rich and the database are imported when a command actually runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from enum import IntEnum
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from ndoto_cli.commands import complete

T = TypeVar("T")


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2


JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking (needed when not run on a terminal).")]
SystemOpt = Annotated[bool, typer.Option("--system", help="Work on system bots (no account; every account may use them) instead of the account's.")]
BotArg = Annotated[str, typer.Argument(help="Bot id or name.", autocompletion=complete.bots)]
InboxArg = Annotated[str, typer.Argument(help="Inbox id or name.", autocompletion=complete.inboxes)]
InboxOpt = Annotated[str | None, typer.Option("--inbox", help="Inbox id or name.", autocompletion=complete.inboxes)]
AgentArg = Annotated[str, typer.Argument(help="Agent id or email.", autocompletion=complete.agents)]
AccountOpt = Annotated[
    str | None,
    typer.Option("--account", "-a", help="Account id or name (default: `ndoto --account`, NDOTO_ACCOUNT, "
                 "`ndoto config set account`, else the only account)."),
]
GLOBAL_ACCOUNT: str | None = None  # `ndoto --account X <command>`: set by the root callback


def dump_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, *, code: str = "error", hint: str | None = None, as_json: bool = False,
         exit_code: int = ExitCode.ERROR) -> NoReturn:
    """One clear line on stderr (and the JSON envelope on stdout with ``--json``), then exit."""
    if as_json:
        error: dict[str, Any] = {"code": code, "message": message}
        if hint:
            error["hint"] = hint
        dump_json({"error": error})
    line = f"Error: {message}"
    if hint:
        line += f" ({hint})"
    sys.stderr.write(line + "\n")
    raise typer.Exit(exit_code)


def confirm(question: str, *, yes: bool, as_json: bool = False) -> None:
    """Destructive actions ask first: on a terminal, a y/N question; elsewhere ``--yes`` is needed
    (a script that deletes must say so). Declining changes nothing."""
    if yes:
        return
    if not sys.stdin.isatty():
        fail(f"{question.rstrip('?')}: this cannot be undone, so it needs --yes when not run on a terminal",
             code="confirmation_required", as_json=as_json, exit_code=ExitCode.USAGE)
    if not typer.confirm(question, default=False, err=True):
        fail("nothing changed", code="aborted", as_json=as_json)


def on_terminal() -> bool:
    return sys.stdout.isatty()


def console() -> Any:
    """Rich on a terminal; into a pipe or a file, plain unwrapped lines (no colours, no wrapping
    at 80 columns in the middle of a command the reader is meant to copy)."""
    from rich.console import Console

    if on_terminal():
        return Console()
    return Console(width=100_000, soft_wrap=True, no_color=True, highlight=False, emoji=False)


def settings(*, as_json: bool = False) -> Any:
    """The settings from the environment; a bad ``NDOTO_*`` value is one clear error line."""
    from ndoto_cli.core.errors import NdotoError
    from ndoto_cli.core.settings import get_settings

    try:
        return get_settings()
    except NdotoError as exc:
        fail(exc.message, code=exc.code, hint=exc.hint, as_json=as_json)


read_settings = settings  # for functions whose ``settings`` argument hides it


def run(fn: Callable[[Any], Awaitable[T]], *, as_json: bool = False, migrate: bool = True, settings: Any = None) -> T:
    """Open the database, run ``fn(db)``, close; map domain errors to the CLI's error output.
    ``settings``: already read by the command (else read from the environment here)."""
    from ndoto_cli.core.errors import NdotoError

    config = settings if settings is not None else read_settings(as_json=as_json)

    async def main() -> T:
        from ndoto_cli.core.db import Database

        db = Database(config)
        try:
            if migrate:
                await db.open()
            return await fn(db)
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except NdotoError as exc:
        fail(exc.message, code=exc.code, hint=exc.hint, as_json=as_json)
    except Exception as exc:  # the last line of defence: never a traceback
        import sqlite3

        from sqlalchemy.exc import SQLAlchemyError

        from ndoto_cli.core.db.database import explain

        if isinstance(exc, SQLAlchemyError | sqlite3.Error) or (isinstance(exc, PermissionError) and _about_db(exc, config)):
            fail(explain(exc, config), code="database", as_json=as_json)
        if isinstance(exc, OSError):
            fail(f"{exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}".rstrip(": "), code="os_error", as_json=as_json)
        raise


def _about_db(exc: OSError, config: Any) -> bool:
    from ndoto_cli.core.db import sqlite_path

    path = sqlite_path(config.resolved_database_url) or ""
    return bool(exc.filename) and str(exc.filename) in path


def account_ref(ref: str | None) -> tuple[str | None, str | None]:
    """The account a command was told to act in, and who said so: its own ``--account``, else
    ``ndoto --account`` before the command, else ``NDOTO_ACCOUNT``, else the remembered default
    (``ndoto config set account``); (None, None) leaves the choice to core (the only account)."""
    if ref is not None:
        return ref, None
    if GLOBAL_ACCOUNT is not None:
        return GLOBAL_ACCOUNT, "ndoto --account"
    if os.environ.get("NDOTO_ACCOUNT"):
        return os.environ["NDOTO_ACCOUNT"], "NDOTO_ACCOUNT"
    from ndoto_cli.commands.config import load

    remembered = load().get("account")
    return (str(remembered), "the default of `ndoto config`") if remembered is not None else (None, None)


async def resolve_account(db: Any, ref: str | None, *, email: str | None = None) -> int:
    """The ``--account`` option (or its defaults, :func:`account_ref`), by core's rule
    (``accounts.resolve_account``)."""
    from ndoto_cli.core.errors import NotFound
    from ndoto_cli.core.services import accounts

    chosen, source = account_ref(ref)
    async with db.read() as session:
        try:
            return int((await accounts.resolve_account(session, chosen, email=email)).id)  # type: ignore[arg-type]
        except NotFound as exc:
            if source is None:
                raise
            raise NotFound(f"{exc.message}, the account chosen by {source}",
                           hint="see `ndoto accounts list`; `ndoto config set account ID` changes the default") from None


def token_notice(token: str, what: str) -> None:
    """Print a secret exactly once, with the line that says so."""
    out = console()
    out.print(f"[bold]{what} access token:[/bold] {token}", highlight=False, soft_wrap=True)
    out.print("[yellow]Store it now: it is shown only once (reset it to get a new one).[/yellow]")


def table(columns: list[str], rows: list[list[Any]], *, title: str | None = None, empty: str = "Nothing yet.") -> None:
    """Rows for people: a table on a terminal; elsewhere tab-separated lines, a header first
    (``cut -f``, ``awk -F'\t'``), one row per line whatever its length."""
    from ndoto_cli.core.present import plain

    cells = [[plain("", v) for v in row] for row in rows]
    out = console()
    if not cells:
        out.print(empty, markup=False)
        return
    if not on_terminal():
        for line in [columns, *cells]:
            sys.stdout.write("\t".join(c.replace("\t", " ").replace("\n", " ") for c in line) + "\n")
        return
    from rich.table import Table

    t = Table(*columns, title=title, header_style="bold")
    for row in cells:
        t.add_row(*row)
    out.print(t)


def fields(data: dict[str, Any], *, skip: tuple[str, ...] = ()) -> None:
    """One record, a field per row, its values as words (``core.present.plain``)."""
    from ndoto_cli.core.present import plain

    table(["field", "value"], [[k.replace("_", " "), plain(k, v)] for k, v in data.items() if k not in skip])
