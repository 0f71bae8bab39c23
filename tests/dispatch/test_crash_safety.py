"""kill -9 in the middle of a burst, start again: every event arrives at least once, and a
delivery sent twice carries the same webhook-id."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.dispatch.receiver import Receiver
from tests.serve_process import start_serve
from tests.sql import run_sql

ENV = {"NDOTO_ALLOW_PRIVATE_ADDRESSES": "true", "NDOTO_DELIVERY_TIMEOUT": "1", "NDOTO_DELIVERY_RETRY_SCHEDULE": "0.5"}


@pytest.mark.once("its own SQLite home; tests/dispatch/test_processes.py kills a server on PostgreSQL")
async def test_sigkill_mid_burst_loses_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    receiver = await Receiver(delay=0.02).start()
    served = start_serve(home, extra_env=ENV)
    token = served.token
    try:
        async with httpx.AsyncClient(base_url=served.base_url, headers={"api_access_token": token or ""}, timeout=10) as api:
            inbox = (await api.post("/api/v1/accounts/1/inboxes", json={"name": "API", "channel": {"type": "api"}})).json()
            bot = (await api.post("/api/v1/accounts/1/agent_bots", json={"name": "B", "outgoing_url": receiver.url})).json()
            await api.post(f"/api/v1/accounts/1/inboxes/{inbox['id']}/set_agent_bot", json={"agent_bot": bot["id"]})
            public = f"/public/api/v1/inboxes/{inbox['inbox_identifier']}"
            convs = []
            for i in range(10):
                contact = (await api.post(f"{public}/contacts", json={"name": f"c{i}"})).json()
                conv = (await api.post(f"{public}/contacts/{contact['source_id']}/conversations")).json()
                convs.append((contact["source_id"], conv["id"]))

            async def burst(source_id: str, conv_id: int) -> None:
                for n in range(15):
                    await api.post(f"{public}/contacts/{source_id}/conversations/{conv_id}/messages", json={"content": f"m{n}"})

            await asyncio.gather(*[burst(s, c) for s, c in convs])
        # Mid-delivery: the receiver is slow, so much is still queued or in flight.
        assert len(receiver.received) < 150
        served.process.send_signal(signal.SIGKILL)
        served.process.wait(timeout=10)
        sent_before = len(receiver.received)
        served = start_serve(home, extra_env=ENV)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            left = run_sql(home, "select count(*) from deliveries where status != 'delivered'")[0][0]
            if left == 0:
                break
            await asyncio.sleep(0.3)
        assert left == 0, f"{left} deliveries not delivered after restart"
        expected = {row[0] for row in run_sql(home, "select webhook_id from deliveries")}
        message_ids = {row[0] for row in run_sql(home, "select id from messages where message_type = 0")}
        got_ids = [r.headers["webhook-id"] for r in receiver.received]
        assert expected <= set(got_ids)  # every delivery arrived at least once
        received_messages = {r.json["id"] for r in receiver.received if r.json.get("event") == "message_created"}
        assert message_ids <= received_messages
        assert len(message_ids) == 150
        assert sent_before < len(receiver.received)
        # Duplicates (sent before the kill, again after) carry the same id: same id, same body.
        bodies: dict[str, bytes] = {}
        for r in receiver.received:
            assert bodies.setdefault(r.headers["webhook-id"], r.body) == r.body
    finally:
        served.stop()
        await receiver.stop()


def test_the_worker_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """systemd and `docker stop` send SIGTERM: the worker gives back its claims and exits 0."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "NDOTO_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    worker = subprocess.Popen([sys.executable, "-m", "ndoto_cli", "worker"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, env=env, stdin=subprocess.DEVNULL)
    assert worker.stdout is not None
    for line in worker.stdout:  # migration log lines first, on a new database
        if "Dispatcher running" in line:
            break
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    assert "Stopped." in worker.stdout.read()
