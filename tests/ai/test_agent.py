"""The AI agent through the real path: delivery -> agent -> litellm -> local model server ->
outgoing message -> events; handoffs; silence after takeover; concurrency."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import select

from ndoto_cli.core.actors import Actor
from ndoto_cli.core.models import AiReply, Conversation, Event, Message
from ndoto_cli.core.services import conversations
from tests.ai.conftest import AiWorld, customer_says
from tests.ai.fake_llm import Reply


async def thread(world: AiWorld, conversation_id: int) -> list[Message]:
    async with world.db.read() as s:
        return list((await s.execute(select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id))).scalars())


async def wait_for(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


def bot_replies(msgs: list[Message]) -> list[Message]:
    return [m for m in msgs if m.sender_type == "agent_bot" and m.message_type == 1 and not m.private]


async def test_answers_from_the_knowledge_base(ai: AiWorld) -> None:
    ai.llm.script = lambda request: Reply("Refunds take 5 to 7 working days.")
    result = await customer_says(ai, "How many days until I get my money back?")
    conv_id = result.bundle.conversation.id

    async def answered() -> bool:
        return len(bot_replies(await thread(ai, conv_id))) == 1

    await wait_for(answered)
    (reply,) = bot_replies(await thread(ai, conv_id))
    assert reply.content == "Refunds take 5 to 7 working days."
    # What the answer was grounded on, for the console and the widget: the passage and its file's name.
    sources = reply.content_attributes["sources"]
    assert sources[0]["title"] == "Returns and refunds > Refund timing" and sources[0]["location"].endswith(".md")
    request = ai.llm.requests[-1]
    system = request["messages"][0]
    assert system["role"] == "system" and "Acme Shop's helpful assistant" in system["content"]
    assert "Refund timing" in system["content"] and "5 to 7 working days" in system["content"]  # the passage
    assert "ONLY the knowledge base" in system["content"]  # grounding
    # the customer's words, fenced as data (rules.customer_data)
    assert request["messages"][-1] == {
        "role": "user", "content": "<customer_message>\nHow many days until I get my money back?\n</customer_message>",
    }
    assert request["temperature"] == 0.3 and request["tools"][0]["function"]["name"] == "handoff_to_human"
    async with ai.db.read() as s:
        (row,) = (await s.execute(select(AiReply))).scalars().all()
    assert row.kind == "reply" and row.prompt_tokens == 42 and row.completion_tokens == 7 and row.latency_ms > 0
    # History travels with the next question.
    await customer_says(ai, "And for mobile money?")

    async def second() -> bool:
        return len(bot_replies(await thread(ai, conv_id))) == 2

    await wait_for(second)
    roles = [m["role"] for m in ai.llm.requests[-1]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    # A website visitor saw the bot typing while it thought: on, off, then the answer.
    async with ai.db.read() as s:
        names = [e.name for e in (await s.execute(select(Event).where(Event.conversation_id == conv_id).order_by(Event.id))).scalars()
                 if e.name.startswith("conversation_typing") or (e.name == "message_created" and '"agent_bot"' in e.payload and '"outgoing"' in e.payload)]
    assert names == ["conversation_typing_on", "conversation_typing_off", "message_created"] * 2


async def test_handoff_keyword_needs_no_model(ai: AiWorld) -> None:
    result = await customer_says(ai, "Please, SPEAK to Agent!!")
    conv_id = result.bundle.conversation.id

    async def opened() -> bool:
        async with ai.db.read() as s:
            return (await s.get(Conversation, conv_id)).status == "open"

    await wait_for(opened)
    msgs = await thread(ai, conv_id)
    assert ai.llm.requests == []
    assert [m.content for m in bot_replies(msgs)] == ["Let me bring in a colleague."]
    note = next(m for m in msgs if m.private)
    assert "keyword" in note.content and "Customer first asked: Please, SPEAK to Agent!!" in note.content


async def test_the_outcome_figures_follow_the_agents_turns(ai: AiWorld) -> None:
    """An answer starts the first-answer clock; a keyword handoff ends a stint with its reason
    (its 'a colleague will follow up' is not an answer); a human's reply later changes nothing."""
    from ndoto_cli.core.models import AgentBot
    from ndoto_cli.core.services import outcomes

    ai.llm.script = lambda request: Reply("Refunds take 5 to 7 working days.")
    answered = (await customer_says(ai, "How long do refunds take?", name="Ada")).bundle.conversation.id
    handed = (await customer_says(ai, "human please", name="Bo")).bundle.conversation.id

    async def both() -> bool:
        async with ai.db.read() as s:
            return (len(bot_replies(await thread(ai, answered))) == 1
                    and (await s.get(Conversation, handed)).status == "open")

    await wait_for(both)
    async with ai.db.read() as s:
        data = await outcomes.bot_stats(s, await s.get(AgentBot, ai.bot_id))
    o = data["outcomes"]
    assert o["conversations"] == 2 and o["handoffs_by_reason"] == {"keyword": 1} and o["still_with_bot"] == 1
    assert o["median_first_answer_s"] is not None and o["median_first_answer_s"] < 15  # one answer: the handoff message is not one
    assert data["replies"] == 1 and data["handoffs"] == {"keyword": 1}


