"""The contract between the worker loop and the transports.

The worker claims a due delivery, builds a :class:`Job` and hands it to the transport chosen by
the bot's type (``webhook`` -> HTTP POST, ``ai_agent`` -> the in-process AI agent). The transport
returns an :class:`Outcome`; the worker alone records it, schedules retries and runs the failure
handoff, so both kinds of bot get the same retries, ordering and crash safety.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Job:
    """One attempt of one delivery: the event's payload for one bot."""

    delivery_id: int
    webhook_id: str
    event_id: int
    event_name: str
    payload_json: str
    bot_id: int
    bot_type: str
    account_id: int | None
    conversation_id: int | None
    attempt: int
    outgoing_url: str | None = None
    secret: str = field(default="", repr=False)
    timeout: float | None = None
    _payload: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def payload(self) -> dict[str, Any]:
        if self._payload is None:
            self._payload = json.loads(self.payload_json)
        return self._payload


@dataclass
class Outcome:
    """What one attempt did.

    ``ok`` -> delivered. Otherwise ``retryable`` says whether to try again (timeouts, connection
    errors, 408, 429, 5xx) and ``retry_after`` (seconds) overrides the backoff when the receiver
    said so. ``disable_reason`` stops all deliveries to the bot (e.g. 410 Gone).
    """

    ok: bool
    retryable: bool = False
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None
    retry_after: float | None = None
    duration_ms: float = 0.0
    disable_reason: str | None = None


class Transport(Protocol):
    async def deliver(self, job: Job) -> Outcome: ...

    async def close(self) -> None: ...
