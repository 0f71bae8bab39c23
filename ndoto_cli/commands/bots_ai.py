"""``ndoto bots try|eval|stats``: an AI agent's turn in the terminal, its scores, its record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ndoto_cli.commands.kb import ai_bot
from ndoto_cli.commands.output import AccountOpt, BotArg, JsonOpt, SystemOpt, console, dump_json, fail, run, table


def try_(
    bot: BotArg,
    question: Annotated[str, typer.Argument(help="What a customer asks.")],
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One turn of an AI agent: the passages it retrieves, then its answer or its handoff decision.
    Touches no conversation.

    Example: ndoto bots try Helper "How long does a refund take?"
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.dispatch.ai.agent import think

        found = await ai_bot(db, bot, account, system, "try")
        return await think(db, db.settings, found, question=question, turns=[{"role": "user", "content": question}], replies_so_far=0)

    turn = run(go, as_json=as_json)
    from ndoto_cli.core.ai import search as kb_search

    data = {
        "action": turn.action, "answer": turn.text, "handoff_reason": turn.reason,
        "passages": [{"passage_id": p.passage_id, "title": p.title, "score": round(p.score, 4)} for p in turn.passages],
        "sources": kb_search.sources(turn.passages),
        "model": turn.answer.model if turn.answer else None,
        "latency_ms": round(turn.answer.latency_ms, 1) if turn.answer else None,
        "tokens": {"prompt": turn.answer.prompt_tokens, "completion": turn.answer.completion_tokens} if turn.answer else None,
        "tool_calls": [
            {"tool": r.tool, "arguments": r.arguments, "ok": r.ok, "status": r.status_code,
             "duration_ms": round(r.duration_ms, 1), "error": r.error}
            for r in turn.tool_results
        ],
        "language": turn.language,
        "error": turn.error,
    }
    if turn.error is not None:
        # Not an answer and not a decision: the model could not be called. Say why, whole, and fail.
        fail(f"the model could not be called: {turn.error}", code="model_error", as_json=as_json)
    if as_json:
        dump_json(data)
        return
    from rich.markup import escape

    out = console()
    out.print("[bold]Retrieved passages[/bold]" if turn.passages else "[dim]No passage retrieved.[/dim]")
    for p, source in zip(data["passages"], data["sources"], strict=True):
        out.print(f"  {escape(p['title'])} [dim](score {p['score']}; {escape(source['location'])})[/dim]")
    for r in turn.tool_results:
        out.print(f"[bold]Tool[/bold] {escape(r.line())}")
    if turn.action == "reply":
        out.print(f"[bold green]Answer[/bold green] ({data['model']}, {data['latency_ms']} ms): {escape(turn.text or '')}")
    else:
        out.print(f"[bold yellow]Handoff[/bold yellow]: {escape(turn.reason or '')}")


def eval_(
    bot: BotArg,
    questions: Annotated[Path, typer.Argument(help="Scenarios (YAML, or JSON lines with turns) or a question set (JSON lines: {question, expect_passage?, keywords?, handoff?}).")],
    judge_model: Annotated[str | None, typer.Option("--judge-model", help="Scenarios: a litellm model that grades the turns with a judge: criterion (at the server's NDOTO_AI_API_BASE or the provider's).")] = None,
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Test an AI agent before customers do. Scenarios: simulated customers, turn by turn, through
    the agent's real pipeline, each turn checked (must mention, must not mention, must call a tool
    with given arguments, must or must not hand off, by turn N), a table and a score; exits 1 when
    a scenario fails. A question set: retrieval hit rate, answer rate, correct-by-keyword rate,
    handoff accuracy.

    Example: ndoto bots eval Helper examples/shop-scenarios.yaml
    """
    try:
        text = questions.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {questions}: {exc}")
    from ndoto_cli.core.ai import scenarios

    if scenarios.is_scenario_file(questions.name, text):
        _eval_scenarios(bot, questions, text, judge_model, system, account, as_json)
        return
    try:
        cases = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        fail(f"cannot read {questions}: {exc}")
    if not all(isinstance(c, dict) and c.get("question") for c in cases):
        fail(f"{questions}: every line needs a \"question\"")

    async def go(db: Any) -> Any:
        import asyncio

        from ndoto_cli.dispatch.ai.agent import think

        found = await ai_bot(db, bot, account, system, "eval")

        async def one(case: dict[str, Any]) -> dict[str, Any]:
            q = case["question"]
            turn = await think(db, db.settings, found, question=q, turns=[{"role": "user", "content": q}], replies_so_far=0)
            expect = case.get("expect_passage")
            hit = None if not expect else any(expect.lower() in (p.title + "\n" + p.content).lower() for p in turn.passages)
            keywords = case.get("keywords") or []
            correct = None
            if keywords:
                correct = turn.action == "reply" and all(k.lower() in (turn.text or "").lower() for k in keywords)
            want_handoff = bool(case.get("handoff"))
            return {"question": q, "action": turn.action, "retrieval_hit": hit, "correct": correct,
                    "handoff_ok": (turn.action == "handoff") == want_handoff, "expect_handoff": want_handoff,
                    "answer": turn.text, "reason": turn.reason}

        return await asyncio.gather(*[one(c) for c in cases])

    rows = run(go, as_json=as_json)

    def rate(values: list[bool]) -> float | None:
        return round(sum(values) / len(values), 3) if values else None

    summary = {
        "questions": len(rows),
        "retrieval_hit_rate": rate([r["retrieval_hit"] for r in rows if r["retrieval_hit"] is not None]),
        "answer_rate": rate([r["action"] == "reply" for r in rows if not r["expect_handoff"]]),
        "correct_by_keyword_rate": rate([r["correct"] for r in rows if r["correct"] is not None]),
        "handoff_accuracy": rate([r["handoff_ok"] for r in rows]),
    }
    if as_json:
        dump_json({**summary, "results": rows})
        return
    table(["question", "action", "retrieval", "keywords", "handoff ok"], [
        [r["question"][:50], r["action"], {None: "-", True: "hit", False: "MISS"}[r["retrieval_hit"]],
         {None: "-", True: "ok", False: "WRONG"}[r["correct"]], "yes" if r["handoff_ok"] else "NO"] for r in rows
    ])
    for key, value in summary.items():
        console().print(f"{key.replace('_', ' ')}: {value if value is not None else '-'}")


