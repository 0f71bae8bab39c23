"""The hot and listing queries read through indexes, on both databases.

The product's paths are driven for real (the REST API in-process, the widget's API, the console's
listings, the dispatcher delivering to a receiver on 127.0.0.1, the operators' delivery
listings, the clock's checks) while every statement is recorded at the driver; then each
statement's plan is read back: none may read every row of ``messages``, ``conversations`` or
``deliveries`` (tests/query_plans.py says what counts as a full read). How fast those plans are
on a million messages is ``benchmarks/growth.py``'s subject.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from ndoto_cli.core.db import Database, sqlite_path
from ndoto_cli.core.models import AgentBot, Inbox
from ndoto_cli.core.services import conversations, customers, deliveries, outcomes, overview
from ndoto_cli.core.settings import Settings
from ndoto_cli.server.app import create_app
from tests.dispatch.receiver import Receiver
from tests.query_plans import Recorder, postgresql_full_reads, recording, sqlite_full_reads
from tests.server.conftest import Seed

A = "/api/v1/accounts/1"
W = "/api/v1/widget"


def _drive_api(client: TestClient, seed: Seed) -> None:
    admin, bot, agent = seed.h(seed.world.admin_token), seed.h(seed.world.bot_token), seed.h(seed.world.agent_token)
    public = f"/public/api/v1/inboxes/{seed.api_identifier}"

    def ok(r: Any) -> Any:
        assert r.status_code == 200, r.text
        return r.json()

    # A customer on the public API: a contact, a conversation, messages; the bot answers.
    contact = ok(client.post(f"{public}/contacts", json={"name": "Pat"}))
    conv = ok(client.post(f"{public}/contacts/{contact['source_id']}/conversations"))
    for words in ("Where is my order?", "It is 1234"):
        ok(client.post(f"{public}/contacts/{contact['source_id']}/conversations/{conv['id']}/messages", json={"content": words}))
    ok(client.get(f"{public}/contacts/{contact['source_id']}/conversations/{conv['id']}/messages"))
    ok(client.get(f"{public}/contacts/{contact['source_id']}/conversations"))
    c = seed.web_conversation
    ok(client.post(f"{A}/conversations/{c}/messages", headers=bot, json={"content": "On its way", "message_type": "outgoing"}))
    ok(client.post(f"{A}/conversations/{c}/messages", headers=admin, json={"content": "a note", "private": True}))
    messages = ok(client.get(f"{A}/conversations/{c}/messages", headers=admin))["payload"]
    ok(client.get(f"{A}/conversations/{c}/messages?before={messages[-1]['id']}", headers=admin))
    ok(client.get(f"{A}/conversations/{c}", headers=admin))
    # The widget: a visitor starts, writes, reads.
    token = {"website_token": seed.web_identifier}
    visitor = ok(client.post(f"{W}/session", params=token, json={}))["token"]
    vh = {"X-Ndoto-Visitor": visitor}
    ok(client.post(f"{W}/messages", params=token, json={"content": "hello from the site"}, headers=vh))
    ok(client.get(f"{W}/conversation", params=token, headers=vh))
    # Status changes and assignment, then every listing an agent or admin asks for.
    ok(client.post(f"{A}/conversations/{c}/assignments", headers=admin, json={"assignee_id": seed.world.agent_id}))
    ok(client.post(f"{A}/conversations/{seed.api_conversation}/toggle_status", headers=admin, json={"status": "resolved"}))
    for status in ("open", "pending", "resolved", "snoozed", "all"):
        for assignee_type in ("me", "unassigned", "assigned", "all"):
            ok(client.get(f"{A}/conversations", headers=agent, params={"status": status, "assignee_type": assignee_type}))
        ok(client.get(f"{A}/conversations", headers=agent, params={"status": status, "inbox_id": seed.world.web_inbox_id}))
        ok(client.get(f"{A}/conversations/meta", headers=agent, params={"status": status}))
    ok(client.get(f"{A}/conversations", headers=agent, params={"status": "all", "page": 2}))
    for params in ({}, {"status": "pending"}, {"agent_bot_id": seed.world.bot_id}, {"since": time.time() - 3600},
                   {"agent_bot_id": seed.world.bot_id, "status": "failed", "since": time.time() - 3600}):
        ok(client.get(f"{A}/deliveries", headers=admin, params=params))
    ok(client.get(f"{A}/agent_bots/{seed.world.bot_id}/stats", headers=admin, params={"since": time.time() - 7 * 86400}))


async def _drive_core(settings: Settings, seed: Seed, recorder: Recorder) -> None:
    from ndoto_cli.core import queries
    from ndoto_cli.core.services import bots, contacts
    from ndoto_cli.dispatch.worker import Dispatcher

    db = await Database(settings).open()
    receiver = await Receiver().start()
    account = seed.world.account_id
    try:
        # The console's tabs, with each filter, and its counts.
        async with db.read() as s:
            for tab in queries.TABS:
                await queries.conversation_rows(s, account_id=account, tab=tab, user_id=seed.world.agent_id)
                await queries.conversation_rows(s, account_id=account, tab=tab, user_id=seed.world.agent_id,
                                                inbox_id=seed.world.web_inbox_id)
            await queries.conversation_rows(s, account_id=account, tab="all", user_id=None, status="pending", offset=100)
            await queries.conversation_rows(s, account_id=account, tab="all", user_id=None, assignee_id=seed.world.agent_id)
            await queries.conversation_rows(s, account_id=account, tab="all", user_id=None, unassigned=True)
            await queries.tab_counts(s, account_id=account, user_id=seed.world.agent_id)
            await queries.tab_counts(s, account_id=account, user_id=seed.world.agent_id, inbox_id=seed.world.web_inbox_id)
            await contacts.find_contact(s, account_id=account, ref="Jane")
            await deliveries.health(s, bot_id=seed.world.bot_id)
            await deliveries.failed_ids(s, account_id=account, since=time.time() - 3600)
            await conversations.idle_due(s)
            await overview.overview(s, settings, account_id=account)
            bot = await s.get(AgentBot, seed.world.bot_id)
            await outcomes.bot_stats(s, bot, since=time.time() - 86400, by_day=True)
        # The dispatcher delivers what the API's writes queued, to a real receiver.
        await db.write(lambda s: bots.update_bot(s, account_id=account, bot_id=seed.world.bot_id, outgoing_url=receiver.url))
        await db.write(lambda s: bots.update_bot(s, account_id=account, bot_id=seed.other_bot_id, outgoing_url=receiver.url))
        dispatcher = Dispatcher(db, settings)
        await dispatcher.start()
        try:
            with recorder.pause():
                async with db.read() as s:
                    queued = (await s.execute(text("SELECT count(*) FROM deliveries"))).scalar_one()
            await receiver.wait_for(queued, timeout=20)
            deadline = time.monotonic() + 20
            while dispatcher.delivered < queued and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            # A new customer while the dispatcher runs: its events go out as they commit.
            async def say(s: Any) -> Any:
                return await customers.say(s, inbox=await s.get(Inbox, seed.world.web_inbox_id), contact_name="Lee", content="hi")

            await db.write(say)
            await receiver.wait_for(queued + 1, timeout=20)
        finally:
            await dispatcher.stop()
        await db.write(lambda s: deliveries.prune(s, older_than_days=30))
        await db.write(lambda s: conversations.resolve_idle(s))
    finally:
        await receiver.stop()
        await db.close()


def test_hot_and_listing_queries_never_read_a_whole_table(seed: Seed, ndoto_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(home=ndoto_home, allow_private_addresses=True, public_requests_per_minute=100_000)
    with recording(monkeypatch) as recorder:
        with TestClient(create_app(settings, start_dispatcher=False)) as client:
            _drive_api(client, seed)
        asyncio.run(_drive_core(settings, seed, recorder))
    statements = recorder.distinct()
    path = sqlite_path(settings.resolved_database_url)
    if path:
        problems = sqlite_full_reads(path, statements)
    else:
        problems = asyncio.run(postgresql_full_reads(settings.resolved_database_url, statements))
    assert len(statements) > 100  # the recorder saw the paths (a broken hook would pass an empty list)
    if problems:
        pytest.fail("full reads:\n" + "\n".join(problems), pytrace=False)
