"""`ndoto kb ...` and `ndoto bots try|eval|stats` against a local model server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ai.conftest import EXAMPLES
from tests.ai.fake_llm import FakeLLM
from tests.background import served
from tests.commands.conftest import Cli


def test_kb_and_bot_commands(cli: Cli, model_server: FakeLLM, tmp_path: Path) -> None:
    cli("init")
    cli("bots", "create", "--type", "ai", "--name", "Helper", "--handoff-keyword", "speak to agent")
    added = cli.json("kb", "add", "Helper", str(EXAMPLES / "shop-help"))
    assert len(added) == 5 and all(d["changed"] for d in added)
    assert "0 document(s) added or updated, 5 unchanged" in cli("kb", "add", "Helper", str(EXAMPLES / "shop-help")).stdout
    assert len(cli.json("kb", "list", "Helper")) == 5
    hits = cli.json("kb", "search", "Helper", "how long until my refund arrives?")
    assert "Refund timing" in hits[0]["title"] and hits[0]["score"] > 0
    turn = cli.json("bots", "try", "Helper", "How long do refunds take?")
    assert turn["action"] == "reply" and "5 to 7" in turn["answer"] and turn["passages"]
    assert cli.json("bots", "try", "Helper", "I want to speak to agent")["action"] == "handoff"
    report = cli.json("bots", "eval", "Helper", str(EXAMPLES / "shop-help-questions.jsonl"))
    assert report["questions"] == 18 and report["retrieval_hit_rate"] >= 0.8
    assert report["handoff_accuracy"] >= 0.6
    human = cli("bots", "eval", "Helper", str(EXAMPLES / "shop-help-questions.jsonl")).stdout
    assert "retrieval hit rate" in human
    stats = cli.json("bots", "stats", "Helper")
    assert stats["replies"] == 0  # try and eval touch no conversation
    cli("kb", "remove", "Helper", "payments.md")
    assert len(cli.json("kb", "list", "Helper")) == 4
    cli("bots", "create", "--name", "Hook", "--url", "https://127.0.0.1:9/h")
    assert "webhook bot" in cli("kb", "list", "Hook", code=1).stderr
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"nope": 1}\n')
    cli("bots", "eval", "Helper", str(bad), code=1)
    assert json.loads(cli("kb", "search", "Helper", "zzzz qqqq", "--json").stdout) == []


def test_bots_tools_commands(cli: Cli, model_server: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    """add (secret from standard input), list, show, update, test, try (the model calls the tool),
    stats (the call counted), remove (asks first): the order service runs on 127.0.0.1."""
    from tests.ai.test_ai_tools import TOKEN, OrderService, order_script

    with served(OrderService().start) as service:
        monkeypatch.setenv("NDOTO_PRIVATE_ALLOWLIST", "127.0.0.1")
        model_server.script = order_script
        cli("init")
        cli("bots", "create", "--type", "ai", "--name", "Helper")
        cli("bots", "create", "--name", "Hook", "--url", "https://127.0.0.1:9/h")
        url = f"{service.base}/orders/{{order_id}}"
        added = cli.runner.invoke(app_of(), [
            "bots", "tools", "add", "Helper", "--name", "order_status", "--description", "Look up an order",
            "--url", url, "--param", "order_id:string:The order number", "--auth", "bearer", "--secret", "-",
            "--response-path", "order", "--json",
        ], input=f"{TOKEN}\n")
        assert added.exit_code == 0, added.stdout + added.stderr
        data = json.loads(added.stdout)
        assert data["secret_set"] is True and TOKEN not in added.stdout and "secret" not in {k for k in data if k != "secret_set"}
        assert [t["name"] for t in cli.json("bots", "tools", "list", "Helper")] == ["order_status"]
        assert TOKEN not in cli("bots", "tools", "show", "Helper", "order_status").stdout
        cli("bots", "tools", "update", "Helper", "order_status", "--timeout", "5")
        assert cli.json("bots", "tools", "show", "Helper", "order_status")["timeout"] == 5.0

        tested = cli.json("bots", "tools", "test", "Helper", "order_status", "--arg", "order_id=4521")
        assert tested["ok"] and tested["status"] == 200 and '"status": "shipped"' in tested["model_sees"]
        assert tested["request"]["headers"]["Authorization"] == "[secret]"
        missing = cli("bots", "tools", "test", "Helper", "order_status", "--arg", "order_id=1", code=1)
        assert "HTTP 404" in missing.stdout

        turn = cli.json("bots", "try", "Helper", "Where is my order 4521?")
        assert turn["answer"] == "Your order is shipped."
        assert [(c["tool"], c["arguments"], c["status"]) for c in turn["tool_calls"]] == [("order_status", {"order_id": "4521"}, 200)]
        assert "order_status(" in cli("bots", "try", "Helper", "Where is my order 4530?").stdout

        refused = cli("bots", "tools", "add", "Helper", "--name", "meta", "--description", "x",
                      "--url", "https://169.254.169.254/latest/{p}", "--param", "p", code=1)
        assert "points at a private address" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
        assert "webhook bot" in cli("bots", "tools", "list", "Hook", code=1).stderr
        assert "needs --yes" in cli("bots", "tools", "remove", "Helper", "order_status", code=2).stderr  # asks first
        assert cli.json("bots", "tools", "remove", "Helper", "order_status", "--yes")["removed"] is True
        assert cli.json("bots", "tools", "list", "Helper") == []


def app_of() -> object:
    from ndoto_cli.commands.app import app

    return app
