"""``ndoto config``: defaults the CLI remembers for an installation, in ``NDOTO_HOME/config.json``.

Only what saves typing on every command lives here (the account to act in); how Ndoto runs is set
with ``NDOTO_*`` environment variables, so a server's behaviour never depends on a file an admin
edited for convenience.
"""

from __future__ import annotations

import json
import os
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from ndoto_cli.commands.output import JsonOpt, console, dump_json, fail, run

app = typer.Typer(help="Defaults the CLI remembers (stored in NDOTO_HOME/config.json).\n\nExample: ndoto config set account 2",
                  no_args_is_help=True, rich_markup_mode=None)

FILE = "config.json"


class Key(str, Enum):
    account = "account"


DESCRIPTIONS = {Key.account: "the account commands act in when none is given (--account and NDOTO_ACCOUNT win over it)"}


def home() -> Path:
    """``NDOTO_HOME`` as the settings read it, without reading (and validating) every setting."""
    value = os.environ.get("NDOTO_HOME")
    if value:
        return Path(value).expanduser()
    from ndoto_cli.core.settings import _default_home

    return _default_home()


def load() -> dict[str, Any]:
    """The remembered values; a missing file is no defaults, an unreadable one is an error line."""
    path = home() / FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except NotADirectoryError:
        return {}
    except (OSError, ValueError) as exc:
        fail(f"cannot read {path}: {exc}", code="config", hint="fix or delete the file")
    if not isinstance(data, dict):
        fail(f"cannot read {path}: not a JSON object", code="config", hint="fix or delete the file")
    return data


def _save(data: dict[str, Any], *, as_json: bool) -> None:
    path = home() / FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        temporary.replace(path)  # never a half-written file
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}", code="config", as_json=as_json)


def forget(key: str, *, as_json: bool = False) -> bool:
    """Remove a remembered value; False when it was not set."""
    data = load()
    if data.pop(key, None) is None:
        return False
    _save(data, as_json=as_json)
    return True


KeyArg = Annotated[Key, typer.Argument(help="What to remember: account.")]


@app.command("get")
def get(key: Annotated[Key | None, typer.Argument(help="One key (default: all of them).")] = None, as_json: JsonOpt = False) -> None:
    """Show what is remembered.

    Example: ndoto config get account
    """
    data = load()
    keys = [key] if key else list(Key)
    if as_json:
        dump_json({k.value: data.get(k.value) for k in keys})
        return
    out = console()
    for k in keys:
        value = data.get(k.value)
        out.print(f"{k.value} = {value if value is not None else '(not set)'}: {DESCRIPTIONS[k]}", markup=False, highlight=False)


@app.command("set")
def set_(key: KeyArg, value: Annotated[str, typer.Argument(help="The value (account: an id or a name).")], as_json: JsonOpt = False) -> None:
    """Remember a default; an account is checked first and stored by id (renaming it keeps working).

    Example: ndoto config set account "Acme Support"
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import accounts

        async with db.read() as session:
            return await accounts.resolve_account(session, value)

    account = run(go, as_json=as_json)
    data = load()
    data[key.value] = str(account.id)
    _save(data, as_json=as_json)
    if as_json:
        dump_json({key.value: data[key.value]})
    else:
        console().print(f"Commands now act in account {account.name} (id {account.id}) unless told otherwise.", markup=False, highlight=False)


@app.command("unset")
def unset(key: KeyArg, as_json: JsonOpt = False) -> None:
    """Forget a default.

    Example: ndoto config unset account
    """
    was_set = forget(key.value, as_json=as_json)
    if as_json:
        dump_json({key.value: None})
    else:
        console().print(f"Forgot the default {key.value}." if was_set else f"{key.value} was not set.", markup=False, highlight=False)
