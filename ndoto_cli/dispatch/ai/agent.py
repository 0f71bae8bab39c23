"""One turn of the AI agent, shared by the transport (real conversations) and `ndoto bots try`."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

from ndoto_cli.core.ai import language, tool_calls
from ndoto_cli.core.ai import search as kb_search
from ndoto_cli.core.ai import tools as core_tools
from ndoto_cli.core.ai.rules import (
    DATA_RULES,
    GROUNDING,
    bounded,
    customer_data,
    endpoint,
    guardrails,
    leaks,
    matched_keyword,
    redact,
    tool_data,
)
from ndoto_cli.core.models import AgentBot
from ndoto_cli.core.settings import Settings
from ndoto_cli.dispatch.ai import llm
from ndoto_cli.dispatch.ai.pinned import refusal_in
from ndoto_cli.dispatch.ai.tools import ToolResult, ToolRunner

# A turn's tool budget: rounds of model -> tools -> model, and calls in all. Past it the agent
# hands off rather than loop on a model that keeps calling.
MAX_TOOL_ROUNDS = 3
MAX_TOOL_CALLS = 6


@dataclass
class Turn:
    action: str  # "reply" or "handoff"
    text: str | None = None
    reason: str | None = None
    passages: list[kb_search.Hit] = field(default_factory=list)
    answer: llm.Answer | None = None
    error: str | None = None  # the model could not be called: why, whole (``reason`` keeps 300 characters)
    tool_results: list[ToolResult] = field(default_factory=list)
    language: str | None = None  # the customer's, as detected (core.ai.language)


def clients_for(settings: Settings) -> llm.Clients:
    return llm.Clients(allow_private=settings.allow_private_addresses, allowlist=tuple(settings.private_allowlist))


def runner_for(settings: Settings, doubles: dict[str, dict[str, Any]] | None = None) -> ToolRunner:
    return ToolRunner(allow_private=settings.allow_private_addresses, allowlist=tuple(settings.private_allowlist), doubles=doubles)


def _secrets(bot: AgentBot) -> list[str | None]:
    """What must never appear in a stored error: the bot's key and the environment's keys."""
    env = [v for k, v in os.environ.items() if k.endswith(("_KEY", "_TOKEN", "_SECRET")) and len(v) >= 8]
    return [bot.api_key, *env]


async def retrieve(db: Any, settings: Settings, bot: AgentBot, question: str, limit: int = 4) -> list[kb_search.Hit]:
    return (await _retrieve(db, settings, bot, question, limit))[0]


async def _retrieve(db: Any, settings: Settings, bot: AgentBot, question: str, limit: int = 4) -> tuple[list[kb_search.Hit], list[Any]]:
    """The passages for ``question`` and the bot's tools, in one read (a turn's only one before the model)."""
    query_embedding = None
    if settings.embedding_model:
        (query_embedding,) = await llm.embed(model=settings.embedding_model, api_base=settings.ai_api_base, texts=[question])
    async with db.read() as s:
        tools = await core_tools.list_tools(s, bot_id=bot.id)  # type: ignore[arg-type]
        hits = await kb_search.search(s, bot_id=bot.id, question=question, limit=limit, query_embedding=query_embedding)  # type: ignore[arg-type]
        return hits, tools


def prompt(
    bot: AgentBot, passages: list[kb_search.Hit], turns: list[dict[str, Any]], speaks: language.Language | None = None,
) -> list[dict[str, Any]]:
    """The system message (the admin's prompt, the grounding and data rules, the customer's
    language, the passages), then the conversation, each customer message fenced as data
    (``rules.customer_data``)."""
    context = "\n\n".join(f"[{i + 1}] {p.title}\n{p.content}" for i, p in enumerate(passages)) or "(no passage matched the question)"
    rules = "\n\n".join(x for x in (GROUNDING, DATA_RULES, guardrails(bot), language.instruction(speaks)) if x)
    system = f"{bot.system_prompt.strip()}\n\n{rules}\n\nKnowledge base passages:\n{context}".strip()
    conversation = [
        {"role": t["role"], "content": customer_data(t["content"]) if t["role"] == "user" else t["content"]} for t in turns
    ]
    return [{"role": "system", "content": system}, *conversation]


async def think(
    db: Any, settings: Settings, bot: AgentBot, *, question: str, turns: list[dict[str, Any]], replies_so_far: int,
    clients: llm.Clients | None = None, runner: ToolRunner | None = None,
) -> Turn:
    """Decide: hand off by rule (keyword, exchange limit), else ask the model, which may call the
    bot's tools (their answers go back to it, within the turn's budget) and may hand off. The
    customer's language is found first: it picks the keywords and tells the model what to write."""
    earlier = [t["content"] for t in turns if t["role"] == "user" and t["content"] != question][-4:]
    known = next((t["language"] for t in reversed(turns) if t["role"] == "assistant" and t.get("language")), None)
    speaks = await asyncio.to_thread(language.of_conversation, question, earlier, list(bot.languages or []) or None, known)
    code = speaks.code if speaks else None
    keyword = matched_keyword(question, language.keywords_for(list(bot.handoff_keywords or []), code))
    if keyword is not None:
        return Turn("handoff", reason=f"keyword: the customer wrote {keyword!r}", language=code)
    if replies_so_far >= bot.max_exchanges:
        return Turn("handoff", reason=f"max_exchanges: {bot.max_exchanges} answers given", language=code)
    passages, listed = await _retrieve(db, settings, bot, question)
    tools = {t.name: t for t in listed}
    own_clients, own_runner = clients is None, runner is None
    clients = clients or clients_for(settings)
    runner = runner or (runner_for(settings) if tools else None)
    try:
        return await _converse(bot, settings, Turn("handoff", passages=passages, language=code),
                               prompt(bot, passages, turns, speaks), tools, clients, runner)
    finally:
        if own_clients:
            await clients.close()
        if own_runner and runner is not None:
            await runner.close()


