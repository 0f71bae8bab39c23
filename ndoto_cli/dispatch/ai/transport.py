"""The AI agent as a transport: a delivery in, at most one reply (or a handoff) out.

It answers only incoming, non-private customer messages in conversations it owns; ownership is
checked again right before writing, because a human may have taken over while the model thought.
In a website chat the visitor sees the bot typing while the model thinks (Chatwoot users ask for
this, #12476).
Many conversations are answered at once: the worker runs deliveries concurrently across
conversations, and nothing here holds a lock across the model call.
"""

from __future__ import annotations

from typing import Any

from ndoto_cli.core import routing
from ndoto_cli.core.actors import Actor
from ndoto_cli.core.ai import rules as ai_rules
from ndoto_cli.core.ai import search as kb_search
from ndoto_cli.core.errors import NdotoError
from ndoto_cli.core.models import AgentBot, Channel
from ndoto_cli.core.outbox.queue import Claimed, Outcome
from ndoto_cli.core.services import conversations, handoff, messages
from ndoto_cli.core.settings import Settings
from ndoto_cli.dispatch.ai.agent import Turn, clients_for, think


class AITransport:
    def __init__(self, db: Any, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.clients = clients_for(settings)

    async def close(self) -> None:
        await self.clients.close()

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
        live = bundle.inbox.channel_type == Channel.web_widget  # a visitor watches: show the bot typing while it thinks
        if live:
            await self.db.write(lambda s: conversations.emit_typing(s, conversation=bundle.conversation, actor=Actor.of_bot(bot), on=True))
        turn = await think(
            self.db, self.settings, bot, question=payload.get("content") or "", turns=turns, replies_so_far=replies,
            clients=self.clients,
        )
        done = await self.db.write(lambda s: self._apply(s, bot, account_id, display_id, turn, turns, typed=live))
        return Outcome(ok=True, response_excerpt=done)

    async def _apply(
        self, s: Any, bot: AgentBot, account_id: int, display_id: int, turn: Turn, turns: list[dict[str, str]], *, typed: bool = False
    ) -> str:
        bundle = await conversations.load(s, account_id=account_id, display_id=display_id)
        if typed:
            await conversations.emit_typing(s, conversation=bundle.conversation, actor=Actor.of_bot(bot), on=False)
        if routing.owner_bot_id(bundle) != bot.id:
            return "silent: a human took over while the model was thinking"
        actor = Actor.of_bot(bot)
        answer = turn.answer
        usage = {
            "model": answer.model if answer else None, "latency_ms": answer.latency_ms if answer else 0.0,
            "prompt_tokens": answer.prompt_tokens if answer else 0, "completion_tokens": answer.completion_tokens if answer else 0,
        }
        conv_id = bundle.conversation.id
        if turn.action == "reply":
            result = await messages.create_message(
                s, account_id=account_id, display_id=display_id, actor=actor, content=turn.text, bundle=bundle,
                content_attributes={"sources": kb_search.sources(turn.passages)} if turn.passages else None,
                additional_attributes={"ai": {"model": usage["model"], "passages": [p.passage_id for p in turn.passages]}},
            )
            await ai_rules.record(s, agent_bot_id=bot.id, conversation_id=conv_id, message_id=result.message.id, kind="reply", **usage)
            return f"replied with message {result.message.id}"
        reason = turn.reason or "handoff"
        await handoff.hand_to_humans(
            s, bundle=bundle, actor=actor, customer_message=bot.handoff_message,
            note=f"Handed off by {bot.name}: {reason}\n{ai_rules.summary(turns)}",
        )
        await ai_rules.record(s, agent_bot_id=bot.id, conversation_id=conv_id, kind="handoff", reason=reason, **usage)
        return f"handed off: {reason}"
