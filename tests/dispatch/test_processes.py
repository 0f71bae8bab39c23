"""Three `ndoto serve` processes on one database, one of them killed with SIGKILL in a burst:
every delivery made, none twice but those in flight at the kill (same webhook-id, same body),
each conversation's events in order, and the survivors take over the dead one's claims."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import httpx
import pytest

from tests.dispatch.receiver import Receiver
from tests.serve_process import Served, start_serve
from tests.sql import run_sql

pytestmark = pytest.mark.postgresql_only("several servers share one PostgreSQL database")

ENV = {"NDOTO_ALLOW_PRIVATE_ADDRESSES": "true", "NDOTO_DELIVERY_TIMEOUT": "1", "NDOTO_DELIVERY_RETRY_SCHEDULE": "0.5",
       "NDOTO_PUBLIC_REQUESTS_PER_MINUTE": "100000", "NDOTO_PUBLIC_MESSAGES_PER_MINUTE": "100000",
       "NDOTO_NEW_CONTACTS_PER_MINUTE": "100000"}
CONVERSATIONS, MESSAGES = 12, 10


async def test_three_servers_one_killed_lose_nothing_and_keep_order(ndoto_home: Path) -> None:
    fast, slow = await Receiver(delay=0.01).start(), await Receiver(delay=0.15).start()
    servers: list[Served] = [start_serve(ndoto_home, extra_env=ENV)]
    token = servers[0].token or ""
    servers += [start_serve(ndoto_home, extra_env=ENV) for _ in range(2)]
    try:
        clients = [httpx.AsyncClient(base_url=s.base_url, headers={"api_access_token": token}, timeout=15) for s in servers]
        admin = clients[0]
        publics = []
        for name, receiver in (("Fast", fast), ("Slow", slow)):
            inbox = (await admin.post("/api/v1/accounts/1/inboxes", json={"name": name, "channel": {"type": "api"}})).json()
            bot = (await admin.post("/api/v1/accounts/1/agent_bots", json={"name": name, "outgoing_url": receiver.url})).json()
            await admin.post(f"/api/v1/accounts/1/inboxes/{inbox['id']}/set_agent_bot", json={"agent_bot": bot["id"]})
            publics.append(f"/public/api/v1/inboxes/{inbox['inbox_identifier']}")
        convs = []
        for i in range(CONVERSATIONS):
            public, client = publics[i % 2], clients[i % 3]
            contact = (await client.post(f"{public}/contacts", json={"name": f"c{i}"})).json()
            conv = (await client.post(f"{public}/contacts/{contact['source_id']}/conversations")).json()
            convs.append((public, contact["source_id"], conv["id"], i))

        # Customers write through servers 0 and 2 (as through a load balancer that has taken the
        # one to be killed out of rotation); all three dispatch.
        writers = [clients[0], clients[2]]

        async def burst(public: str, source_id: str, conv_id: int, i: int) -> None:
            for n in range(MESSAGES):
                client = writers[(i + n) % 2]
                r = await client.post(f"{public}/contacts/{source_id}/conversations/{conv_id}/messages", json={"content": f"c{i} m{n}"})
                assert r.status_code == 200, r.text

        async def kill_midway() -> None:
            while len(fast.received) + len(slow.received) < CONVERSATIONS * MESSAGES // 3:
                await asyncio.sleep(0.01)
            servers[1].process.send_signal(signal.SIGKILL)
            servers[1].process.wait(timeout=10)

        await asyncio.gather(*[burst(*c) for c in convs], kill_midway())
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            left = run_sql(ndoto_home, "select count(*) from deliveries where status != 'delivered'")[0][0]
            if left == 0:
                break
            await asyncio.sleep(0.3)
        assert left == 0, f"{left} deliveries not delivered by the two survivors"
        for client in clients:
            await client.aclose()
        expected = {row[0] for row in run_sql(ndoto_home, "select webhook_id from deliveries")}
        received = fast.received + slow.received
        assert {r.headers["webhook-id"] for r in received} == expected  # every delivery made
        bodies: dict[str, bytes] = {}
        for r in received:  # a repeat is the same delivery: same id, same body
            assert bodies.setdefault(r.headers["webhook-id"], r.body) == r.body
        repeats = len(received) - len(bodies)
        attempts = run_sql(ndoto_home, "select count(*), coalesce(sum(attempts), 0) from deliveries")[0]
        print(f"{len(bodies)} deliveries, {repeats} sent again after the kill, {attempts[1]} attempts in all")
        # A repeat comes only from the killed process's claims, taken over when their lease ran out
        # (the 1 s timeout + 5 s margin): never two live processes sending one delivery at once.
        arrivals: dict[str, list[float]] = defaultdict(list)
        for r in received:
            arrivals[r.headers["webhook-id"]].append(r.at)
        for webhook_id, times in arrivals.items():
            times.sort()
            gaps = [b - a for a, b in pairwise(times)]
            assert all(gap > 3.0 for gap in gaps), (webhook_id, gaps)
        # Order per conversation: the first arrival of each message event follows the messages' order.
        seen: set[str] = set()
        order: dict[int, list[int]] = defaultdict(list)
        for r in sorted(received, key=lambda r: r.at):
            if r.headers["webhook-id"] in seen:
                continue
            seen.add(r.headers["webhook-id"])
            event = r.json
            if event.get("event") == "message_created" and event.get("message_type") == "incoming":
                order[event["conversation"]["id"]].append(event["id"])
        assert len(order) == CONVERSATIONS
        for conversation, ids in order.items():
            assert ids == sorted(ids), (conversation, ids)
            assert len(ids) == MESSAGES
    finally:
        for served in servers:
            served.stop()
        await fast.stop()
        await slow.stop()
