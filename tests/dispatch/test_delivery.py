"""Events reach their bot signed, in order, at least once; failures are retried and recorded."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from sqlalchemy import select
from standardwebhooks import Webhook

from ndoto_cli.core.actors import Actor
from ndoto_cli.core.models import AgentBot, Conversation, Delivery, DeliveryAttempt
from ndoto_cli.core.outbox import queue
from ndoto_cli.core.services import accounts, bots, deliveries, inboxes
from ndoto_cli.dispatch.worker import Dispatcher
from tests.conftest import World
from tests.core.test_payloads import MESSAGE_CREATED, assert_shape
from tests.dispatch.conftest import say
from tests.dispatch.receiver import Receiver


async def _deliveries(world: World) -> list[Delivery]:
    async with world.db.read() as s:
        return list((await s.execute(select(Delivery).order_by(Delivery.id))).scalars())


async def _wait(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_message_created_arrives_signed_in_the_documented_shape(dworld: World, receiver: Receiver, dispatcher: Dispatcher) -> None:
    async with dworld.db.read() as s:
        bot = await s.get(AgentBot, dworld.bot_id)
    await say(dworld, "Hello, I need help with my order")
    (got,) = await receiver.wait_for(1)
    # An independent implementation verifies the signature (raises if it does not match).
    Webhook(bot.secret).verify(got.body, {k.lower(): v for k, v in got.headers.items()})
    assert got.headers["X-Ndoto-Event"] == "message_created"
    assert got.headers["User-Agent"].startswith("Ndoto-Webhooks/")
    payload = got.json
    assert_shape({k: v for k, v in MESSAGE_CREATED.items() if k != "sender"}, payload)
    assert payload["content"] == "Hello, I need help with my order"
    await _wait(lambda: _all_delivered(dworld))


async def _all_delivered(world: World) -> bool:
    rows = await _deliveries(world)
    return bool(rows) and all(d.status == "delivered" for d in rows)


async def test_a_bot_sees_a_conversation_in_order_one_at_a_time(dworld: World, receiver: Receiver, dispatcher: Dispatcher) -> None:
    receiver.delay = 0.02
    first = await say(dworld, "m0")
    bot = Actor("agent_bot", dworld.bot_id, "OrderBot")
    display_id = first.bundle.conversation.display_id
    await asyncio.gather(
        *[
            dworld.db.write(lambda s, i=i: conversations_message(s, dworld, display_id, bot, f"m{i}"))
            for i in range(1, 15)
        ]
    )
    got = await receiver.wait_for(15)
    ids = [r.json["id"] for r in got]
    assert ids == sorted(ids)
    # One at a time: each request arrived after the previous one was answered.
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    assert min(gaps) >= 0.015


async def conversations_message(s: Any, world: World, display_id: int, actor: Actor, text: str) -> Any:
    from ndoto_cli.core.services import messages

    return await messages.create_message(s, account_id=world.account_id, display_id=display_id, actor=actor, content=text)


async def test_a_slow_bot_never_delays_another(dworld: World, receiver: Receiver, dispatcher: Dispatcher) -> None:
    slow = await Receiver(delay=3.0).start()
    try:
        await _second_bot_on_the_api_inbox(dworld, slow.url)
        for i in range(3):
            await say(dworld, f"slow {i}", name=f"s{i}", inbox_id=dworld.api_inbox_id)
        for i in range(5):
            await say(dworld, f"fast {i}", name=f"f{i}")
        fast = await receiver.wait_for(5, timeout=10)
        # The fast bot's five arrived while the slow one was still thinking: before its first answer.
        assert not slow.answered or max(r.at for r in fast) < min(slow.answered)
        # One stuck conversation does not hold the slow bot's other conversations back either.
        await slow.wait_for(3, timeout=2.0)
    finally:
        await slow.stop()


async def _second_bot_on_the_api_inbox(world: World, url: str) -> None:
    """A bot "Slow" at ``url`` answering the world's API inbox (the first bot keeps the web inbox)."""
    bot, _ = await world.db.write(lambda s: bots.create_bot(s, account_id=world.account_id, name="Slow", outgoing_url=url))
    await world.db.write(
        lambda s: inboxes.set_inbox_bot(s, account_id=world.account_id, inbox_id=world.api_inbox_id, bot_id=bot.id)
    )


