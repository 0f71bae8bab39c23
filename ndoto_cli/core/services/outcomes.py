"""What bots achieve, not only what they do: stints, ratings, and the figures of ``bots stats``.

A *stint* is one stretch of a conversation in a bot's hands: it starts at the customer's first
message the bot answers (or hands off), and ends when the bot stops owning the conversation:
resolved (by the bot, the customer, the clock or a human who closed it without writing), or handed
off, with the reason. A human who resolves a conversation the bot never answered *closed* it: not
the bot's resolution. A resolution that the conversation's reopening undoes within 7 days is not
one that lasted. Ownership is ``core.routing``'s rule, and every owner change passes through
``conversations.apply_status``: that is where stints end, so the CLI, the API, the console and the
dispatcher are counted alike.

Ratings (CSAT): an inbox with ``csat_survey`` asks the customer at each resolution to rate the
conversation 1-5; the answer comes back through the message's submitted values (the public API,
the widget). The rating remembers whether that resolution was a bot's, so a bot's figures set
its resolutions' ratings beside those of the humans in the same inboxes.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core import limits
from ndoto_cli.core.actors import Actor
from ndoto_cli.core.bundle import Bundle
from ndoto_cli.core.db import statements
from ndoto_cli.core.errors import Invalid
from ndoto_cli.core.models import BotStint, Conversation, CsatResponse, Message, MessageType, Status

DAY = 86400.0
REOPEN_WINDOW = 7 * DAY  # a resolution that lasts: not reopened within a week
RESOLVED, HANDOFF, CLOSED, PASSED = "resolved", "handoff", "closed", "reassigned"
CSAT_QUESTION = "How would you rate this conversation? (1 to 5)"
MAX_FEEDBACK = 2000


async def _open_stint(session: AsyncSession, *, conversation_id: int, bot_id: int) -> BotStint | None:
    return (await session.execute(
        select(BotStint).where(
            BotStint.conversation_id == conversation_id, BotStint.agent_bot_id == bot_id,
            BotStint.outcome.is_(None),  # type: ignore[union-attr]
        ).order_by(BotStint.id.desc()).limit(1)  # type: ignore[union-attr]
    )).scalar_one_or_none()


async def _start(session: AsyncSession, bundle: Bundle, *, bot_id: int, at: float) -> BotStint:
    """A new stint, begun at the customer's first message since the conversation's last stint ended."""
    conv = bundle.conversation
    ended = (await session.execute(
        select(func.max(BotStint.ended_at)).where(BotStint.conversation_id == conv.id)
    )).scalar_one_or_none()
    first = select(func.min(Message.created_at)).where(
        Message.conversation_id == conv.id, Message.message_type == MessageType.incoming,
        Message.private.is_(False),  # type: ignore[attr-defined]
    )
    if ended is not None:
        first = first.where(Message.created_at > ended)
    began = (await session.execute(first)).scalar_one_or_none()
    stint = BotStint(
        account_id=conv.account_id, inbox_id=conv.inbox_id, conversation_id=conv.id,  # type: ignore[arg-type]
        agent_bot_id=bot_id, started_at=min(began, at) if began is not None else at,
    )
    session.add(stint)
    await session.flush()
    return stint


# A bot's later answers in a stint it has already answered in move only its last answer time:
# one statement on the driver. Through the ORM (read the stint, then flush it) it cost as much
# as the rest of the message's write: REST ingest of bot replies went 600 -> 1,200-1,400/s.
ANSWERED_AGAIN = (
    "UPDATE bot_stints SET last_answer_at = :at WHERE id = (SELECT max(id) FROM bot_stints"
    " WHERE conversation_id = :conversation_id AND agent_bot_id = :bot_id AND outcome IS NULL)"
    " AND first_answer_at IS NOT NULL"
)


async def bot_answered(session: AsyncSession, bundle: Bundle, *, bot_id: int, at: float) -> None:
    """The owning bot wrote a public answer: its stint's first and last answer times. A stint
    begun when the bot got the conversation (a hand-back, a reopen) starts at the customer's
    first message since then."""
    in_session = any(isinstance(o, BotStint) for o in (*session.new, *session.identity_map.values()))
    if not in_session:  # else the ORM's copy would not see the change: the path below
        params = {"at": at, "conversation_id": bundle.conversation.id, "bot_id": bot_id}
        if await (await statements.raw(session)).run(ANSWERED_AGAIN, params) == 1:
            return
    stint = await _open_stint(session, conversation_id=bundle.conversation.id, bot_id=bot_id)  # type: ignore[arg-type]
    if stint is None:
        stint = await _start(session, bundle, bot_id=bot_id, at=at)
    if stint.first_answer_at is None:
        began = (await session.execute(
            select(func.min(Message.created_at)).where(
                Message.conversation_id == bundle.conversation.id, Message.message_type == MessageType.incoming,
                Message.private.is_(False), Message.created_at >= stint.started_at,  # type: ignore[attr-defined]
            )
        )).scalar_one_or_none()
        if began is not None and began <= at:
            stint.started_at = began
        stint.first_answer_at = at
    stint.last_answer_at = at
    await session.flush()


async def not_an_answer(session: AsyncSession, bundle: Bundle, *, bot_id: int, at: float) -> None:
    """The message the bot just wrote hands the conversation over: it does not start the clock
    of the bot's first answer."""
    stint = await _open_stint(session, conversation_id=bundle.conversation.id, bot_id=bot_id)  # type: ignore[arg-type]
    if stint is not None and stint.first_answer_at == at:
        stint.first_answer_at = stint.last_answer_at = None
        await session.flush()


