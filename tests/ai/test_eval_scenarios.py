"""`ndoto bots eval` with scenarios: the example shop's file through the agent's real pipeline
(retrieval, tools with their doubles or the real order service, handoff rules, the local model
server), scenarios that pass and fail, a judge, and files that are refused with one line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ndoto_cli.core.ai import scenarios as sc
from ndoto_cli.core.errors import Invalid
from ndoto_cli.core.models import AgentBot
from ndoto_cli.dispatch.ai import evaluate
from tests.ai.conftest import EXAMPLES, AiWorld
from tests.ai.fake_llm import FakeLLM, Reply
from tests.ai.test_ai_tools import OrderService, add_order_tool, orders, tooled  # noqa: F401 - fixtures

SHOP = EXAMPLES / "shop-scenarios.yaml"


def shop_model(request: dict[str, Any]) -> Reply:
    """A scripted model for the example shop: the judge passes what quotes the passage."""
    system = request["messages"][0]["content"]
    last = request["messages"][-1]
    if system.startswith(sc.JUDGE_PROMPT[:40]):
        assert "tools" not in request  # the judge is offered no tool, not even the handoff
        return Reply("PASS\nIt gives 5 to 7 working days, from the passage." if "5 to 7" in last["content"] else "FAIL\nNo time given.")
    if last["role"] == "tool":
        status = re.search(r'"status": "(\w+)"', last["content"])
        return Reply(f"Your order is {status.group(1)}." if status else "I cannot check orders right now, sorry.")
    said = last["content"].lower()
    if "mobile money" in said:
        return Reply("Mobile money refunds usually arrive within 24 hours.")
    if "refund" in said:
        return Reply("Refunds take 5 to 7 working days.")
    number = re.search(r"\d{4}", said)
    if "order" in said and number:
        return Reply(tool_calls=[("order_status", {"order_id": number.group(0)})])
    return Reply("Sorry to hear that. Could you send us a photo of the parcel?")


async def play(world: AiWorld, scenarios: list[sc.Scenario], judge: str | None = None) -> list[evaluate.ScenarioResult]:
    async with world.db.read() as s:
        bot = await s.get(AgentBot, world.bot_id)
    return await evaluate.run(world.db, world.settings, bot, scenarios, judge_model=judge)


async def test_the_example_shops_scenarios_pass(tooled: AiWorld) -> None:  # noqa: F811 - a fixture
    tooled.llm.script = shop_model
    await add_order_tool(tooled, "http://127.0.0.1:9")  # never dialled: the scenarios give it doubles
    results = await play(tooled, sc.load(SHOP.name, SHOP.read_text()), judge="openai/judge-model")
    report = evaluate.as_json(results)
    failed = [c for r in report["results"] for t in r["turns"] for c in t["checks"] if not c["ok"]]
    assert failed == [] and report["scenarios_passed"] == report["scenarios"] == 4, json.dumps(report, indent=1)[:3000]
    assert report["score"] == 1.0
    by_name = {r["scenario"]: r for r in report["results"]}
    order = by_name["where is my order"]["turns"][0]
    assert order["tool_calls"] == [{"tool": "order_status", "arguments": {"order_id": "4521"}, "ok": True, "status": 200, "error": None}]
    down = by_name["the order service is down"]["turns"][0]
    assert down["tool_calls"][0]["status"] == 503 and down["said"] == "I cannot check orders right now, sorry."
    person = by_name["a customer who asks for a person"]
    assert [t["action"] for t in person["turns"]] == ["reply", "handoff", None] and person["turns"][2]["reached"] is False
    assert person["turns"][1]["handoff_reason"].startswith("keyword")
    refund = by_name["refund timing"]["turns"][0]
    assert {"check": "judge", "ok": True, "detail": "It gives 5 to 7 working days, from the passage."} in refund["checks"]
    # The second turn carried the first: the model saw the conversation so far.
    mobile = next(r for r in tooled.llm.requests if "mobile money" in r["messages"][-1]["content"])
    assert [m["role"] for m in mobile["messages"]] == ["system", "user", "assistant", "user"]
    async with tooled.db.read() as s:  # touches no conversation
        from sqlalchemy import text
        assert (await s.execute(text("SELECT count(*) FROM conversations"))).scalar_one() == 0


async def test_failing_expectations_are_reported_and_a_real_tool_answers(tooled: AiWorld, orders: OrderService) -> None:  # noqa: F811 - fixtures
    tooled.llm.script = shop_model
    await add_order_tool(tooled, orders.base)
    file = """
