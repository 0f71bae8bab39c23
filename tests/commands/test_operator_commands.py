"""The commands an operator reaches for: contacts, search, snooze, agents update, accounts
update/delete, a remembered default account and a global --account, name completion, status."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ndoto_cli.core.db import Database
from ndoto_cli.core.services import conversations
from ndoto_cli.core.settings import get_settings
from tests.commands.conftest import Cli


def test_contacts_list_show_update(cli: Cli, ready: Callable[[], dict[str, Any]]) -> None:
    ready()
    cli("say", "--inbox", "Website Chat", "--contact", "Jane Doe", "Where is my order?")
    cli("say", "--inbox", "Website Chat", "--contact", "Bob_Smith", "Hello")
    listed = cli.json("contacts", "list")
    assert [c["name"] for c in listed["payload"]] == ["Bob_Smith", "Jane Doe"] and listed["meta"]["count"] == 2
    # % and _ are literal in a search.
    assert [c["name"] for c in cli.json("contacts", "list", "--search", "b_s")["payload"]] == ["Bob_Smith"]
    assert cli.json("contacts", "list", "--search", "%")["payload"] == []
    jane = cli.json("contacts", "update", "Jane Doe", "--email", "Jane@Acme.test", "--attribute", "plan=gold",
                    "--attribute", "orders=3", "--phone", "+254700000000")
    assert jane["email"] == "Jane@Acme.test" and jane["custom_attributes"] == {"plan": "gold", "orders": 3}
    shown = cli.json("contacts", "show", "Jane@Acme.test")
    assert shown["id"] == jane["id"] and [c["inbox"] for c in shown["conversations"]] == ["Website Chat"]
    human = cli("contacts", "show", str(jane["id"])).stdout
    assert "plan: gold" in human and "Website Chat" in human and "{" not in human
    after = cli.json("contacts", "update", str(jane["id"]), "--remove-attribute", "plan", "--email", "")
    assert after["custom_attributes"] == {"orders": 3} and after["email"] is None
    assert "nothing to change" in cli("contacts", "update", "Jane Doe", code=2).stderr
    assert "name cannot be empty" in cli("contacts", "update", "Jane Doe", "--name", " ", code=1).stderr
    assert "KEY=VALUE" in cli("contacts", "update", "Jane Doe", "--attribute", "plan", code=2).stderr
    assert "no contact 'Nobody'" in cli("contacts", "show", "Nobody", code=1).stderr


def test_search_and_snooze(cli: Cli, ready: Callable[[], dict[str, Any]]) -> None:
    ready()
    cli("say", "--inbox", "Website Chat", "--contact", "Jane", "I want a refund for order 4521")
    cli("say", "--inbox", "Website Chat", "--contact", "Omar", "Opening hours?")
    found = cli.json("conversations", "search", "REFUND")
    assert [r["contact"] for r in found] == ["Jane"] and found[0]["id"] == 1
    assert [r["contact"] for r in cli.json("conversations", "search", "omar")] == ["Omar"]
    assert cli.json("conversations", "search", "refund", "--status", "resolved") == []
    assert "No conversation mentions" in cli("conversations", "search", "nothing like this").stdout

    before = time.time()
    snoozed = cli.json("conversations", "snooze", "1", "--until", "2h")
    assert snoozed["status"] == "snoozed" and before + 7190 < snoozed["snoozed_until"] < time.time() + 7210
    assert "snoozed until" in cli("conversations", "snooze", "2", "--until", "2099-01-01 09:00").stdout
    assert "is not a time" in cli("conversations", "snooze", "1", "--until", "soon", code=2).stderr
    assert "in the future" in cli("conversations", "snooze", "1", "--until", "2001-01-01", code=1).stderr

    async def wake(now: float) -> int:
        db = await Database(get_settings()).open()
        try:
            async with db.read() as s:
                due = await conversations.snoozes_due(s, now=now)
            return await db.write(lambda s: conversations.wake_snoozed(s, now=now)) if due else 0
        finally:
            await db.close()

    assert asyncio.run(wake(time.time())) == 0  # not yet
    assert asyncio.run(wake(time.time() + 7300)) == 1  # two hours later: conversation 1, not the 2099 one
    thread = cli("conversations", "show", "1").stdout
    assert "its snooze ended" in thread
    assert cli.json("conversations", "show", "1")["status"] == "open"
    assert cli.json("conversations", "show", "2")["status"] == "snoozed"


def test_agents_update_keeps_an_administrator(cli: Cli) -> None:
    cli("init")
    cli("agents", "create", "--email", "ann@acme.test", "--name", "Ann")
    ann = cli.json("agents", "update", "ann@acme.test", "--name", "Ann Wanjiru", "--email", "ANN.W@acme.test", "--role", "administrator")
    assert (ann["name"], ann["email"], ann["role"]) == ("Ann Wanjiru", "ann.w@acme.test", "administrator")
    assert "already exists" in cli("agents", "update", "ann.w@acme.test", "--email", "admin@localhost.localdomain", code=1).stderr
    assert "not an email" in cli("agents", "update", "ann.w@acme.test", "--email", "ann", code=1).stderr
    cli("agents", "update", "admin@localhost.localdomain", "--role", "agent")
    assert "last administrator" in cli("agents", "update", "ann.w@acme.test", "--role", "agent", code=1).stderr
    assert "nothing to change" in cli("agents", "update", "ann.w@acme.test", code=2).stderr


def test_accounts_update_and_delete_with_everything_in_it(cli: Cli, ready: Callable[[], dict[str, Any]]) -> None:
    ready()
    cli("say", "--inbox", "Website Chat", "--contact", "Jane", "Hello")
    other = cli.json("accounts", "create", "Other Co")
    cli("inboxes", "create", "--name", "Other Chat", "--account", "Other Co")
    assert cli.json("accounts", "update", "Other Co", "--name", "Other Company", "--keep-pending-on-bot-failure")[
        "keep_pending_on_bot_failure"] is True
    asked = cli("accounts", "delete", "1", code=2).stderr  # no terminal: needs --yes, and says what goes
    assert "1 inbox" in asked and "1 bot" in asked and "1 conversation" in asked and "--yes" in asked
    assert len(cli.json("accounts", "list")) == 2
    gone = cli.json("accounts", "delete", "Acme Support", "--yes")
    assert gone["deleted"] is True and gone["removed"]["conversations"] == 1
    assert [a["name"] for a in cli.json("accounts", "list")] == ["Other Company"]
    assert [i["name"] for i in cli.json("inboxes", "list")] == ["Other Chat"]  # the only account left
    assert cli.json("bots", "list") == [] and other["id"] == 2


def test_a_remembered_and_a_global_account(cli: Cli, ndoto_home: Path) -> None:
    cli("init")
    cli("accounts", "create", "Second")
    assert "several accounts" in cli("inboxes", "list", code=1).stderr
    cli("--account", "Second", "inboxes", "create", "--name", "Second Chat")
    assert [i["name"] for i in cli.json("-a", "2", "inboxes", "list")] == ["Second Chat"]
    assert cli.json("config", "get") == {"account": None}
    cli("config", "set", "account", "Second")
    assert json.loads((ndoto_home / "config.json").read_text()) == {"account": "2"}  # stored by id
    assert [i["name"] for i in cli.json("inboxes", "list")] == ["Second Chat"]
    assert cli.json("--account", "1", "inboxes", "list") == []  # the global option wins over the default
    assert cli.json("inboxes", "list", "--account", "1") == []  # and a command's own option too
    assert "no account 'Nope'" in cli("config", "set", "account", "Nope", code=1).stderr
    cli("accounts", "delete", "2", "--yes")  # the default pointed there: it is forgotten
    assert cli.json("config", "get") == {"account": None}
    (ndoto_home / "config.json").write_text('{"account": "7"}')
    err = cli("inboxes", "list", code=1).stderr
    assert "no account '7'" in err and "ndoto config" in err
    (ndoto_home / "config.json").write_text("not json")
    assert "cannot read" in cli("inboxes", "list", code=1).stderr
    (ndoto_home / "config.json").write_text('{"account": "1"}')
    assert "Forgot" in cli("config", "unset", "account").stdout
    assert "was not set" in cli("config", "unset", "account").stdout


def _complete(words: str, env: dict[str, str]) -> list[str]:
    # The installed `ndoto` script: the shell's completion variable is named after the program.
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ndoto")], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={**env, "_NDOTO_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)},
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return done.stdout.split()


def test_shell_completion_offers_the_names_in_the_database(cli: Cli, ready: Callable[[], dict[str, Any]], ndoto_home: Path) -> None:
    ready()
    cli("agents", "create", "--email", "ann@acme.test", "--name", "Ann")
    cli("bots", "create", "--name", "OrderHelper", "--url", "https://127.0.0.1:9/hook")
    env = {**os.environ, "NDOTO_HOME": str(ndoto_home)}
    assert _complete("ndoto bots show Order", env) == ["OrderBot", "OrderHelper"]
    assert _complete("ndoto inboxes show W", env) == ["Website", "Chat"]  # bash splits the one name "Website Chat"
    assert _complete("ndoto conversations assign 1 --agent a", env) == ["admin@acme.test", "ann@acme.test"]
    # No database yet: nothing to offer, nothing created, no error.
    empty = ndoto_home.parent / "empty-home"
    assert _complete("ndoto bots show ", {k: v for k, v in {**env, "NDOTO_HOME": str(empty)}.items() if k != "NDOTO_DATABASE_URL"}) == []
    assert not (empty / "ndoto.db").exists()


def test_status_says_what_waits_and_what_fails(cli: Cli, ready: Callable[[], dict[str, Any]], ndoto_home: Path) -> None:
    ready()
    cli("say", "--inbox", "Website Chat", "--contact", "Jane", "Hello")
    cli("bots", "create", "--name", "Local", "--url", "http://127.0.0.1:9/hook")
    data = cli.json("status")
    on_sqlite = data["database"]["engine"] == "SQLite"
    assert data["database"]["path"] == (str(ndoto_home / "ndoto.db") if on_sqlite else None)
    assert data["database"]["revision"] == data["database"]["newest"] and data["database"]["bytes"] > 0
    assert data["processes"] == [] and data["conversations"]["pending"] == 1
    assert data["deliveries"]["due"] >= 1 and data["deliveries"]["failed"] == 0
    assert any("Local" in w and "NDOTO_ALLOW_PRIVATE_ADDRESSES" in w for w in data["warnings"])
    human = cli("status").stdout
    assert "no server or worker uses this database" in human and "1 with a bot" in human and "Warning:" in human