async def test_retries_through_500_and_429_with_retry_after(dworld: World, receiver: Receiver, dispatcher: Dispatcher) -> None:
    script = {1: (500, {}, "boom"), 2: (429, {"Retry-After": "1"}, "slow down")}
    receiver.respond = lambda n, r: script.get(n, (200, {}, "ok"))
    await say(dworld, "hello")
    got = await receiver.wait_for(3, timeout=10)
    assert len({r.headers["webhook-id"] for r in got}) == 1  # the same delivery, the same idempotency key
    assert got[2].at - got[1].at >= 0.9  # Retry-After honoured
    await _wait(lambda: _all_delivered(dworld))
    (delivery,) = await _deliveries(dworld)
    async with dworld.db.read() as s:
        _d, _e, attempts = await deliveries.get_delivery(s, delivery_id=delivery.id)
    assert [a.status_code for a in attempts] == [500, 429, 200]


async def test_timeouts_and_a_receiver_down_then_up(dworld: World, dispatch_settings: Any, dispatcher: Dispatcher, ddb: Any) -> None:
    dispatcher.settings.delivery_max_attempts = 50  # keep retrying while the receiver is down
    late = Receiver(delay=3.0)  # longer than the bot's 0.5 s timeout
    late = await late.start()
    url = late.url
    await dworld.db.write(lambda s: bots.update_bot(s, account_id=dworld.account_id, bot_id=dworld.bot_id, outgoing_url=url, timeout=0.5))
    late.respond = lambda n, r: (200, {}, "ok")
    await say(dworld, "hello")
    await late.wait_for(1, timeout=5)
    await late.stop()  # down: connection refused for the next attempts
    await _wait(lambda: _has_error(dworld, "timed out"), timeout=5)
    await _wait(lambda: _has_error(dworld, "Connect"), timeout=5)
    # Up again on the same port: the next retry succeeds.
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    from aiohttp import web

    back = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", back._handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await back.wait_for(1, timeout=10)
        await _wait(lambda: _all_delivered(dworld))
    finally:
        await runner.cleanup()


async def _has_error(world: World, text: str) -> bool:
    async with world.db.read() as s:
        rows = (await s.execute(select(DeliveryAttempt.error))).scalars().all()
    return any(text in (e or "") for e in rows)


async def test_unreachable_bot_hands_the_conversation_to_humans(dworld: World, receiver: Receiver, dispatcher: Dispatcher) -> None:
    receiver.respond = lambda n, r: (503, {}, "down")
    result = await say(dworld, "hello")
    conv_id = result.bundle.conversation.id

    async def opened() -> bool:
        async with dworld.db.read() as s:
            return (await s.get(Conversation, conv_id)).status == "open"

    await _wait(opened, timeout=10)
    async with dworld.db.read() as s:
        msgs = await __import__("ndoto_cli.core.services.messages", fromlist=["x"]).list_messages(s, conversation_id=conv_id)
    assert any("could not be reached" in (m.content or "") for m in msgs)


async def test_keep_pending_on_failure_keeps_the_bot_in_charge(dworld: World, receiver: Receiver, dispatcher: Dispatcher) -> None:
    await dworld.db.write(lambda s: accounts.update_account(s, account_id=dworld.account_id, keep_pending_on_bot_failure=True))
    receiver.respond = lambda n, r: (503, {}, "down")
    result = await say(dworld, "hello")
    await receiver.wait_for(3, timeout=10)
    await asyncio.sleep(1.2)
    async with dworld.db.read() as s:
        assert (await s.get(Conversation, result.bundle.conversation.id)).status == "pending"


async def test_other_4xx_fail_without_retry_and_410_disables_the_bot(dworld: World, receiver: Receiver, dispatcher: Dispatcher) -> None:
    receiver.respond = lambda n, r: (404 if n == 1 else 410, {}, "nope")
    await say(dworld, "first", name="a")
    await receiver.wait_for(1)
    await _wait(lambda: _status_is(dworld, 0, "failed"))
    await say(dworld, "second", name="b")
    await receiver.wait_for(2)
    await _wait(lambda: _status_is(dworld, 1, "failed"))
    async with dworld.db.read() as s:
        bot = await s.get(AgentBot, dworld.bot_id)
    assert bot.disabled_reason and "410" in bot.disabled_reason
    await say(dworld, "third", name="c")
    await _wait(lambda: _status_is(dworld, 2, "failed"))
    assert len(receiver.received) == 2  # disabled: nothing sent, and the failure says why
    rows = await _deliveries(dworld)
    assert "disabled" in (rows[2].last_error or "")


