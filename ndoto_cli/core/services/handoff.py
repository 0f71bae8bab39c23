"""A bot's conversation goes to humans: one sequence for every kind of handoff.

The AI agent hands off (a keyword, its exchange limit, the model's decision, a model failure),
and the dispatcher hands off a conversation whose bot cannot be reached. Both read the same in
the thread and fire the same events: a message to the customer and a note for the humans when
there is something to say, then status ``open`` with an activity line saying who and why.
A human taking over is an assignment instead (``conversations.assign_user``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core import routing
from ndoto_cli.core.actors import Actor
from ndoto_cli.core.bundle import Bundle
from ndoto_cli.core.models import Status
from ndoto_cli.core.services import conversations, messages, outcomes


async def hand_to_humans(
    session: AsyncSession,
    *,
    bundle: Bundle,
    actor: Actor,
    customer_message: str | None = None,
    note: str | None = None,
    activity: str | None = None,
    reason: str | None = None,
) -> Bundle:
    """Hand ``bundle``'s conversation to humans; returns it reloaded, status ``open``."""
    conv = bundle.conversation
    owner_before = routing.owner_bot_id(bundle)
    if customer_message:
        said = await messages.create_message(
            session, account_id=conv.account_id, display_id=conv.display_id, actor=actor, content=customer_message,
            bundle=bundle,
        )
        if owner_before is not None:  # "a colleague will follow up" is not the bot's answer
            await outcomes.not_an_answer(session, bundle, bot_id=owner_before, at=said.message.created_at)
    if note:
        await messages.create_message(
            session, account_id=conv.account_id, display_id=conv.display_id, actor=actor, content=note, private=True,
        )
    bundle = await conversations.load(session, account_id=conv.account_id, display_id=conv.display_id)
    await conversations.apply_status(session, bundle, Status.open, actor=actor, owner_before=owner_before, activity=activity,
                                       reason=reason)
    return bundle
