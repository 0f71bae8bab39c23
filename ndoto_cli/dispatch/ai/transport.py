"""The AI agent as a transport: a delivery in, at most one reply (or a handoff) out.

It answers only incoming, non-private customer messages in conversations it owns; ownership is
checked again right before writing, because a human may have taken over while the model thought.
While the model thinks the conversation shows the bot typing: to a website visitor (Chatwoot
users ask for this, #12476) and to humans in the console, in every inbox.
Many conversations are answered at once: the worker runs deliveries concurrently across
conversations, and nothing here holds a lock across the model call.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ndoto_cli.core import routing
from ndoto_cli.core.actors import Actor
from ndoto_cli.core.ai import language, tool_calls
from ndoto_cli.core.ai import rules as ai_rules
from ndoto_cli.core.ai import search as kb_search
from ndoto_cli.core.errors import NdotoError
from ndoto_cli.core.models import AgentBot
from ndoto_cli.core.outbox.queue import Claimed, Outcome
from ndoto_cli.core.services import conversations, handoff, messages
from ndoto_cli.core.settings import Settings
from ndoto_cli.dispatch.ai.agent import Turn, clients_for, runner_for, think


class AITransport:
    def __init__(self, db: Any, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.clients = clients_for(settings)
        self.runner = runner_for(settings)

    async def close(self) -> None:
        await self.clients.close()
        await self.runner.close()

    async def deliver(self, claimed: Claimed) -> Outcome:
        payload = claimed.data
        if not ai_rules.should_answer(payload):
            return Outcome(ok=True, response_excerpt="ignored: not an incoming customer message")
        account_id = payload["account"]["id"]
        display_id = payload["conversation"]["id"]
        async with self.db.read() as s:
            bot = await s.get(AgentBot, claimed.bot_id)
            try:
                bundle = await conversations.load(s, account_id=account_id, display_id=display_id)
            except NdotoError:
                return Outcome(ok=True, response_excerpt="ignored: the conversation is gone")
            if bot is None or routing.owner_bot_id(bundle) != bot.id:
                return Outcome(ok=True, response_excerpt="ignored: the bot does not own this conversation")
            turns = await ai_rules.history(s, conversation_id=bundle.conversation.id)  # type: ignore[arg-type]
            replies = await ai_rules.bot_replies(s, conversation_id=bundle.conversation.id, bot_id=bot.id)  # type: ignore[arg-type]
        live = True  # typing while it thinks: the widget's visitor and the console's humans see it
        if live:
            await self.db.write(lambda s: conversations.emit_typing(s, conversation=bundle.conversation, actor=Actor.of_bot(bot), on=True))
        if bot.batch_wait > 0 and isinstance(payload.get("id"), int):
            # Deliveries of one conversation run in order, so the turn of the burst's last message
            # comes after this one: it answers them all, and this one gives way.
            await asyncio.sleep(bot.batch_wait)
            async with self.db.read() as s:
                newer = await ai_rules.newer_customer_message(s, conversation_id=bundle.conversation.id, message_id=payload["id"])  # type: ignore[arg-type]
                if not newer:
                    turns = await ai_rules.history(s, conversation_id=bundle.conversation.id)  # type: ignore[arg-type]
            if newer:
                if live:
                    await self.db.write(
                        lambda s: conversations.emit_typing(s, conversation=bundle.conversation, actor=Actor.of_bot(bot), on=False)
                    )
                return Outcome(ok=True, response_excerpt="batched: the customer wrote again; the next turn answers both")
        if isinstance(payload.get("id"), int) and payload["id"] <= ai_rules.answered_up_to(turns):
            if live:
                await self.db.write(
                    lambda s: conversations.emit_typing(s, conversation=bundle.conversation, actor=Actor.of_bot(bot), on=False)
                )
            return Outcome(ok=True, response_excerpt="batched: an earlier turn answered this message")
        turns = ai_rules.customer_last(turns)
        question = ai_rules.unanswered(turns) or payload.get("content") or ""
        turn = await think(
            self.db, self.settings, bot, question=question, turns=turns, replies_so_far=replies,
            clients=self.clients, runner=self.runner,
        )
        done = await self.db.write(lambda s: self._apply(s, bot, account_id, display_id, turn, turns, typed=live))
        return Outcome(ok=True, response_excerpt=done)

    async def _apply(
        self, s: Any, bot: AgentBot, account_id: int, display_id: int, turn: Turn, turns: list[dict[str, Any]], *, typed: bool = False
    ) -> str:
        bundle = await conversations.load(s, account_id=account_id, display_id=display_id)
        if typed:
            await conversations.emit_typing(s, conversation=bundle.conversation, actor=Actor.of_bot(bot), on=False)
        conv_id = bundle.conversation.id
        for r in turn.tool_results:
            await tool_calls.record_call(
                s, agent_bot_id=bot.id, conversation_id=conv_id, tool=r.tool, ok=r.ok, status_code=r.status_code,
                duration_ms=r.duration_ms, error=r.error,
            )
        if routing.owner_bot_id(bundle) != bot.id:  # the calls were made, and are counted; the answer is not written
            return "silent: a human took over while the model was thinking"
        actor = Actor.of_bot(bot)
        answer = turn.answer
        usage = {
            "model": answer.model if answer else None, "latency_ms": answer.latency_ms if answer else 0.0,
            "prompt_tokens": answer.prompt_tokens if answer else 0, "completion_tokens": answer.completion_tokens if answer else 0,
        }
        tool_lines = [r.line() for r in turn.tool_results]
        if tool_lines and turn.action == "reply":  # humans see what the agent looked up (at handoff: in its note)
            await messages.create_message(
                s, account_id=account_id, display_id=display_id, actor=actor, private=True,
                content=f"{bot.name} called " + "; ".join(tool_lines),
                content_attributes={"tool_calls": [_call_json(r) for r in turn.tool_results]},
            )
            bundle = await conversations.load(s, account_id=account_id, display_id=display_id)
        if turn.action == "reply":
            result = await messages.create_message(
                s, account_id=account_id, display_id=display_id, actor=actor, content=turn.text, bundle=bundle,
                content_attributes={"sources": kb_search.sources(turn.passages)} if turn.passages else None,
                additional_attributes={"ai": {
                    "model": usage["model"], "passages": [p.passage_id for p in turn.passages],
                    "answered": max((t["id"] for t in turns if t["role"] == "user" and "id" in t), default=None),
                    "language": turn.language,
                }},
            )
            await ai_rules.record(s, agent_bot_id=bot.id, conversation_id=conv_id, message_id=result.message.id, kind="reply", **usage)
            return f"replied with message {result.message.id}"
        reason = turn.reason or "handoff"
        await handoff.hand_to_humans(
            s, bundle=bundle, actor=actor, customer_message=language.handoff_message(bot, turn.language),
            note=ai_rules.handoff_note(bot.name, reason, turns, tool_lines, turn.language), reason=reason,
        )
        await ai_rules.record(s, agent_bot_id=bot.id, conversation_id=conv_id, kind="handoff", reason=reason, **usage)
        return f"handed off: {reason}"


def _call_json(result: Any) -> dict[str, Any]:
    return {
        "tool": result.tool, "arguments": result.arguments, "ok": result.ok, "status": result.status_code,
        "duration_ms": round(result.duration_ms, 1), "error": result.error,
    }
