"""Outcomes, not only activity: a seeded history of bot conversations and what `bots stats` makes of it."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import text, update

from ndoto_cli.core import views
from ndoto_cli.core.actors import SYSTEM, Actor
from ndoto_cli.core.errors import Forbidden, Invalid, NotFound
from ndoto_cli.core.models import AgentBot, BotStint, Inbox, Message
from ndoto_cli.core.services import bots, conversations, customers, handoff, inboxes, messages, outcomes, widget
from tests.conftest import World

ANN = Actor("user", 2, "Ann Agent")


async def say(world: World, name: str, content: str, *, inbox_id: int | None = None, ago: float = 0.0) -> Any:
    """A customer's message; ``ago`` moves it back in time (the seeded history)."""
    async def go(s: Any) -> Any:
        result = await customers.say(s, inbox=await s.get(Inbox, inbox_id or world.web_inbox_id), contact_name=name, content=content)
        if ago:
            await s.execute(update(Message).where(Message.id == result.message.id).values(created_at=result.message.created_at - ago))
        return result

    return await world.db.write(go)


async def write(world: World, display_id: int, actor: Actor, content: str) -> Any:
    return await world.db.write(lambda s: messages.create_message(
        s, account_id=world.account_id, display_id=display_id, actor=actor, content=content))


async def status(world: World, display_id: int, value: str, actor: Actor) -> None:
    await world.db.write(lambda s: conversations.change_status(
        s, account_id=world.account_id, display_id=display_id, status=value, actor=actor))


async def survey_of(world: World, display_id: int) -> Message:
    async with world.db.read() as s:
        bundle = await conversations.load(s, account_id=world.account_id, display_id=display_id)
        rows = await messages.list_messages(s, conversation_id=bundle.conversation.id, limit=100)
    (survey,) = [m for m in rows if m.content_type == "input_csat"][-1:]
    return survey


async def rate(world: World, display_id: int, survey: Message, values: Any, name: str) -> Any:
    async def go(s: Any) -> Any:
        bundle = await conversations.load(s, account_id=world.account_id, display_id=display_id)
        return await messages.submit_values(s, bundle=bundle, message_id=survey.id, submitted_values=values,
                                            actor=Actor("contact", bundle.contact.id, name))

    return await world.db.write(go)


async def stats(world: World, bot_id: int, **period: Any) -> dict[str, Any]:
    async with world.db.read() as s:
        return await outcomes.bot_stats(s, await s.get(AgentBot, bot_id), **period)


