"""`ndoto kb ...` and `ndoto bots try|eval|stats` against a local model server."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ai.conftest import EXAMPLES
from tests.ai.fake_llm import FakeLLM, Reply
from tests.commands.conftest import Cli


@pytest.fixture
def cli(ndoto_home: Path) -> Cli:
    return Cli()


@pytest.fixture
def model_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def answer(request: dict) -> Reply:
        question = request["messages"][-1]["content"].lower()
        system = request["messages"][0]["content"]
        if "warranty" in question:
            return Reply(handoff="not covered by the help centre")
        if "Refund timing" in system:
            return Reply("Refunds take 5 to 7 working days.")
        if "Shipping costs" in system:
            return Reply("Standard delivery costs K50; free over K1,000.")
        return Reply("I'm not sure; shall I bring in a colleague?")

    server = asyncio.run_coroutine_threadsafe(FakeLLM(script=answer).start(), loop).result(10)
    monkeypatch.setenv("NDOTO_AI_MODEL", "openai/test-model")
    monkeypatch.setenv("NDOTO_AI_API_BASE", server.base)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


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
