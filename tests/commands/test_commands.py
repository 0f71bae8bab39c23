"""Every command's happy path, the token shown once, and the --json shapes."""

from __future__ import annotations

import asyncio
from typing import Any

from ndoto_cli.core.db import Database
from ndoto_cli.core.services.tokens import authenticate
from ndoto_cli.core.settings import get_settings
from tests.commands.conftest import Cli


def _auth(token: str) -> Any:
    async def go() -> Any:
        db = await Database(get_settings()).open()
        try:
            async with db.read() as s:
                return await authenticate(s, token)
        finally:
            await db.close()

    return asyncio.run(go())


def test_init_is_idempotent(cli: Cli) -> None:
    first = cli("init")
    assert "access token:" in first.stdout and "Store it now" in first.stdout
    second = cli("init")
    assert "Already set up" in second.stdout and "token:" not in second.stdout
    data = cli.json("init")
    assert data["created"] is False and data["access_token"] is None
    assert len(cli.json("accounts", "list")) == 1


def test_accounts_and_agents(cli: Cli) -> None:
    cli("init")
    acct = cli.json("accounts", "create", "Other Co")
    assert acct["name"] == "Other Co"
    # Two accounts: commands must say which.
    err = cli("agents", "list", code=1)
    assert "several accounts" in err.stderr and "Other Co" in err.stderr
    agent = cli.json("agents", "create", "--email", "ann@acme.test", "--name", "Ann", "--account", "1")
    assert agent["role"] == "agent" and agent["access_token"].startswith("ndu_")
    assert _auth(agent["access_token"]).user.email == "ann@acme.test"
    listed = cli.json("agents", "list", "-a", "My Company")
    assert [a["email"] for a in listed] == ["admin@localhost.localdomain", "ann@acme.test"]
    shown = cli.json("agents", "show", "ann@acme.test", "-a", "1")
    assert "access_token" not in shown and shown["id"] == agent["id"]
    new = cli.json("agents", "token", "reset", "ann@acme.test", "-a", "1", "--yes")
    assert new["access_token"] != agent["access_token"]
    assert _auth(new["access_token"]).user is not None
    try:
        _auth(agent["access_token"])
        raise AssertionError("the old token still works")
    except Exception as exc:  # noqa: BLE001
        assert "Invalid" in str(exc)
    cli("agents", "delete", "ann@acme.test", "-a", "1", "--yes")
    err = cli("agents", "delete", "admin@localhost.localdomain", "-a", "1", "--yes", code=1)
    assert "last administrator" in err.stderr


def test_inboxes(cli: Cli) -> None:
    cli("init")
    web = cli.json("inboxes", "create", "--name", "Website Chat", "--channel", "web_widget")
    api = cli.json("inboxes", "create", "--name", "API")
    assert web["channel_type"] == "Channel::WebWidget" and api["channel_type"] == "Channel::Api"
    assert [i["name"] for i in cli.json("inboxes", "list")] == ["Website Chat", "API"]
    assert cli.json("inboxes", "show", "API")["id"] == api["id"]
    assert cli.json("inboxes", "show", str(web["id"]))["name"] == "Website Chat"
    cli("inboxes", "delete", "API", "--yes")
    err = cli("inboxes", "show", "API", code=1)
    assert "no inbox named 'API'" in err.stderr


def test_bots_lifecycle_and_token_once(cli: Cli, tmp_path: Any) -> None:
    cli("init")
    created = cli("bots", "create", "--type", "webhook", "--name", "OrderBot", "--url", "https://127.0.0.1:9/webhook")
    token = next(line.split(":", 1)[1].strip() for line in created.stdout.splitlines() if "access token:" in line)
    assert "Store it now" in created.stdout
    assert _auth(token).bot.name == "OrderBot"
    for args in (("bots", "list"), ("bots", "show", "OrderBot")):
        out = cli(*args)
        assert token not in out.stdout
    assert token not in cli("bots", "list", "--json").stdout
    prompt = tmp_path / "prompt.md"
    prompt.write_text("You help Acme customers.\n", encoding="utf-8")
    ai = cli.json(
        "bots", "create", "--type", "ai", "--name", "Helper", "--system-prompt-file", str(prompt), "--temperature", "0.3",
        "--max-exchanges", "4", "--handoff-keyword", "speak to agent", "--handoff-keyword", "human please",
        "--model", "openai/test", "--handoff-message", "A human will take it from here.",
    )
    cfg = ai["bot_config"]
    assert ai["bot_type"] == "ai_agent" and cfg["system_prompt"] == "You help Acme customers.\n"
    assert cfg["handoff_keywords"] == ["speak to agent", "human please"] and cfg["temperature"] == 0.3
    updated = cli.json("bots", "update", "Helper", "--temperature", "0.5", "--name", "Helper2")
    assert updated["bot_config"]["temperature"] == 0.5 and updated["name"] == "Helper2"
    reset = cli.json("bots", "token", "reset", "OrderBot", "--yes")
    assert reset["access_token"] != token
    secret = cli.json("bots", "secret", "reset", "OrderBot", "--yes")
    assert secret["secret"].startswith("whsec_")
    cli("bots", "delete", "Helper2", "--yes")
    assert [b["name"] for b in cli.json("bots", "list")] == ["OrderBot"]