def _eval_scenarios(bot: str, path: Path, text: str, judge_model: str | None, system: bool, account: str | None, as_json: bool) -> None:
    from ndoto_cli.core.ai import scenarios
    from ndoto_cli.core.errors import NdotoError

    try:
        loaded = scenarios.load(path.name, text)
    except NdotoError as exc:
        fail(exc.message, code="invalid", as_json=as_json)
    if judge_model:
        from types import SimpleNamespace

        from ndoto_cli.core.ai.rules import missing_provider_key
        from ndoto_cli.core.settings import Settings

        needed = missing_provider_key(SimpleNamespace(model=judge_model, api_base=None), Settings())
        if needed:  # refused before any call: the provider would only answer 401
            fail(f"the judge model {judge_model} needs {needed} (or NDOTO_AI_API_BASE for a local server)", code="config", as_json=as_json)

    async def go(db: Any) -> Any:
        from ndoto_cli.dispatch.ai import evaluate

        found = await ai_bot(db, bot, account, system, "eval")
        return await evaluate.run(db, db.settings, found, loaded, judge_model=judge_model)

    results = run(go, as_json=as_json)
    from ndoto_cli.dispatch.ai import evaluate

    report = evaluate.as_json(results)
    if as_json:
        dump_json(report)
    else:
        def mark(c: Any) -> str:
            if c.detail.startswith("skipped"):
                return f"skipped {c.what} (no --judge-model)"
            return ("ok " if c.ok else "FAIL ") + c.what + (f" ({c.detail})" if c.detail and not c.ok else "")

        rows = []
        for r in results:
            for t in r.turns:
                rows.append([r.name, t.number, t.customer[:60], t.action or "not reached", "; ".join(mark(c) for c in t.checks) or "-"])
            for c in r.checks:
                rows.append([r.name, "all", "", "", mark(c)])
            if r.error:
                rows.append([r.name, "", "", "error", r.error[:200]])
        table(["scenario", "turn", "customer", "agent", "checks"], rows)
        s = report
        console().print(f"scenarios passed: {s['scenarios_passed']} of {s['scenarios']}; checks passed: {s['checks_passed']} of {s['checks']}; "
                        f"score: {s['score'] if s['score'] is not None else '-'}")
    if report["scenarios_passed"] < report["scenarios"]:
        raise typer.Exit(1)


def stats(
    bot: BotArg,
    since: Annotated[str | None, typer.Option("--since", help="From: 30m, 2h, 7d ago or an ISO date.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Up to (not including): 1d ago or an ISO date.")] = None,
    by_day: Annotated[bool, typer.Option("--by-day", help="Also the outcome figures per day (UTC).")] = False,
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A bot's record: the conversations it handled and how they ended (resolved without a human,
    handed off and why, reopened within 7 days), its time to first answer, the customers' ratings
    beside those of the humans in its inboxes; an AI agent's answers, latency, tokens and tool calls.

    Example: ndoto bots stats Helper --since 7d --by-day
    """
    from ndoto_cli.commands.bots import _find
    from ndoto_cli.commands.deliveries import parse_since

    since_ts, until_ts = parse_since(since), parse_since(until, "--until")

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import outcomes

        scope, found = await _find(db, bot, account, system)
        async with db.read() as s:
            return await outcomes.bot_stats(s, found, since=since_ts, until=until_ts, by_day=by_day, account_id=scope)

    data = run(go, as_json=as_json)
    if as_json:
        dump_json(data)
        return
    from ndoto_cli.core.present import DAY_COLUMNS, stats_day_rows, stats_rows

    table(["metric", "value"], [list(r) for r in stats_rows(data)])
    if by_day:
        table(list(DAY_COLUMNS), [list(r) for r in stats_day_rows(data)])
