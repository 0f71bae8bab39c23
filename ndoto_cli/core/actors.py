"""Who makes a change: recorded in activity messages and as ``performed_by`` in payloads."""

from __future__ import annotations

from dataclasses import dataclass

from ndoto_cli.core.models import ActorKind


@dataclass(frozen=True)
class Actor:
    """Who made a change: a user, a bot, a contact, a platform app or the system."""

    kind: ActorKind
    id: int | None = None
    name: str = "system"

    @property
    def is_bot(self) -> bool:
        return self.kind == ActorKind.agent_bot

    @property
    def is_user(self) -> bool:
        return self.kind == ActorKind.user

    @classmethod
    def of_user(cls, user: object) -> Actor:
        return cls(ActorKind.user, user.id, user.name)  # type: ignore[attr-defined]

    @classmethod
    def of_bot(cls, bot: object) -> Actor:
        return cls(ActorKind.agent_bot, bot.id, bot.name)  # type: ignore[attr-defined]

    @classmethod
    def of_contact(cls, contact: object) -> Actor:
        return cls(ActorKind.contact, contact.id, contact.name)  # type: ignore[attr-defined]

    def performed_by(self) -> dict[str, object]:
        return {"type": self.kind, "id": self.id}


SYSTEM = Actor(ActorKind.system, None, "system")