async def _converse(
    bot: AgentBot, settings: Settings, turn: Turn, messages: list[dict[str, Any]], tools: dict[str, Any],
    clients: llm.Clients, runner: ToolRunner | None,
) -> Turn:
    specs = [core_tools.function_spec(t) for t in tools.values()]
    secrets = _secrets(bot) + [x for t in tools.values() for x in tool_calls.secrets_of(t)]
    spent = llm.Answer(None, None, "", 0.0, 0, 0)
    for round_ in range(MAX_TOOL_ROUNDS + 1):
        try:
            answer = await llm.complete(
                endpoint=endpoint(bot, settings), clients=clients, messages=messages,
                temperature=bot.temperature, timeout=min(60.0, (bot.timeout or 60.0)), tools=specs or None,
            )
        except Exception as exc:  # noqa: BLE001 - any provider failure after retries means: a human answers
            refused = refusal_in(exc)
            detail = f"refused: {refused}" if refused is not None else f"{type(exc).__name__}: {exc}"
            detail = redact(detail, secrets)
            turn.reason, turn.error = f"model_error: {detail[:300]}", detail
            turn.answer = spent if spent.model else None
            return turn
        spent = llm.Answer(
            answer.text, answer.handoff_reason, answer.model, spent.latency_ms + answer.latency_ms,
            spent.prompt_tokens + answer.prompt_tokens, spent.completion_tokens + answer.completion_tokens, answer.tool_calls,
        )
        turn.answer = spent
        if answer.handoff_reason is not None:
            turn.reason = f"model: {answer.handoff_reason}"
            return turn
        if not answer.tool_calls:
            if not answer.text:
                turn.reason = "model_error: empty answer"
                return turn
            leaked = leaks(answer.text, bot.system_prompt or "", [s for s in secrets if s])
            if leaked is not None:  # never sent: a human answers instead
                turn.reason = f"guardrail: the answer would have revealed {leaked}"
                return turn
            turn.action, turn.text = "reply", bounded(answer.text, bot.max_answer_chars)
            return turn
        room = MAX_TOOL_CALLS - len(turn.tool_results)
        if round_ == MAX_TOOL_ROUNDS or room <= 0:
            turn.reason = f"tool_limit: the model kept calling tools ({len(turn.tool_results)} calls in this turn)"
            return turn
        messages.append(answer.assistant_message())
        results = await asyncio.gather(*(_run(runner, tools, call, allowed=i < room) for i, call in enumerate(answer.tool_calls)))
        for result in results:
            messages.append({"role": "tool", "tool_call_id": result.call_id, "content": tool_data(result.for_model())})
        # Calls that were made, or refused for their arguments, count; not those past the budget or to no tool.
        turn.tool_results.extend(r for i, r in enumerate(results) if i < room and r.tool in tools)
    return turn


async def _run(runner: ToolRunner | None, tools: dict[str, Any], call: llm.ToolCallAsked, *, allowed: bool) -> ToolResult:
    tool = tools.get(call.name)
    if tool is None or runner is None:
        return ToolResult(call.name, {}, False, error=f"there is no tool {call.name[:64]!r}", call_id=call.id)
    if not allowed:
        return ToolResult(call.name, {}, False, error="too many tool calls in this turn", call_id=call.id)
    return await runner.call(tool, call.arguments, call_id=call.id)
