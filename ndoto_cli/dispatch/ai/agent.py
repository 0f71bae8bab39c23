"""One turn of the AI agent, shared by the transport (real conversations) and `ndoto bots try`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ndoto_cli.core.ai import search as kb_search
from ndoto_cli.core.ai.rules import GROUNDING, endpoint, matched_keyword, redact
from ndoto_cli.core.models import AgentBot
from ndoto_cli.core.settings import Settings
from ndoto_cli.dispatch.ai import llm
from ndoto_cli.dispatch.ai.pinned import refusal_in


@dataclass
class Turn:
    action: str  # "reply" or "handoff"
    text: str | None = None
    reason: str | None = None
    passages: list[kb_search.Hit] = field(default_factory=list)
    answer: llm.Answer | None = None
    error: str | None = None  # the model could not be called: why, whole (``reason`` keeps 300 characters)


def clients_for(settings: Settings) -> llm.Clients:
    return llm.Clients(allow_private=settings.allow_private_addresses, allowlist=tuple(settings.private_allowlist))


def _secrets(bot: AgentBot) -> list[str | None]:
    """What must never appear in a stored error: the bot's key and the environment's keys."""
    env = [v for k, v in os.environ.items() if k.endswith(("_KEY", "_TOKEN", "_SECRET")) and len(v) >= 8]
    return [bot.api_key, *env]


async def retrieve(db: Any, settings: Settings, bot: AgentBot, question: str, limit: int = 4) -> list[kb_search.Hit]:
    query_embedding = None
    if settings.embedding_model:
        (query_embedding,) = await llm.embed(model=settings.embedding_model, api_base=settings.ai_api_base, texts=[question])
    async with db.read() as s:
        return await kb_search.search(s, bot_id=bot.id, question=question, limit=limit, query_embedding=query_embedding)  # type: ignore[arg-type]


def prompt(bot: AgentBot, passages: list[kb_search.Hit], turns: list[dict[str, str]]) -> list[dict[str, Any]]:
    context = "\n\n".join(f"[{i + 1}] {p.title}\n{p.content}" for i, p in enumerate(passages)) or "(no passage matched the question)"
    system = f"{bot.system_prompt.strip()}\n\n{GROUNDING}\n\nKnowledge base passages:\n{context}".strip()
    return [{"role": "system", "content": system}, *turns]


async def think(
    db: Any, settings: Settings, bot: AgentBot, *, question: str, turns: list[dict[str, str]], replies_so_far: int,
    clients: llm.Clients | None = None,
) -> Turn:
    """Decide: hand off by rule (keyword, exchange limit), else ask the model (which may hand off)."""
    keyword = matched_keyword(question, list(bot.handoff_keywords or []))
    if keyword is not None:
        return Turn("handoff", reason=f"keyword: the customer wrote {keyword!r}")
    if replies_so_far >= bot.max_exchanges:
        return Turn("handoff", reason=f"max_exchanges: {bot.max_exchanges} answers given")
    passages = await retrieve(db, settings, bot, question)
    own = clients is None
    clients = clients or clients_for(settings)
    try:
        answer = await llm.complete(
            endpoint=endpoint(bot, settings), clients=clients, messages=prompt(bot, passages, turns),
            temperature=bot.temperature, timeout=min(60.0, (bot.timeout or 60.0)),
        )
    except Exception as exc:  # noqa: BLE001 - any provider failure after retries means: a human answers
        refused = refusal_in(exc)
        detail = f"refused: {refused}" if refused is not None else f"{type(exc).__name__}: {exc}"
        detail = redact(detail, _secrets(bot))
        return Turn("handoff", reason=f"model_error: {detail[:300]}", passages=passages, error=detail)
    finally:
        if own:
            await clients.close()
    if answer.handoff_reason is not None:
        return Turn("handoff", reason=f"model: {answer.handoff_reason}", passages=passages, answer=answer)
    if not answer.text:
        return Turn("handoff", reason="model_error: empty answer", passages=passages, answer=answer)
    return Turn("reply", text=answer.text, passages=passages, answer=answer)