async def test_a_seeded_history_gives_the_outcome_figures(world: World) -> None:
    bot = Actor("agent_bot", world.bot_id, "OrderBot")
    await world.db.write(lambda s: inboxes.update_inbox(s, account_id=world.account_id, inbox_id=world.web_inbox_id, csat_survey=True))

    # A: answered 30 s after the question, resolved by the bot, rated 5, then reopened the next day.
    a = (await say(world, "Ada", "Where is order 4521?", ago=30)).bundle.conversation.display_id
    await write(world, a, bot, "It ships tomorrow.")
    await status(world, a, "resolved", bot)
    await rate(world, a, await survey_of(world, a), {"csat_survey_response": {"rating": 5, "feedback_message": " quick "}}, "Ada")
    await say(world, "Ada", "It did not ship.")
    # B: answered after 10 s, the bot hands off on a keyword; a human replies, resolves, is rated 3.
    b = (await say(world, "Bo", "I want a refund", ago=10)).bundle.conversation.display_id
    await write(world, b, bot, "Let me check.")
    async def hand(s: Any) -> Any:
        bundle = await conversations.load(s, account_id=world.account_id, display_id=b)
        return await handoff.hand_to_humans(s, bundle=bundle, actor=bot, reason="keyword: the customer wrote 'refund'")
    await world.db.write(hand)
    await write(world, b, ANN, "Refund on its way.")
    await status(world, b, "resolved", ANN)
    await rate(world, b, await survey_of(world, b), {"csat_survey_response": {"rating": 3}}, "Bo")
    # C: a human takes over before the bot answers: handed off, no first answer.
    c = (await say(world, "Cy", "hello")).bundle.conversation.display_id
    await write(world, c, ANN, "Hi, Ann here.")
    # D: unreachable bot, the dispatcher's handoff.
    d = (await say(world, "Di", "anyone?")).bundle.conversation.display_id
    async def gone(s: Any) -> Any:
        bundle = await conversations.load(s, account_id=world.account_id, display_id=d)
        return await handoff.hand_to_humans(s, bundle=bundle, actor=SYSTEM, reason="unreachable: 503")
    await world.db.write(gone)
    # E: still with the bot.
    e = (await say(world, "Ed", "hours?", ago=20)).bundle.conversation.display_id
    await write(world, e, bot, "9 to 5.")

    data = await stats(world, world.bot_id)
    assert "replies" not in data  # a webhook bot: outcomes only
    o = data["outcomes"]
    assert o["conversations"] == 5 and o["stints"] == 6  # A twice: it came back to the bot when Ada wrote again
    assert o["resolved_by_bot"] == 1 and o["reopened_within_7_days"] == 1 and o["lasting_resolutions"] == 0
    assert o["handed_off"] == 3
    assert o["handoffs_by_reason"] == {"human_took_over": 1, "keyword": 1, "unreachable": 1}
    assert o["still_with_bot"] == 2 and o["passed_to_another_bot"] == 0
    assert o["resolution_rate"] == 0.25  # 1 resolved of the 4 stints the bot ended (resolved or handed off)
    assert 19 <= o["median_first_answer_s"] < 25  # 30, 10 and 20 s
    assert o["csat"]["bot_resolved"] == {"asked": 1, "rated": 1, "response_rate": 1.0, "average": 5.0, "satisfied": 1.0}
    assert o["csat"]["human_resolved"] == {"asked": 1, "rated": 1, "response_rate": 1.0, "average": 3.0, "satisfied": 0.0}

    async with world.db.read() as s:
        bundle = await conversations.load(s, account_id=world.account_id, display_id=a)
        assert await outcomes.conversation_rating(s, conversation_id=bundle.conversation.id) == {
            "rating": 5, "feedback_message": "quick", "rated_at": pytest.approx(time.time(), abs=60), "resolved_by": "agent_bot"}
    # A's customer came back: A is the bot's again, its new stint timed from Ada's new message.
    await write(world, a, bot, "Sorry: I will look again.")
    again = (await stats(world, world.bot_id))["outcomes"]
    assert again["stints"] == 6 and again["conversations"] == 5 and again["still_with_bot"] == 2
    assert again["median_first_answer_s"] < 19  # 30, 10, 20 and a moment

    # The period and the days: move B's stint to yesterday.
    async with world.db.read() as s:
        (b_conv,) = (await s.execute(text("SELECT id FROM conversations WHERE display_id = :d AND account_id = :a"),
                                     {"d": b, "a": world.account_id})).scalars().all()
    await world.db.write(lambda s: s.execute(update(BotStint).where(BotStint.conversation_id == b_conv).values(
        started_at=BotStint.started_at - 86400)))
    days = (await stats(world, world.bot_id, by_day=True))["days"]
    async with world.db.read() as s:
        b_day = outcomes.day_of((await s.execute(text("SELECT started_at FROM bot_stints WHERE conversation_id = :c"), {"c": b_conv})).scalar_one())
    assert days[0]["date"] == b_day and days[0]["conversations"] == 1 and days[0]["handoffs_by_reason"] == {"keyword": 1}
    assert sum(d["conversations"] for d in days[1:]) == 4  # A, C, D and E (one UTC day, or two around midnight)
    today = (await stats(world, world.bot_id, since=time.time() - 3600))["outcomes"]
    assert today["conversations"] == 4 and today["handed_off"] == 2
    with pytest.raises(Invalid):
        await stats(world, world.bot_id, since=time.time(), until=time.time() - 10)