def _default_reason(actor: Actor, status: str) -> str:
    who = "human" if actor.is_user else {"agent_bot": "bot", "contact": "customer"}.get(str(actor.kind), str(actor.kind))
    if status == Status.open:
        return "human_took_over" if actor.is_user else who
    return f"{who}_{status}"  # e.g. bot_snoozed, human_snoozed


async def status_changed(
    session: AsyncSession, bundle: Bundle, *, previous: str, status: str, actor: Actor, owner_before: int | None,
    reason: str | None = None,
) -> BotStint | None:
    """Book a status change: a bot's stint ends when it stops owning the conversation (from
    ``pending`` to anything else), a resolution that is undone is marked reopened. Returns the
    stint that ended in a resolution, if this change was one."""
    conv = bundle.conversation
    now = time.time()
    if previous == Status.resolved and status != Status.resolved:
        last = (await session.execute(
            select(BotStint).where(BotStint.conversation_id == conv.id).order_by(BotStint.id.desc()).limit(1)  # type: ignore[union-attr]
        )).scalar_one_or_none()
        if last is not None and last.outcome == RESOLVED and last.reopened_at is None:
            last.reopened_at = now
    if status == Status.pending and previous != Status.pending:
        await _held(session, bundle, now)  # the bot has it again: its stint starts now
    if owner_before is None or previous != Status.pending or status == Status.pending:
        await session.flush()
        return None
    stint = await _open_stint(session, conversation_id=conv.id, bot_id=owner_before)  # type: ignore[arg-type]
    if stint is None:
        stint = await _start(session, bundle, bot_id=owner_before, at=now)
    stint.ended_at = now
    if status == Status.resolved:
        credited = stint.first_answer_at is not None or not actor.is_user
        stint.outcome, stint.resolved_by = (RESOLVED if credited else CLOSED), str(actor.kind)
    else:
        stint.outcome, stint.reason = HANDOFF, (reason or _default_reason(actor, status))[:300]
    await session.flush()
    return stint if stint.outcome == RESOLVED else None


async def _held(session: AsyncSession, bundle: Bundle, at: float) -> None:
    """The conversation's owner (if a bot) has no open stint: one starts ``at``."""
    from ndoto_cli.core.routing import owner_bot_id

    owner = owner_bot_id(bundle)
    if owner is not None and await _open_stint(session, conversation_id=bundle.conversation.id, bot_id=owner) is None:  # type: ignore[arg-type]
        conv = bundle.conversation
        session.add(BotStint(account_id=conv.account_id, inbox_id=conv.inbox_id, conversation_id=conv.id,  # type: ignore[arg-type]
                             agent_bot_id=owner, started_at=at))


