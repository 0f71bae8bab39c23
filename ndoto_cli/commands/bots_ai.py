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
    questions: Annotated[Path, typer.Argument(help="JSONL: {question, expect_passage?, keywords?, handoff?} per line.")],
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score an AI agent on a question set: retrieval hit rate, answer rate, correct-by-keyword rate,
    handoff accuracy.

    Example: ndoto bots eval Helper examples/shop-help-questions.jsonl
    """
    try:
        cases = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError) as exc:
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


def stats(
    bot: BotArg,
    since: Annotated[str | None, typer.Option("--since", help="Only newer than: 30m, 2h, 7d or an ISO date.")] = None,
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """An AI agent's record: replies, handoffs by reason, latency percentiles, tokens, tool calls.

    Example: ndoto bots stats Helper --since 7d
    """
    from ndoto_cli.commands.deliveries import parse_since

    since_ts = parse_since(since)

    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import rules as ai_rules

        found = await ai_bot(db, bot, account, system, "stats")
        async with db.read() as s:
            return await ai_rules.stats(s, bot_id=found.id, since=since_ts)

    result = run(go, as_json=as_json)
    data = result.json()
    if as_json:
        dump_json(data)
        return
    table(["metric", "value"], [
        ["replies", data["replies"]],
        ["handoffs", ", ".join(f"{k}: {v}" for k, v in sorted(data["handoffs"].items())) or "0"],
        ["latency p50 / p95 (ms)", f"{data['latency_ms']['p50']} / {data['latency_ms']['p95']}"],
        ["tokens prompt / completion", f"{data['tokens']['prompt']} / {data['tokens']['completion']}"],
        ["tool calls / failures", f"{data['tool_calls']['calls']} / {data['tool_calls']['failures']}"],
        *[[f"  {name}", f"{c['calls']} / {c['failures']}"] for name, c in sorted(data["tool_calls"]["by_tool"].items())],
    ])
