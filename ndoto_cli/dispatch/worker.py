"""The delivery worker: claim due deliveries, run them through their bot's transport, record.

One loop claims (in batches, under leases) and starts one task per delivery; a recorder writes
outcomes back in batches and, in the same transaction, claims the next delivery of each queue
whose delivery just finished. Per-row round trips would cost more than the HTTP itself, so both
sides batch, and the steady state costs one transaction per batch of outcomes, not two.
Ordering and crash safety come from the claim (see core.services.deliveries).

Each bot has ``NDOTO_DELIVERY_CONCURRENCY`` slots: claimed deliveries beyond that wait their turn
in claim order (oldest first), before their attempt's clock starts. It spares a small bot a flood
of connections, and costs less CPU too: measured here, aiohttp spends ~1.7x more per request with
1,000 connections open to one receiver than with 50. A bot holds at most twice its slots in
claims (the second half keeps its slots busy while outcomes are recorded), so a bot with a deep
backlog never fills the worker's capacity: other bots are still claimed and sent at once.

Fairness inside a bot: a finished delivery's conversation gets the freed room for its next
delivery (one indexed lookup, the fast path). While the bot has more due conversations than room
("crowded"), a conversation keeps its room for at most ``STREAK`` deliveries in a row; then a scan
gives the room to the bot's oldest due delivery, so a few busy conversations cannot starve the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from ndoto_cli.core.db import Database
from ndoto_cli.core.models import BotType
from ndoto_cli.core.outbox import queue as store
from ndoto_cli.core.services import deliveries
from ndoto_cli.core.settings import Settings
from ndoto_cli.dispatch.base import TRANSPORTS, Transport

log = logging.getLogger("ndoto.dispatch")

CLAIM_BATCH = 256
MAX_IN_FLIGHT = 1024
RECORDERS_ON_POSTGRESQL = 3  # outcome-recording transactions one worker runs at once there
POLL_INTERVAL = 0.5  # picks up deliveries written by other processes (CLI, TUI) within a second
PRUNE_EVERY = 3600.0
WAKE_SNOOZED_EVERY = 5.0  # a snoozed conversation reopens within this many seconds of its time
STREAK = 8  # deliveries in a row a conversation of a crowded bot may take before yielding its room
RENEW_AFTER = store.LEASE_MARGIN / 2  # a claim that waited longer for its slot renews its lease


class Dispatcher:
    """Runs inside ``ndoto serve`` (and alone as ``ndoto worker``)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._leased_at: dict[int, float] = {}  # in flight: when its lease started (monotonic)
        self._waiting: dict[int, store.Claimed] = {}  # claimed, waiting for a slot of their bot
        self._slots: dict[int, asyncio.Semaphore] = {}
        self._held: dict[int, int] = {}  # per bot: claimed and not yet recorded
        self._crowded: set[int] = set()  # bots with more due deliveries than room
        self.max_in_flight = MAX_IN_FLIGHT
        self._unstarted: list[store.Claimed] = []  # claims to give back when stopping
        self._results: list[store.Result] = []
        self._recorders: set[asyncio.Task[None]] = set()
        # SQLite: one recorder (the writer commits one transaction at a time anyway). PostgreSQL:
        # a few at once, on the writer pool: a recording transaction waits on round trips and its
        # commit, and with one at a time the worker sat idle 40% of a burst (measured).
        self.max_recorders = 1 if db.is_sqlite else RECORDERS_ON_POSTGRESQL
        self._loop_task: asyncio.Task[None] | None = None
        self._prune_task: asyncio.Task[None] | None = None
        self._clock_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._scan = True  # a full scan is due: new deliveries were committed, or the poll timer fired
        self._transports: dict[str, Transport] = {}  # by bot type, made on first use (TRANSPORTS)
        self.delivered = 0
        self.failed = 0
        self._claim_failures = 0  # in a row: logged in full once, then briefly

    @property
    def running(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    async def start(self) -> None:
        self._stopping = False
        self._held.clear()
        self._crowded.clear()
        self.db.on_commit(self.wake)
        self._loop_task = asyncio.create_task(self._claim_loop(), name="ndoto-dispatch")
        self._prune_task = asyncio.create_task(self._prune_loop(), name="ndoto-prune")
        self._clock_task = asyncio.create_task(self._clock_loop(), name="ndoto-snoozed")

    def wake(self) -> None:
        """New deliveries were committed: scan for due ones."""
        self._scan = True
        self._wake.set()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming, give back claims whose attempt has not started, let attempts in flight
        finish (up to ``grace`` s) and record them. An attempt cut short keeps its lease and
        becomes due again when the lease expires.

        The claim loop is asked to end, not cancelled: a cancelled claim would still commit
        (the writer runs it) and its leases would sit unused until they expire."""
        self._stopping = True
        self.wake()
        if self._loop_task is not None:
            await asyncio.wait([self._loop_task], timeout=grace)
        for task in (self._loop_task, self._prune_task, self._clock_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._unqueue_waiting()
        if self._in_flight:
            await asyncio.wait(list(self._in_flight.values()), timeout=grace)
        for task in list(self._in_flight.values()):
            task.cancel()
        if self._recorders:
            await asyncio.gather(*list(self._recorders), return_exceptions=True)
        await self._drain_results()
        self._unqueue_waiting()
        if self._unstarted:
            unstarted, self._unstarted = self._unstarted, []
            try:
                await self.db.write(lambda s: store.release(s, unstarted))
            except Exception:  # the leases expire instead
                log.exception("giving back %d unstarted deliveries failed; their leases will expire", len(unstarted))
        for transport in self._transports.values():
            await transport.close()
        self._transports.clear()

    async def _claim_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            free = self.max_in_flight - len(self._in_flight)
            more = False
            if free > 0 and self._scan:
                self._scan = False
                try:
                    batch, crowded = await self.db.write(lambda s, free=free: self._claim(s, limit=min(free, CLAIM_BATCH)))
                except Exception as exc:  # a busy or unreachable database must not kill the worker
                    self._claim_failures += 1
                    if self._claim_failures == 1:  # the whole story once, then a line now and then
                        log.exception("claiming deliveries failed; retrying every %.1f s", POLL_INTERVAL)
                    elif self._claim_failures % 120 == 0:
                        log.error("claiming deliveries still fails (%d tries): %s", self._claim_failures, exc)
                    self._scan = True
                    await asyncio.sleep(POLL_INTERVAL)
                    continue
                if self._claim_failures:
                    log.info("claiming deliveries works again after %d failed tries", self._claim_failures)
                    self._claim_failures = 0
                self._crowded = crowded if batch.complete else self._crowded | crowded
                self._start(batch.claimed)
                more = not batch.complete
            self._scan = self._scan or more
            if self.max_in_flight - len(self._in_flight) > 0 and more:
                continue  # more is claimable now; with no room left, wait for outcomes instead
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_INTERVAL)
            except TimeoutError:
                self._scan = True  # deliveries written by other processes, retries now due

    @property
    def per_bot(self) -> int:
        """Claims one bot may hold: its slots, and as many again waiting for them."""
        return 2 * self.settings.delivery_concurrency

    async def _claim(self, session: Any, *, limit: int) -> tuple[store.Claims, set[int]]:
        """A full scan within each bot's room, and the bots it left crowded.

        ``Database.write`` may run this twice (a failed batch is re-run alone), so it changes no
        state of the worker: the caller applies the result once the claim has committed."""
        exclude = self._maybe_expired()
        at_cap = {bot for bot, n in self._held.items() if n >= self.per_bot}
        batch = await store.claim(
            session, limit=limit, settings=self.settings, exclude=exclude, held=self._held, per_bot=self.per_bot
        )
        return batch, batch.crowded | at_cap  # a bot left out at its cap may have more due: assume so

    def _start(self, claimed: list[store.Claimed]) -> None:
        if self._stopping:
            self._unstarted.extend(claimed)  # claimed while stopping: given back by stop()
            return
        for item in claimed:
            self._held[item.bot_id] = self._held.get(item.bot_id, 0) + 1
            self._waiting[item.delivery_id] = item
            self._leased_at[item.delivery_id] = time.monotonic()
            self._in_flight[item.delivery_id] = asyncio.create_task(self._attempt(item))

    def _maybe_expired(self) -> set[int]:
        """Deliveries in flight whose lease may have run out (none is shorter than the margin):
        a scan must not claim them again. Only these, not all in flight: each excluded id makes
        the scan walk further."""
        horizon = time.monotonic() - store.LEASE_MARGIN
        return {delivery_id for delivery_id, at in self._leased_at.items() if at < horizon}

    def _finished(self, item: store.Claimed) -> None:
        self._in_flight.pop(item.delivery_id, None)
        self._leased_at.pop(item.delivery_id, None)
        left = self._held.get(item.bot_id, 0) - 1
        if left > 0:
            self._held[item.bot_id] = left
        else:
            self._held.pop(item.bot_id, None)

    def _unqueue_waiting(self) -> None:
        """Cancel the attempts still waiting for a slot (none of them sent anything)."""
        for delivery_id, item in self._waiting.items():
            self._in_flight.pop(delivery_id).cancel()
            self._leased_at.pop(delivery_id, None)
            self._unstarted.append(item)
        self._waiting.clear()

    def _slot(self, item: store.Claimed) -> asyncio.Semaphore:
        slot = self._slots.get(item.bot_id)
        if slot is None:
            slot = self._slots[item.bot_id] = asyncio.Semaphore(self.settings.delivery_concurrency)
        return slot

    async def _attempt(self, item: store.Claimed) -> None:
        queued = time.monotonic()
        async with self._slot(item):
            del self._waiting[item.delivery_id]
            if time.monotonic() - queued > RENEW_AFTER and not await self._renew(item):
                self._finished(item)
                return  # the lease ran out while waiting and another worker took the delivery over
            started = time.time()
            try:
                outcome = await self._send(item)
            except Exception as exc:  # a transport bug is recorded and retried, never lost
                log.exception("delivery %s crashed", item.delivery_id)
                outcome = store.Outcome(ok=False, retryable=True, error=f"internal error: {type(exc).__name__}: {exc}")
        self._results.append(store.Result(claimed=item, outcome=outcome, started_at=started))
        # Count the running ones: a recorder that has just returned leaves the set only when its
        # done-callback runs, and a result appended meanwhile would otherwise wait for ever.
        if sum(not task.done() for task in self._recorders) < self.max_recorders:
            # Batches of different recorders never share a queue: a queue has one delivery in
            # flight, and its next is claimed by the recorder of the one before.
            task = asyncio.create_task(self._drain_results())
            self._recorders.add(task)
            task.add_done_callback(self._recorders.discard)

    async def _renew(self, item: store.Claimed) -> bool:
        """A claim that waited long for its slot gets a fresh lease before the attempt starts."""
        try:
            renewed = await self.db.write(lambda s: store.renew_lease(s, item, settings=self.settings))
        except Exception:  # send anyway: at worst a second worker sends it too (same webhook-id)
            log.exception("renewing the lease of delivery %s failed", item.delivery_id)
            return True
        if renewed:
            self._leased_at[item.delivery_id] = time.monotonic()
        return renewed

    async def _send(self, item: store.Claimed) -> store.Outcome:
        if item.disabled_reason:
            return store.Outcome(ok=False, error=f"bot deliveries are disabled: {item.disabled_reason}")
        transport = self._transports.get(item.bot_type)
        if transport is None:
            make = TRANSPORTS.get(item.bot_type)
            if make is None:
                return store.Outcome(ok=False, error=f"no transport for bots of type {item.bot_type!r}")
            transport = self._transports[item.bot_type] = make(self.db, self.settings)
        return await transport.deliver(item)

    @property
    def _ai(self) -> Any:
        """The AI transport, once one AI delivery was made (tests read what it dialled)."""
        return self._transports.get(BotType.ai_agent)

    async def _drain_results(self) -> None:
        while self._results:
            batch, self._results = self._results, []
            try:
                claimed, uncrowded = await self.db.write(lambda s, batch=batch: self._record(s, batch, claim_next=not self._stopping))
            except Exception:  # keep the outcomes and try again shortly
                log.exception("recording %d delivery outcomes failed; retrying", len(batch))
                self._results = batch + self._results
                await asyncio.sleep(0.2)
                continue
            for result in batch:
                self._finished(result.claimed)
                if result.outcome.ok:
                    self.delivered += 1
                elif not result.outcome.retryable:
                    self.failed += 1
            self._crowded -= uncrowded
            self._start(claimed)
            self._wake.set()  # room was freed: a scan that stopped at the in-flight limit may go on

    async def _record(
        self, session: Any, batch: list[store.Result], *, claim_next: bool
    ) -> tuple[list[store.Claimed], set[int]]:
        """Record the outcomes, hand off stuck conversations, then lease the next delivery of
        each finished (bot, conversation) queue: one transaction for all three. Returns the new
        claims and the bots no longer crowded; like :meth:`_claim` it changes no worker state."""
        failed_for_good = set(await store.record(session, batch, settings=self.settings))
        for result in batch:
            if not result.outcome.ok:
                await store.handoff_if_stuck(
                    session, claimed=result.claimed, reason=result.outcome.error or "delivery failed",
                    settings=self.settings, final=result.claimed.delivery_id in failed_for_good,
                )
        if not claim_next:
            return [], set()
        streaks = {
            (r.claimed.bot_id, r.claimed.conversation_id): r.claimed.streak for r in batch
            if r.claimed.conversation_id is not None and self._may_follow(r.claimed)
        }
        finished = {r.claimed.delivery_id for r in batch}
        busy = {delivery_id for delivery_id in self._in_flight if delivery_id not in finished}
        claimed = await store.claim_queues(session, queues=sorted(streaks), settings=self.settings, exclude=busy)
        for item in claimed:
            item.streak = streaks.get((item.bot_id, item.conversation_id or 0), 0) + 1
        # A crowded bot with room left over: its oldest due deliveries take it (a scan of that bot).
        held = dict(self._held)
        for r in batch:
            held[r.claimed.bot_id] = held.get(r.claimed.bot_id, 0) - 1
        for item in claimed:
            held[item.bot_id] = held.get(item.bot_id, 0) + 1
        exclude = self._maybe_expired()
        uncrowded: set[int] = set()
        for bot in sorted({r.claimed.bot_id for r in batch} & self._crowded):
            room = self.per_bot - held.get(bot, 0)
            if room > 0:
                more = await store.claim(session, limit=room, settings=self.settings, exclude=exclude, bot_id=bot)
                claimed += more.claimed
                if more.complete:
                    uncrowded.add(bot)
        return claimed, uncrowded

    def _may_follow(self, item: store.Claimed) -> bool:
        """May the room this delivery frees go to the next delivery of its conversation?"""
        return item.bot_id not in self._crowded or item.streak < STREAK

    async def _prune_loop(self) -> None:
        while not self._stopping:
            try:
                pruned = await self.db.write(lambda s: deliveries.prune(s, older_than_days=self.settings.retention_days))
                if pruned:
                    log.info("pruned %d delivered deliveries older than %s days", pruned, self.settings.retention_days)
            except Exception:
                log.exception("pruning deliveries failed")
            await asyncio.sleep(PRUNE_EVERY)

    async def _clock_loop(self) -> None:
        """Changes that come with time: snoozed conversations whose time has come reopen, and AI
        agents resolve the conversations whose customers went quiet (with their events, so bots and
        the console hear of it). With several workers, each may look;
        the write is a no-op for a conversation another one already woke."""
        from ndoto_cli.core.services import conversations

        failures = 0
        while not self._stopping:
            try:
                async with self.db.read() as session:
                    due = await conversations.snoozes_due(session)
                    quiet = await conversations.idle_due(session)
                woken = await self.db.write(lambda s: conversations.wake_snoozed(s)) if due else 0
                if woken:
                    log.info("reopened %d snoozed conversations", woken)
                resolved = await self.db.write(lambda s: conversations.resolve_idle(s)) if quiet else 0
                if resolved:
                    log.info("AI agents resolved %d conversations whose customers went quiet", resolved)
            except Exception as exc:  # the database is away: the whole story once, then a line a minute
                failures += 1
                if failures == 1:
                    log.exception("the clock's changes (snoozes, quiet conversations) failed")
                elif failures % 12 == 0:
                    log.error("the clock's changes (snoozes, quiet conversations) still fail: %s", exc)
            else:
                failures = 0
            await asyncio.sleep(WAKE_SNOOZED_EVERY)