async def _status_is(world: World, index: int, status: str) -> bool:
    rows = await _deliveries(world)
    return len(rows) > index and rows[index].status == status


async def test_private_addresses_are_refused_unless_allowed(ndoto_home: Any, receiver: Receiver) -> None:
    from ndoto_cli.core.db import Database
    from ndoto_cli.core.settings import Settings
    from tests.conftest import make_world

    settings = Settings(home=ndoto_home, delivery_retry_schedule=[0.1], handoff_after=100)
    db = await Database(settings).open()
    world = await make_world(db, bot_url=receiver.url.replace("127.0.0.1", "localhost"))
    worker = Dispatcher(db, settings)
    await worker.start()
    try:
        await say(world, "hello")
        await _wait(lambda: _status_is(world, 0, "failed"))
        row = (await _deliveries(world))[0]  # then the failure handoff's own events, refused the same way
        assert row.attempts == 1  # not retried
        assert "private address" in row.last_error
        assert receiver.received == []
    finally:
        await worker.stop()
        await db.close()


async def test_retry_command_path_redelivers_with_the_same_id(dworld: World, receiver: Receiver, dispatcher: Dispatcher) -> None:
    receiver.respond = lambda n, r: (400, {}, "bad") if n == 1 else (200, {}, "ok")
    await say(dworld, "hello")
    await _wait(lambda: _status_is(dworld, 0, "failed"))
    async with dworld.db.read() as s:
        ids = await deliveries.failed_ids(s)
    assert await dworld.db.write(lambda s: deliveries.retry(s, delivery_ids=ids)) == 1
    await _wait(lambda: _all_delivered(dworld))
    messages = [r for r in receiver.received if r.headers["X-Ndoto-Event"] == "message_created"]
    assert len(messages) == 2
    assert messages[0].headers["webhook-id"] == messages[1].headers["webhook-id"]


async def test_cookies_set_by_a_bot_are_never_sent_back(dworld: World, receiver: Receiver, dispatcher: Dispatcher) -> None:
    # Bots on one host share connections; a Set-Cookie from one answer must not ride along to
    # the next delivery (possibly another bot's, possibly another account's). By host name: a
    # cookie jar ignores cookies from IP addresses anyway.
    await dworld.db.write(lambda s: _set_url(s, dworld.bot_id, receiver.url.replace("127.0.0.1", "localhost")))
    receiver.respond = lambda n, r: (200, {"Set-Cookie": "session=secret-of-bot-1; Path=/"}, "ok")
    await say(dworld, "first", name="a")
    await receiver.wait_for(1)
    await _wait(lambda: _all_delivered(dworld))
    await say(dworld, "second", name="b")
    got = await receiver.wait_for(2)
    assert "Cookie" not in got[1].headers


async def test_an_invalid_url_fails_once_with_the_reason(dworld: World, dispatcher: Dispatcher) -> None:
    await dworld.db.write(lambda s: _set_url(s, dworld.bot_id, "http://[not-an-address/hook"))
    await say(dworld, "hello")
    await _wait(lambda: _status_is(dworld, 0, "failed"))
    row = (await _deliveries(dworld))[0]
    assert row.attempts == 1  # a retry cannot fix the URL: fix the bot, then `ndoto deliveries retry`
    assert "invalid outgoing_url" in (row.last_error or "")


async def _set_url(s: Any, bot_id: int, url: str) -> None:
    bot = await s.get(AgentBot, bot_id)
    bot.outgoing_url = url


async def test_a_bot_gets_at_most_its_concurrency_and_waiting_is_not_timed(dworld: World, receiver: Receiver, dispatcher: Dispatcher) -> None:
    dispatcher.settings.delivery_concurrency = 2
    dispatcher.settings.delivery_timeout = 1.0
    receiver.delay = 0.6  # the third pair waits 1.2 s for a slot: longer than the timeout
    for i in range(6):
        await say(dworld, f"hello {i}", name=f"c{i}")
    await receiver.wait_for(6, timeout=10)
    await _wait(lambda: _all_delivered(dworld))
    assert receiver.max_concurrent == 2
    assert all(d.attempts == 1 for d in await _deliveries(dworld))  # the wait for a slot never timed an attempt out