async def test_handoff_by_tool_call_and_by_text_fallback(ai: AiWorld) -> None:
    def script(request: dict[str, Any]) -> Reply:
        if "ring" in request["messages"][-1]["content"]:
            return Reply(handoff="wants a refund for a custom order")  # a tool call
        return Reply("HANDOFF: legal question")  # the fallback for models without tools

    ai.llm.script = script
    first = await customer_says(ai, "Can you refund my custom engraved ring?", name="A")
    second = await customer_says(ai, "Can I sue the courier?", name="B")

    async def both_open() -> bool:
        async with ai.db.read() as s:
            statuses = [(await s.get(Conversation, c.bundle.conversation.id)).status for c in (first, second)]
        return statuses == ["open", "open"]

    await wait_for(both_open)
    notes = [m.content for c in (first, second) for m in await thread(ai, c.bundle.conversation.id) if m.private]
    assert "model: wants a refund for a custom order" in notes[0] and "model: legal question" in notes[1]


async def test_model_failure_hands_off(ai: AiWorld) -> None:
    ai.llm.script = lambda request: Reply(status=500)
    result = await customer_says(ai, "Where is my order?")

    async def opened() -> bool:
        async with ai.db.read() as s:
            return (await s.get(Conversation, result.bundle.conversation.id)).status == "open"

    await wait_for(opened, timeout=60)
    note = next(m for m in await thread(ai, result.bundle.conversation.id) if m.private)
    assert "model_error" in note.content


async def test_max_exchanges_then_handoff(ai: AiWorld) -> None:
    ai.llm.script = lambda request: Reply("Happy to help.")
    result = await customer_says(ai, "q1")
    conv_id = result.bundle.conversation.id
    for n, text in enumerate(["q2", "q3"], start=2):
        async def replied(n: int = n) -> bool:
            return len(bot_replies(await thread(ai, conv_id))) >= n - 1

        await wait_for(replied)
        await customer_says(ai, text)

    async def opened() -> bool:
        async with ai.db.read() as s:
            return (await s.get(Conversation, conv_id)).status == "open"

    async def third() -> bool:  # q4 written with q3 unanswered would be one burst with it: one answer to both
        return len(bot_replies(await thread(ai, conv_id))) >= 3

    await wait_for(third)
    await customer_says(ai, "q4")
    await wait_for(opened)
    assert len(ai.llm.requests) == 3  # max_exchanges = 3: the fourth question went to a human
    note = next(m for m in await thread(ai, conv_id) if m.private)
    assert "max_exchanges" in note.content


async def test_silent_after_a_human_takes_over(ai: AiWorld) -> None:
    ai.llm.script = lambda request: Reply("Hello!")
    result = await customer_says(ai, "hi")
    conv_id = result.bundle.conversation.id

    async def answered() -> bool:
        return len(bot_replies(await thread(ai, conv_id))) == 1

    await wait_for(answered)
    await ai.db.write(
        lambda s: conversations.assign_user(
            s, account_id=ai.account_id, display_id=result.bundle.conversation.display_id, user_id=ai.agent_id,
            actor=Actor("user", ai.agent_id, "Ann"),
        )
    )
    calls = len(ai.llm.requests)
    await customer_says(ai, "are you a robot?")
    await asyncio.sleep(1.0)
    assert len(ai.llm.requests) == calls
    assert len(bot_replies(await thread(ai, conv_id))) == 1


async def test_a_hundred_customers_at_once(ai: AiWorld) -> None:
    # 2 s of model time: room for every turn's database work before its call, even on a slow
    # machine's PostgreSQL, so what is counted is concurrency, not the machine's speed.
    ai.llm.script = lambda request: Reply("Thanks, on it.", delay=2.0)
    start = time.monotonic()
    results = await asyncio.gather(*[customer_says(ai, f"question {i}", name=f"c{i}") for i in range(100)])
    ids = [r.bundle.conversation.id for r in results]

    async def all_answered() -> bool:
        async with ai.db.read() as s:
            rows = (await s.execute(select(Message.conversation_id).where(
                Message.sender_type == "agent_bot", Message.message_type == 1))).scalars().all()
        return set(ids) <= set(rows)

    await wait_for(all_answered, timeout=60)
    print(f"100 customers answered by a 2 s model in {time.monotonic() - start:.1f} s")
    # Concurrency is behaviour, not a duration: the conversations were thought about at the same
    # time (one at a time would keep a single request in flight).
    assert ai.llm.most_in_flight >= 50, ai.llm.most_in_flight


async def test_a_burst_of_customer_messages_gets_one_answer(ai: AiWorld) -> None:
    from ndoto_cli.core.models import AgentBot, Delivery
    from ndoto_cli.core.services import bots

    await ai.db.write(lambda s: bots.update_bot(s, account_id=ai.account_id, bot_id=ai.bot_id, batch_wait=0.6))
    ai.llm.script = lambda request: Reply("Let me check order 4521 for you.")
    burst = ["hi", "my order hasn't come", "it's number 4521"]
    for text in burst:
        result = await customer_says(ai, text)
    conv_id = result.bundle.conversation.id

    async def answered() -> bool:
        return len(bot_replies(await thread(ai, conv_id))) >= 1

    await wait_for(answered)
    await asyncio.sleep(1.0)  # room for a wrong second answer to arrive
    assert [m.content for m in bot_replies(await thread(ai, conv_id))] == ["Let me check order 4521 for you."]
    assert len(ai.llm.requests) == 1
    said = [m["content"] for m in ai.llm.requests[0]["messages"] if m["role"] == "user"]
    assert all(any(text in m for m in said) for text in burst)  # the one answer saw the whole burst
    async with ai.db.read() as s:
        excerpts = [d.last_response or "" for d in (await s.execute(select(Delivery).where(Delivery.agent_bot_id == ai.bot_id))).scalars()]
        assert (await s.get(AgentBot, ai.bot_id)).batch_wait == 0.6  # type: ignore[union-attr]
    assert sum(e.startswith("batched:") for e in excerpts) == 2