def test_system_bots(cli: Cli) -> None:
    cli("init")
    cli.json("bots", "create", "--system", "--name", "Global", "--url", "https://127.0.0.1:9/h")
    listed = cli.json("bots", "list")
    assert listed[0]["system_bot"] is True
    err = cli("bots", "update", "Global", "--name", "Mine", code=1)
    assert "system bot" in err.stderr
    cli("bots", "delete", "Global", "--yes", code=1)
    assert cli.json("bots", "update", "Global", "--system", "--name", "Global2")["name"] == "Global2"
    cli("inbox", "assign", "Global2", "Web", code=1)  # no such inbox yet
    cli("inboxes", "create", "--name", "Web")
    cli("inbox", "assign", "Global2", "Web")


def test_inbox_assign_replaces_and_unassign(cli: Cli) -> None:
    cli("init")
    cli("inboxes", "create", "--name", "Web")
    cli("bots", "create", "--name", "A", "--url", "https://127.0.0.1:9/h")
    cli("bots", "create", "--name", "B", "--url", "https://127.0.0.1:9/h")
    assert "now answers" in cli("inbox", "assign", "A", "Web").stdout
    out = cli("inbox", "assign", "B", "Web").stdout
    assert "Replaced bot A with B" in out
    assert cli.json("inboxes", "show", "Web")["agent_bot"]["name"] == "B"
    assert "no longer answers" in cli("inbox", "unassign", "Web").stdout
    assert cli.json("inboxes", "show", "Web")["agent_bot"] is None


def test_conversations_flow(cli: Cli, ready: Any) -> None:
    ready()
    said = cli.json("say", "--inbox", "Website Chat", "--contact", "Jane", "Where is my order?")
    assert said["message_type"] == 0 and said["conversation_id"] == 1
    listed = cli.json("conversations", "list", "--status", "pending")
    assert listed["payload"][0]["owner"]["type"] == "agent_bot"
    cli.json("agents", "create", "--email", "ann@acme.test", "--name", "Ann")
    note = cli.json("conversations", "reply", "1", "checking the order", "--private", "--as", "ann@acme.test")
    assert note["private"] is True
    assert cli.json("conversations", "show", "1")["status"] == "pending"  # a note does not take over
    cli("conversations", "reply", "1", "Hi Jane, Ann here", "--as", "ann@acme.test")
    shown = cli.json("conversations", "show", "1")
    assert shown["status"] == "open" and shown["owner"]["name"] == "Ann"
    thread = cli("conversations", "show", "1").stdout
    assert "[private note] Ann" in thread and "Hi Jane, Ann here" in thread
    assert cli.json("conversations", "assign", "1", "--none")["status"] == "pending"
    assert cli.json("conversations", "assign", "1", "--agent", "ann@acme.test")["meta"]["assignee"]["email"] == "ann@acme.test"
    assert cli.json("conversations", "assign", "1", "--bot", "OrderBot")["meta"]["assignee_type"] == "AgentBot"
    assert cli.json("conversations", "resolve", "1")["status"] == "resolved"
    assert cli.json("conversations", "reopen", "1")["status"] == "open"
    assert cli.json("conversations", "list", "--assignee", "none", "--inbox", "Website Chat")["meta"]["all_count"] == 1
    cli("conversations", "assign", "1", code=2)


def test_deliveries_commands(cli: Cli, ready: Any) -> None:
    ready()
    cli("say", "--inbox", "Website Chat", "--contact", "Jane", "hello")
    rows = cli.json("deliveries", "list")
    assert rows[0]["event"] == "message_created" and rows[0]["status"] == "pending"
    shown = cli.json("deliveries", "show", str(rows[0]["id"]))
    assert shown["attempt_log"] == [] and shown["webhook_id"].startswith("msg_")
    assert cli.json("deliveries", "retry", "--failed")["retried"] == 0
    assert "0 deliveries" in cli("deliveries", "retry", "--failed", "--since", "1d").stdout
    cli("deliveries", "retry", code=2)
    cli("deliveries", "list", "--since", "yesterday-ish", code=2)


def test_bots_ping_reports_the_outcome(cli: Cli) -> None:
    cli("init")
    cli("bots", "create", "--name", "Nowhere", "--url", "http://127.0.0.1:9/webhook")
    out = cli("bots", "ping", "Nowhere", code=1)
    assert "FAILED" in out.stdout and "private address" in out.stdout


def test_db_commands(cli: Cli) -> None:
    info = cli.json("db", "upgrade")
    assert info["revision"] == info["head"]
    info = cli.json("db", "info")
    assert info["database"].startswith("sqlite+aiosqlite:///" if info["engine"] == "SQLite" else "postgresql+asyncpg://")