- name: wrong expectations
  never_handoff: true
  turns:
    - customer: where is order 4522?
      expect:
        mention: [shipped]
        call: {tool: order_status, arguments: {order_id: 4521}}
        handoff: true
    - customer: speak to agent
    - customer: still there?
"""
    (result,) = await play(tooled, sc.load("x.yaml", file))
    checks = {c.what: c for c in result.all_checks}
    assert not result.passed
    assert checks["mention 'shipped'"].ok is False and "processing" in checks["mention 'shipped'"].detail
    assert checks['call order_status with {"order_id": 4521}'].detail == 'called with {"order_id": "4522"}'
    assert checks["hand off"].detail == "it answered"
    assert checks["never hand off"].detail == "handed off at turn 2"
    assert orders.requests and orders.requests[-1]["path"] == "/orders/4522"  # the real service, through the guard
    assert evaluate.summary([result])["score"] == 0.0


def test_the_command_prints_a_table_and_fails_when_a_scenario_does(
    cli: Any, model_server: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    model_server.script = shop_model
    cli("init")
    cli("bots", "create", "--type", "ai", "--name", "Helper", "--handoff-keyword", "speak to agent")
    cli("kb", "add", "Helper", str(EXAMPLES / "shop-help"))
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"name": "refunds", "turns": [{"customer": "How long do refunds take?", "expect": {"mention": "5 to 7"}}]}) + "\n")
    out = cli("bots", "eval", "Helper", str(good)).stdout
    assert "scenarios passed: 1 of 1; checks passed: 1 of 1; score: 1.0" in out and "ok mention '5 to 7'" in out
    # A judge model with no endpoint and no key is refused before any call (nothing leaves the machine).
    asked = len(model_server.requests)
    with monkeypatch.context() as m:
        m.delenv("NDOTO_AI_API_BASE")
        m.delenv("OPENAI_API_KEY", raising=False)
        refused = cli("bots", "eval", "Helper", str(good), "--judge-model", "openai/judge", code=1)
    assert "needs OPENAI_API_KEY" in refused.stderr and len(model_server.requests) == asked
    bad = tmp_path / "bad.yaml"
    bad.write_text("- name: too strict\n  turns:\n    - customer: How long do refunds take?\n      expect: {not_mention: [working days]}\n")
    failed = cli("bots", "eval", "Helper", str(bad), code=1)
    assert "FAIL not mention 'working days'" in failed.stdout and "score: 0.0" in failed.stdout
    data = cli.json("bots", "eval", "Helper", str(bad), code=1)
    assert data["scenarios_passed"] == 0 and data["results"][0]["turns"][0]["said"] == "Refunds take 5 to 7 working days."
    for text, message in (
        ("- name: x\n  turns: []\n", "needs turns"),
        ("- turns: [{customer: hi, expect: {mentions: [a]}}]\n", "unknown expectation mentions"),
        ("- turns: [hi]\n  handoff_by: 3\n", "handoff_by is a turn number from 1 to 1"),
        ("- turns: [{customer: hi}]\n  doubles: {order_status: {status: shipped}}\n", "the double of order_status"),
        (": not yaml: [\n", "not valid YAML"),
    ):
        bad.write_text(text)
        refused = cli("bots", "eval", "Helper", str(bad), code=1)
        assert message in refused.stderr and "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("text", "ok", "detail"), [
    ("PASS\nfine", True, "fine"), ("fail: invents a date", False, "invents a date"), ("Maybe", False, "the judge's answer was not PASS or FAIL: 'Maybe'"),
])
def test_a_judges_verdict(text: str, ok: bool, detail: str) -> None:
    assert sc.verdict(text) == sc.Check("judge", ok, detail)


def test_scenario_files_are_told_from_question_sets() -> None:
    assert sc.is_scenario_file("a.yaml", "") and sc.is_scenario_file("a.jsonl", '{"turns": ["hi"]}\n')
    assert not sc.is_scenario_file("q.jsonl", '{"question": "hi"}\n')
    with pytest.raises(Invalid, match="holds no scenario"):
        sc.load("a.yaml", "scenarios: []\n")