async def _pass_on(session: AsyncSession, *, conversation_ids: Any, bot_id: int, at: float) -> None:
    await session.execute(
        update(BotStint).where(
            BotStint.conversation_id.in_(conversation_ids), BotStint.agent_bot_id == bot_id,  # type: ignore[attr-defined]
            BotStint.outcome.is_(None),  # type: ignore[union-attr]
        ).values(outcome=PASSED, reason="given to another bot", ended_at=at)
    )


async def owner_changed(session: AsyncSession, bundle: Bundle, *, before: int | None) -> None:
    """Ownership moved between bots without a status change (the conversation's bot changed):
    the old owner's stint ends as passed on, not as a handoff; the new owner's starts now."""
    from ndoto_cli.core.routing import owner_bot_id

    if before == owner_bot_id(bundle):
        return
    now = time.time()
    if before is not None:
        await _pass_on(session, conversation_ids=[bundle.conversation.id], bot_id=before, at=now)
    await _held(session, bundle, now)
    await session.flush()


async def inbox_bot_changed(session: AsyncSession, *, inbox_id: int, before: int | None, after: int | None) -> None:
    """The inbox's bot changed: its pending conversations without a bot of their own (and no
    human) pass from the old bot to the new one."""
    if before == after:
        return
    now = time.time()
    pending = (await session.execute(
        select(Conversation.id, Conversation.account_id).where(
            Conversation.inbox_id == inbox_id, Conversation.status == Status.pending,
            Conversation.assignee_agent_bot_id.is_(None), Conversation.assignee_id.is_(None),  # type: ignore[union-attr]
        )
    )).all()
    ids = [row[0] for row in pending]
    if before is not None and ids:
        await _pass_on(session, conversation_ids=ids, bot_id=before, at=now)
    if after is not None:
        for conversation_id, account_id in pending:
            session.add(BotStint(account_id=account_id, inbox_id=inbox_id, conversation_id=conversation_id, agent_bot_id=after, started_at=now))
    await session.flush()


async def close_stale(session: AsyncSession, stint: BotStint) -> None:
    """A stint whose bot no longer holds the conversation (found by the clock): passed on, if it
    is still open (another server may have ended it meanwhile)."""
    await _pass_on(session, conversation_ids=[stint.conversation_id], bot_id=stint.agent_bot_id, at=time.time())


def _quiet(bot_id: int, quiet_since: float) -> Any:
    """Open stints of a bot whose last answer is older than ``quiet_since`` and after which the
    customer has not written (the partial index; a customer still waiting is not quiet)."""
    later = select(Message.id).where(
        Message.conversation_id == BotStint.conversation_id, Message.message_type == MessageType.incoming,
        Message.created_at > BotStint.last_answer_at,
    )
    return select(BotStint).where(
        BotStint.agent_bot_id == bot_id, BotStint.outcome.is_(None),  # type: ignore[union-attr]
        BotStint.last_answer_at.is_not(None), BotStint.last_answer_at <= quiet_since,  # type: ignore[union-attr, operator]
        ~later.exists(),
    )


async def idle_stints(session: AsyncSession, *, bot_id: int, quiet_since: float, limit: int) -> list[BotStint]:
    return list((await session.execute(
        _quiet(bot_id, quiet_since).order_by(BotStint.last_answer_at).limit(limit)  # type: ignore[arg-type]
    )).scalars().all())


# -- Ratings ---------------------------------------------------------------------------------


async def survey_asked(session: AsyncSession, bundle: Bundle, *, message_id: int, bot_id: int | None) -> None:
    conv = bundle.conversation
    session.add(CsatResponse(
        account_id=conv.account_id, inbox_id=conv.inbox_id, conversation_id=conv.id,  # type: ignore[arg-type]
        message_id=message_id, agent_bot_id=bot_id, assignee_id=conv.assignee_id,
    ))
    await session.flush()


