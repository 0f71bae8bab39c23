"""The contract between the worker loop and the transports, and the registry that picks one.

The worker claims a due delivery (``core.outbox.queue.Claimed``) and hands it to the transport
registered for the bot's type: ``webhook`` -> a signed HTTP POST, ``ai_agent`` -> the in-process AI
agent. The transport returns an ``Outcome``; the worker alone records it, schedules retries and
runs the failure handoff, so every kind of bot gets the same retries, ordering and crash safety.
A new kind of bot is one class with ``deliver`` and ``close``, and one line in :data:`TRANSPORTS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ndoto_cli.core.models import BotType
from ndoto_cli.core.outbox.queue import Claimed, Outcome


class Transport(Protocol):
    async def deliver(self, claimed: Claimed) -> Outcome: ...

    async def close(self) -> None: ...


def _webhook(db: Any, settings: Any) -> Transport:
    from ndoto_cli.dispatch.webhook import WebhookTransport

    return WebhookTransport(settings)


def _ai_agent(db: Any, settings: Any) -> Transport:
    from ndoto_cli.dispatch.ai.transport import AITransport  # litellm stays unimported until an AI bot is due

    return AITransport(db, settings)


TRANSPORTS: dict[str, Callable[[Any, Any], Transport]] = {BotType.webhook: _webhook, BotType.ai_agent: _ai_agent}
