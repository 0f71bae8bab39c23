"""Who makes a change: recorded in activity messages and as ``performed_by`` in payloads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """``kind`` is user, agent_bot, contact, platform_app or system."""

    kind: str
    id: int | None = None
    name: str = "system"

    @property
    def is_bot(self) -> bool:
        return self.kind == "agent_bot"

    @property
    def is_user(self) -> bool:
        return self.kind == "user"

    def performed_by(self) -> dict[str, object]:
        return {"type": self.kind, "id": self.id}


SYSTEM = Actor("system", None, "system")