def parse_rating(values: Any) -> tuple[int, str | None]:
    """``{"csat_survey_response": {"rating": 1-5, "feedback_message": "..."}}`` (Chatwoot's shape)."""
    answer = values.get("csat_survey_response") if isinstance(values, dict) else None
    if not isinstance(answer, dict):
        raise Invalid('a rating is {"csat_survey_response": {"rating": 1-5, "feedback_message": "..."}}', field="submitted_values")
    rating = answer.get("rating")
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise Invalid("rating must be a whole number from 1 to 5", field="rating")
    feedback = answer.get("feedback_message")
    if feedback is not None and not isinstance(feedback, str):
        raise Invalid("feedback_message must be text", field="feedback_message")
    feedback = (limits.text(feedback, field="feedback_message", max_length=MAX_FEEDBACK) or "").strip() or None
    return rating, feedback


async def rate(session: AsyncSession, *, message: Message, rating: int, feedback: str | None) -> None:
    """Store (or change) the customer's answer to a survey message."""
    row = (await session.execute(select(CsatResponse).where(CsatResponse.message_id == message.id))).scalar_one_or_none()
    if row is None:
        return  # a bot's own rating question (not asked at a resolution): stored on the message only
    row.rating, row.feedback, row.rated_at = rating, feedback, time.time()
    await session.flush()


async def conversation_rating(session: AsyncSession, *, conversation_id: int) -> dict[str, Any] | None:
    """The conversation's latest rating, as views show it."""
    row = (await session.execute(
        select(CsatResponse).where(CsatResponse.conversation_id == conversation_id, CsatResponse.rating.is_not(None))  # type: ignore[union-attr]
        .order_by(CsatResponse.id.desc()).limit(1)  # type: ignore[union-attr]
    )).scalar_one_or_none()
    if row is None:
        return None
    return {"rating": row.rating, "feedback_message": row.feedback, "rated_at": row.rated_at,
            "resolved_by": "agent_bot" if row.agent_bot_id is not None else "human"}


# -- The figures -----------------------------------------------------------------------------


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _figures(stints: list[BotStint]) -> dict[str, Any]:
    ended = [s for s in stints if s.outcome is not None]
    resolved = [s for s in stints if s.outcome == RESOLVED]
    decided = [s for s in stints if s.outcome in (RESOLVED, HANDOFF)]  # the bot's own outcomes
    reopened = [s for s in resolved if s.reopened_at is not None and s.reopened_at - (s.ended_at or 0) <= REOPEN_WINDOW]
    by_reason: dict[str, int] = {}
    for s in stints:
        if s.outcome == HANDOFF:
            key = (s.reason or "other").split(":")[0].strip() or "other"
            by_reason[key] = by_reason.get(key, 0) + 1
    waits = [s.first_answer_at - s.started_at for s in stints if s.first_answer_at is not None]
    return {
        "conversations": len({s.conversation_id for s in stints}),
        "stints": len(stints),
        "resolved_by_bot": len(resolved),
        "resolution_rate": _rate(len(resolved), len(decided)),  # resolved of resolved and handed off
        "reopened_within_7_days": len(reopened),
        "lasting_resolutions": len(resolved) - len(reopened),
        "handed_off": sum(by_reason.values()),
        "handoffs_by_reason": dict(sorted(by_reason.items())),
        "closed_unanswered": sum(1 for s in stints if s.outcome == CLOSED),
        "passed_to_another_bot": sum(1 for s in stints if s.outcome == PASSED),
        "still_with_bot": len(stints) - len(ended),
        "median_first_answer_s": _median([max(0.0, w) for w in waits]),
    }


def _within(query: Any, table: Any, moment: Any, *, account_id: int | None, since: float | None, until: float | None) -> Any:
    """``query`` kept to one account (if given) and to ``since <= moment < until``."""
    if account_id is not None:
        query = query.where(table.account_id == account_id)
    if since is not None:
        query = query.where(moment >= since)
    if until is not None:
        query = query.where(moment < until)
    return query


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


