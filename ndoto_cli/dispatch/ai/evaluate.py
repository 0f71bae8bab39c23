"""``ndoto bots eval`` with scenarios: simulated customers played turn by turn through the agent's
real pipeline (retrieval, the bot's tools, its handoff rules, its model), each turn checked by
``core.ai.scenarios``, and, with a judge model, graded by it. Touches no conversation.

A scenario ends at the agent's handoff (the turns after it are reported as not reached). Tools
with a double in the scenario answer from it; the others call their real endpoint through the
address guard, as in a conversation.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ndoto_cli.core.ai import language
from ndoto_cli.core.ai import scenarios as sc
from ndoto_cli.core.ai.rules import Endpoint
from ndoto_cli.core.models import AgentBot
from ndoto_cli.core.settings import Settings
from ndoto_cli.dispatch.ai import llm
from ndoto_cli.dispatch.ai.agent import clients_for, runner_for, think

CONCURRENCY = 4  # scenarios played at once (each is sequential inside)


@dataclass
class TurnResult:
    number: int
    customer: str
    reached: bool
    action: str | None = None  # reply | handoff
    said: str | None = None
    reason: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    checks: list[sc.Check] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {"turn": self.number, "customer": self.customer, "reached": self.reached, "action": self.action,
                "said": self.said, "handoff_reason": self.reason, "tool_calls": self.tools,
                "checks": [c.json() for c in self.checks]}


@dataclass
class ScenarioResult:
    name: str
    turns: list[TurnResult]
    checks: list[sc.Check]  # the scenario's own (handoff by turn N, never)
    error: str | None = None  # the model could not be called

    @property
    def all_checks(self) -> list[sc.Check]:
        return [c for t in self.turns for c in t.checks] + self.checks

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.ok for c in self.all_checks)

    def json(self) -> dict[str, Any]:
        return {"scenario": self.name, "passed": self.passed, "error": self.error,
                "turns": [t.json() for t in self.turns], "checks": [c.json() for c in self.checks]}


async def run(db: Any, settings: Settings, bot: AgentBot, scenarios: list[sc.Scenario], *, judge_model: str | None = None) -> list[ScenarioResult]:
    clients = clients_for(settings)
    gate = asyncio.Semaphore(CONCURRENCY)
    try:
        async def one(scenario: sc.Scenario) -> ScenarioResult:
            async with gate:
                return await _play(db, settings, bot, scenario, clients, judge_model)

        return list(await asyncio.gather(*(one(s) for s in scenarios)))
    finally:
        await clients.close()


async def _play(
    db: Any, settings: Settings, bot: AgentBot, scenario: sc.Scenario, clients: llm.Clients, judge_model: str | None
) -> ScenarioResult:
    runner = runner_for(settings, doubles=scenario.doubles)
    turns: list[dict[str, Any]] = []
    results: list[TurnResult] = []
    handed_at: int | None = None
    replies = 0
    error = None
    try:
        for number, step in enumerate(scenario.turns, 1):
            if handed_at is not None or error is not None:
                results.append(TurnResult(number, step.customer, reached=False))
                continue
            turns.append({"role": "user", "content": step.customer})
            turn = await think(db, settings, bot, question=step.customer, turns=list(turns), replies_so_far=replies,
                               clients=clients, runner=runner)
            if turn.error is not None:
                error = f"turn {number}: the model could not be called: {turn.error}"
                results.append(TurnResult(number, step.customer, reached=True, action="error", reason=turn.error))
                continue
            handed = turn.action == "handoff"
            said = language.handoff_message(bot, turn.language) if handed else (turn.text or "")
            calls = [(r.tool, r.arguments) for r in turn.tool_results]
            result = TurnResult(
                number, step.customer, reached=True, action=turn.action, said=said, reason=turn.reason,
                tools=[{"tool": r.tool, "arguments": r.arguments, "ok": r.ok, "status": r.status_code, "error": r.error}
                       for r in turn.tool_results],
                checks=sc.check_turn(step.expect, handed_off=handed, said=said, calls=calls),
            )
            if step.expect.judge:
                result.checks.append(await _judge(settings, clients, judge_model, step.expect.judge, turns, said))
            results.append(result)
            if handed:
                handed_at = number
            else:
                turns.append({"role": "assistant", "content": said, "language": turn.language})
                replies += 1
    finally:
        await runner.close()
    return ScenarioResult(scenario.name, results, sc.check_scenario(scenario, handed_at), error)


async def _judge(settings: Settings, clients: llm.Clients, model: str | None, criterion: str,
                 turns: list[dict[str, Any]], said: str) -> sc.Check:
    if not model:
        return sc.Check("judge", True, "skipped: no --judge-model given")
    try:
        answer = await llm.complete(
            endpoint=Endpoint(model, settings.ai_api_base, False), clients=clients,
            messages=sc.judge_messages(criterion, turns, said), temperature=0.0, timeout=60.0, offer_handoff=False,
        )
    except Exception as exc:  # noqa: BLE001 - the judge's failure is this check's, not the run's
        return sc.Check("judge", False, f"the judge model could not be called: {type(exc).__name__}: {exc}"[:200])
    return sc.verdict(answer.text)


def summary(results: list[ScenarioResult]) -> dict[str, Any]:
    checks = [c for r in results for c in r.all_checks if not c.detail.startswith("skipped")]
    passed = sum(c.ok for c in checks)
    return {
        "scenarios": len(results), "scenarios_passed": sum(r.passed for r in results),
        "checks": len(checks), "checks_passed": passed,
        "score": round(passed / len(checks), 3) if checks else None,
    }


def as_json(results: list[ScenarioResult]) -> dict[str, Any]:
    return {**summary(results), "results": [r.json() for r in results]}