async def test_ratings_are_checked_and_only_a_survey_takes_one(world: World) -> None:
    await world.db.write(lambda s: inboxes.update_inbox(s, account_id=world.account_id, inbox_id=world.web_inbox_id, csat_survey=True))
    said = await say(world, "Flo", "thanks, that is all")
    display_id = said.bundle.conversation.display_id
    await status(world, display_id, "resolved", ANN)
    survey = await survey_of(world, display_id)
    assert survey.message_type == 3 and survey.content == outcomes.CSAT_QUESTION
    for bad in ({"csat_survey_response": {"rating": 6}}, {"csat_survey_response": {"rating": True}}, {"rating": 4},
                {"csat_survey_response": {"rating": 4, "feedback_message": 7}}):
        with pytest.raises(Invalid):
            await rate(world, display_id, survey, bad, "Flo")
    # Only a question takes an answer: the customer's own message is not one.
    with pytest.raises(NotFound):
        await rate(world, display_id, said.message, {"csat_survey_response": {"rating": 1}}, "Flo")
    async with world.db.read() as s:
        assert (await s.execute(text("SELECT rating FROM csat_responses"))).scalar_one() is None
    with pytest.raises(Forbidden):  # nor may an agent write the customer's rating
        await world.db.write(lambda s: messages.update_message(
            s, account_id=world.account_id, display_id=display_id, message_id=survey.id, actor=ANN,
            content_attributes={"submitted_values": {"csat_survey_response": {"rating": 5}}}))
    updated = await rate(world, display_id, survey, {"csat_survey_response": {"rating": 2}}, "Flo")
    assert updated.message.content_attributes["submitted_values"] == {"csat_survey_response": {"rating": 2, "feedback_message": None}}
    changed = await rate(world, display_id, survey, {"csat_survey_response": {"rating": 4, "feedback_message": "kind"}}, "Flo")  # a customer may change it
    shown = views.message_json(changed.message, display_id=display_id, sender=None)
    assert views.message_kind(shown) == "rating" and views.rating_given(shown) == "the customer rated 4/5: kind"
    async with world.db.read() as s:
        rows = (await s.execute(text("SELECT rating, agent_bot_id FROM csat_responses"))).all()
    assert [tuple(r) for r in rows] == [(4, None)]
    # Without the setting, a resolution asks nothing.
    await world.db.write(lambda s: inboxes.update_inbox(s, account_id=world.account_id, inbox_id=world.web_inbox_id, csat_survey=False))
    other = (await say(world, "Gus", "bye")).bundle.conversation.display_id
    await status(world, other, "resolved", ANN)
    async with world.db.read() as s:
        assert (await s.execute(text("SELECT count(*) FROM csat_responses"))).scalar_one() == 1


async def test_a_visitor_rates_only_its_own_conversation(world: World) -> None:
    await world.db.write(lambda s: inboxes.update_inbox(s, account_id=world.account_id, inbox_id=world.web_inbox_id, csat_survey=True))
    async def start(s: Any) -> Any:
        return await widget.start(s, inbox=await s.get(Inbox, world.web_inbox_id))
    one = await world.db.write(start)
    two = await world.db.write(start)
    said = await world.db.write(lambda s: widget.says(s, who=one, content="help"))
    display_id = said.bundle.conversation.display_id
    await status(world, display_id, "resolved", ANN)
    survey = await survey_of(world, display_id)
    values = {"csat_survey_response": {"rating": 5}}
    with pytest.raises(NotFound):
        await world.db.write(lambda s: widget.answers(s, who=two, message_id=survey.id, submitted_values=values))
    done = await world.db.write(lambda s: widget.answers(s, who=one, message_id=survey.id, submitted_values=values))
    assert done.message.content_attributes["submitted_values"]["csat_survey_response"]["rating"] == 5


async def test_an_ai_agent_resolves_when_the_customer_goes_quiet(world: World) -> None:
    agent, _ = await world.db.write(lambda s: bots.create_bot(s, account_id=world.account_id, name="Helper", bot_type="ai_agent"))
    await world.db.write(lambda s: inboxes.set_inbox_bot(s, account_id=world.account_id, inbox_id=world.api_inbox_id, bot_id=agent.id))
    me = Actor("agent_bot", agent.id, "Helper")
    quiet = (await say(world, "Hal", "Opening hours?", inbox_id=world.api_inbox_id)).bundle.conversation.display_id
    await write(world, quiet, me, "9 to 5.")
    waiting = (await say(world, "Ivy", "Do you ship to Kenya?", inbox_id=world.api_inbox_id)).bundle.conversation.display_id
    await write(world, waiting, me, "Yes.")
    await say(world, "Ivy", "How long does it take?", inbox_id=world.api_inbox_id)  # the agent's turn is still to come
    async with world.db.read() as s:
        assert not await conversations.idle_due(s)  # an hour has not passed
        assert await conversations.idle_due(s, now=time.time() + 3601)
    assert await world.db.write(lambda s: conversations.resolve_idle(s, now=time.time() + 3601)) == 1
    async with world.db.read() as s:
        resolved = await conversations.load(s, account_id=world.account_id, display_id=quiet)
        still = await conversations.load(s, account_id=world.account_id, display_id=waiting)
        lines = [m.content for m in await messages.list_messages(s, conversation_id=resolved.conversation.id)]
    assert resolved.conversation.status == "resolved" and still.conversation.status == "pending"
    async with world.db.read() as s:  # the one still waiting for the agent is not quiet: the clock has nothing left to write
        assert not await conversations.idle_due(s, now=time.time() + 3601)
    assert "Conversation was resolved by Helper: no reply from the customer for 1 hour" in lines
    o = (await stats(world, agent.id))["outcomes"]
    assert o["resolved_by_bot"] == 1 and o["still_with_bot"] == 1
    # Switched off: nothing to resolve, ever.
    await world.db.write(lambda s: bots.update_bot(s, account_id=world.account_id, bot_id=agent.id, resolve_after=0))
    async with world.db.read() as s:
        assert not await conversations.idle_due(s, now=time.time() + 10 * 86400)
    with pytest.raises(Invalid):
        await world.db.write(lambda s: bots.update_bot(s, account_id=world.account_id, bot_id=agent.id, resolve_after=5))