async def report(
    session: AsyncSession, *, bot_id: int, inbox_ids: list[int], since: float | None = None, until: float | None = None,
    by_day: bool = False, account_id: int | None = None,
) -> dict[str, Any]:
    """A bot's outcomes over a period (stints that began in it; ratings asked in it): the totals,
    and with ``by_day`` the same per UTC day. ``inbox_ids``: where its humans' ratings are read;
    ``account_id``: one account's share of a system bot's work."""
    query = _within(select(BotStint).where(BotStint.agent_bot_id == bot_id), BotStint, BotStint.started_at,
                    account_id=account_id, since=since, until=until)
    stints = list((await session.execute(query.order_by(BotStint.started_at))).scalars().all())
    out = _figures(stints)
    out["csat"] = await _csat(session, bot_id=bot_id, inbox_ids=inbox_ids, since=since, until=until, account_id=account_id)
    if by_day:
        days: dict[str, list[BotStint]] = {}
        for s in stints:
            days.setdefault(day_of(s.started_at), []).append(s)
        out["days"] = [{"date": day, **_figures(group)} for day, group in sorted(days.items())]
    return out


async def _csat(
    session: AsyncSession, *, bot_id: int, inbox_ids: list[int], since: float | None, until: float | None,
    account_id: int | None,
) -> dict[str, Any]:
    mine = CsatResponse.agent_bot_id == bot_id
    humans = CsatResponse.agent_bot_id.is_(None) & CsatResponse.inbox_id.in_(inbox_ids or [-1])  # type: ignore[union-attr, attr-defined]
    query = _within(select(CsatResponse).where(mine | humans), CsatResponse, CsatResponse.asked_at,
                    account_id=account_id, since=since, until=until)
    rows = (await session.execute(query)).scalars().all()

    def side(group: list[CsatResponse]) -> dict[str, Any]:
        rated = [r.rating for r in group if r.rating is not None]
        return {"asked": len(group), "rated": len(rated), "response_rate": _rate(len(rated), len(group)),
                "average": round(sum(rated) / len(rated), 2) if rated else None,
                "satisfied": _rate(sum(1 for r in rated if r >= 4), len(rated))}

    return {"bot_resolved": side([r for r in rows if r.agent_bot_id == bot_id]),
            "human_resolved": side([r for r in rows if r.agent_bot_id is None])}


async def bot_stats(
    session: AsyncSession, bot: Any, *, since: float | None = None, until: float | None = None, by_day: bool = False,
    account_id: int | None = None,
) -> dict[str, Any]:
    """Everything ``bots stats`` shows, for any front end: an AI agent's activity (answers,
    handoffs by reason, model latency, tokens, tool calls) and every bot's outcomes.

    ``account_id``: seen from one account. A system bot serves several; the account then sees
    only its own conversations' outcomes, and not the agent's activity, which is not kept per
    account."""
    from ndoto_cli.core.ai import rules as ai_rules
    from ndoto_cli.core.models import BotType
    from ndoto_cli.core.services.inboxes import inboxes_of_bot

    if since is not None and until is not None and until <= since:
        raise Invalid("the period's end must come after its start", field="until")
    inbox_ids = [i.id for i in await inboxes_of_bot(session, bot_id=bot.id, account_id=account_id)]
    out: dict[str, Any] = {"bot": {"id": bot.id, "name": bot.name, "type": str(bot.bot_type)},
                           "period": {"since": since, "until": until}}
    if bot.bot_type == BotType.ai_agent and (account_id is None or bot.account_id == account_id):
        out.update((await ai_rules.stats(session, bot_id=bot.id, since=since, until=until)).json())
    scope = account_id if bot.account_id is None else None
    figures = await report(session, bot_id=bot.id, inbox_ids=inbox_ids, since=since, until=until, by_day=by_day, account_id=scope)
    days = figures.pop("days", None)
    out["outcomes"] = figures
    if days is not None:
        out["days"] = days
    return out
