"""``ndoto kb suggest``: the bot's own model drafts an FAQ entry from each conversation that
humans resolved after the bot handed it off (``core.ai.suggestions`` picks them and reviews the
drafts). A few at a time; a model failure is reported per conversation and loses nothing (the
conversation is a candidate again next time)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ndoto_cli.core.ai import suggestions
from ndoto_cli.core.ai.rules import endpoint
from ndoto_cli.core.models import AgentBot
from ndoto_cli.core.settings import Settings
from ndoto_cli.dispatch.ai import llm
from ndoto_cli.dispatch.ai.agent import clients_for

CONCURRENCY = 4


@dataclass
class Drafted:
    conversation: int  # display id
    suggestion: Any | None = None  # the KbSuggestion stored
    skipped: str | None = None  # why no draft (the model's skip, or an unusable answer)
    error: str | None = None  # the model could not be called


async def suggest(db: Any, settings: Settings, bot: AgentBot, *, since: float | None = None, limit: int = 20) -> list[Drafted]:
    async with db.read() as s:
        found = await suggestions.candidates(s, bot_id=bot.id, since=since, limit=limit)  # type: ignore[arg-type]
    clients = clients_for(settings)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(candidate: suggestions.Candidate) -> Drafted:
        async with gate:
            try:
                answer = await llm.complete(
                    endpoint=endpoint(bot, settings), clients=clients, messages=suggestions.prompt(candidate),
                    temperature=0.2, timeout=60.0, offer_handoff=False,
                )
            except Exception as exc:  # noqa: BLE001 - one conversation's failure, told, not the run's
                return Drafted(candidate.display_id, error=f"{type(exc).__name__}: {exc}"[:300])
        draft = suggestions.parse_draft(answer.text)
        if draft.unusable is not None:
            return Drafted(candidate.display_id, error=draft.unusable)
        row = await db.write(lambda s: suggestions.record(s, bot_id=bot.id, candidate=candidate, draft=draft, model=answer.model))  # type: ignore[arg-type]
        return Drafted(candidate.display_id, suggestion=row, skipped=draft.skipped)

    try:
        return list(await asyncio.gather(*(one(c) for c in found)))
    finally:
        await clients.close()