async def test_a_conversation_given_to_another_bot_is_passed_on_not_handed_off(world: World) -> None:
    other, _ = await world.db.write(lambda s: bots.create_bot(s, account_id=world.account_id, name="Other", outgoing_url="https://127.0.0.1:9/o"))
    first = Actor("agent_bot", world.bot_id, "OrderBot")
    one = (await say(world, "Hal", "hello?")).bundle.conversation.display_id
    await write(world, one, first, "Hi!")
    two = (await say(world, "Ivy", "anyone?")).bundle.conversation.display_id
    await write(world, two, first, "Yes?")
    # One conversation is given to Other; then the inbox itself changes bot.
    await world.db.write(lambda s: conversations.assign_bot(s, account_id=world.account_id, display_id=one, bot_id=other.id, actor=ANN))
    mine = (await stats(world, world.bot_id))["outcomes"]
    assert mine["passed_to_another_bot"] == 1 and mine["handed_off"] == 0 and mine["still_with_bot"] == 1
    await world.db.write(lambda s: inboxes.set_inbox_bot(s, account_id=world.account_id, inbox_id=world.web_inbox_id, bot_id=other.id))
    mine = (await stats(world, world.bot_id))["outcomes"]
    theirs = (await stats(world, other.id))["outcomes"]
    assert mine["passed_to_another_bot"] == 2 and mine["still_with_bot"] == 0 and mine["resolution_rate"] is None
    assert theirs["stints"] == 2 and theirs["still_with_bot"] == 2
    # Other's clock starts when it got them: its answer now is not an answer to an old wait.
    await write(world, two, Actor("agent_bot", other.id, "Other"), "Other here.")
    assert (await stats(world, other.id))["outcomes"]["median_first_answer_s"] < 5


async def test_a_bots_answers_move_its_stint_first_once_then_the_last(world: World) -> None:
    """The later answers take the one-statement path (``outcomes.ANSWERED_AGAIN``): the stint's
    first answer stays, its last moves, and a new stint after a hand-back starts over."""
    bot = Actor("agent_bot", world.bot_id, "OrderBot")
    c = (await say(world, "Cy", "Is my parcel lost?", ago=20)).bundle.conversation.display_id

    async def stints() -> list[BotStint]:
        async with world.db.read() as s:
            rows = (await s.execute(text("SELECT id FROM bot_stints ORDER BY id"))).scalars().all()
            return [await s.get(BotStint, i) for i in rows]

    first = await write(world, c, bot, "Let me look.")
    again = await write(world, c, bot, "Found it: it is at the depot.")
    last = await write(world, c, bot, "It leaves today.")
    (stint,) = await stints()
    assert stint.first_answer_at == first.message.created_at
    assert stint.last_answer_at == last.message.created_at > again.message.created_at
    assert stint.outcome is None and stint.started_at < first.message.created_at  # began at the customer's question
    await status(world, c, "open", ANN)  # a human takes it: the stint ends
    await status(world, c, "pending", ANN)  # handed back: the bot's next answer opens another
    await say(world, "Cy", "Still there?")
    back = await write(world, c, bot, "Yes.")
    later = await write(world, c, bot, "Anything else?")
    ended, current = await stints()
    assert ended.outcome is not None and ended.last_answer_at == last.message.created_at
    assert (current.first_answer_at, current.last_answer_at) == (back.message.created_at, later.message.created_at)