async def test_stopping_gives_back_claims_still_waiting_for_a_slot(dworld: World, receiver: Receiver, ddb: Any, dispatch_settings: Any) -> None:
    dispatch_settings.delivery_concurrency = 1
    receiver.delay = 1.0
    # All three are due before the worker starts, so it claims two at once (its room for one bot:
    # one slot, one waiting) whatever the machine's speed. Started first, a slow ``say`` let the
    # first answer arrive before the second message existed, and the second then had the slot.
    for i in range(3):
        await say(dworld, f"hello {i}", name=f"c{i}")
    worker = Dispatcher(ddb, dispatch_settings)
    await worker.start()
    await receiver.wait_for(1)
    await worker.stop()
    rows = await _deliveries(dworld)
    assert [d.status for d in rows] == ["delivered", "pending", "pending"]
    assert [d.attempts for d in rows] == [1, 0, 0]  # never attempted, so not counted
    assert all(d.next_attempt_at <= time.time() for d in rows[1:])  # due at once for the next worker
    assert len(receiver.received) == 1


async def test_a_lease_renewal_loses_to_a_worker_that_took_the_delivery_over(dworld: World, dispatch_settings: Any) -> None:
    await say(dworld, "hello")
    claimed = (await dworld.db.write(lambda s: queue.claim(s, limit=10, settings=dispatch_settings))).claimed
    assert await dworld.db.write(lambda s: queue.renew_lease(s, claimed[0], settings=dispatch_settings))
    await dworld.db.write(lambda s: _expire(s, claimed[0].delivery_id))
    again = (await dworld.db.write(lambda s: queue.claim(s, limit=10, settings=dispatch_settings))).claimed
    assert [c.delivery_id for c in again] == [claimed[0].delivery_id]
    assert not await dworld.db.write(lambda s: queue.renew_lease(s, claimed[0], settings=dispatch_settings))


async def _expire(s: Any, delivery_id: int) -> None:
    row = await s.get(Delivery, delivery_id)
    row.next_attempt_at = time.time() - 1


async def test_a_bot_with_a_deep_backlog_never_takes_the_whole_worker(dworld: World, receiver: Receiver, ddb: Any, dispatch_settings: Any) -> None:
    # A worker with room for 8 deliveries; a slow bot may hold 2 x 2 of them. Forty of its
    # conversations are waiting, yet the other bot's message goes out at once.
    dispatch_settings.delivery_concurrency = 2
    slow = await Receiver(delay=1.0).start()
    worker = Dispatcher(ddb, dispatch_settings)
    worker.max_in_flight = 8
    try:
        await _second_bot_on_the_api_inbox(dworld, slow.url)
        for i in range(40):
            await say(dworld, f"slow {i}", name=f"s{i}", inbox_id=dworld.api_inbox_id)
        await worker.start()
        await slow.wait_for(2)
        await say(dworld, "fast", name="f")
        (fast,) = await receiver.wait_for(1, timeout=10)
        assert not slow.answered or fast.at < min(slow.answered)  # out before the backlog's first answer
        assert slow.max_concurrent == 2
        # Fair inside the slow bot: its conversations are served oldest first, not a few over and over.
        await slow.wait_for(8, timeout=10)
        firsts = [r.json["conversation"]["id"] for r in slow.received[:8]]
        assert len(set(firsts)) == 8
    finally:
        await worker.stop()
        await slow.stop()


async def test_busy_conversations_of_a_crowded_bot_yield_to_older_waiting_ones(dworld: World, receiver: Receiver, ddb: Any, dispatch_settings: Any) -> None:
    # The bot may hold 2 claims; conversations A and B hold them with long queues. C's message
    # came before most of theirs: it must not wait for both queues to drain.
    dispatch_settings.delivery_concurrency = 1
    for name in ("A", "B"):
        for i in range(5):
            await say(dworld, f"{name}{i}", name=name)
    await say(dworld, "C0", name="C")
    for name in ("A", "B"):
        for i in range(5, 25):
            await say(dworld, f"{name}{i}", name=name)
    worker = Dispatcher(ddb, dispatch_settings)
    await worker.start()
    try:
        got = await receiver.wait_for(51, timeout=20)
    finally:
        await worker.stop()
    order = [r.json["content"] for r in got]
    assert order.index("C0") < 25  # served after a streak per busy conversation, not after all 50
    for name in ("A", "B"):  # each conversation still in order
        mine = [c for c in order if c.startswith(name)]
        assert mine == [f"{name}{i}" for i in range(25)]
