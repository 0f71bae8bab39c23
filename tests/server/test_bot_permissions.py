"""What a bot may do to a conversation: every (bot kind x conversation state x action) cell.

The rule is ``core.routing.bot_refusal``; this table is written out by hand (not computed from
it) and checked through the real API, so the rule, the services and the routes are all held to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ndoto_cli.core.actors import Actor
from ndoto_cli.core.db import Database
from ndoto_cli.core.models import Inbox
from ndoto_cli.core.services import accounts, bots, conversations, customers, inboxes
from ndoto_cli.core.settings import Settings
from ndoto_cli.server.app import create_app
from tests.conftest import make_world

A = "/api/v1/accounts/1"
STATES = ("pending", "bot_handed_off", "human", "resolved", "resolved_by_human")
ACTIONS = ("read", "messages", "reply", "note", "status", "assign", "update", "typing")

# What each kind of bot is to a conversation in each state.
ROLE = {
    "inbox_bot": {"pending": "active", "bot_handed_off": "active", "human": "active_human", "resolved": "active",
                  "resolved_by_human": "active_human"},
    # Assigning a human clears the conversation's own bot (Chatwoot): it is then an outsider.
    "conversation_bot": {"pending": "active", "bot_handed_off": "active", "human": "outsider", "resolved": "active",
                         "resolved_by_human": "outsider"},
    "other_inbox_bot": dict.fromkeys(STATES, "outsider"),
    "system_bot_of_another_inbox": dict.fromkeys(STATES, "outsider"),
    "bot_of_another_account": dict.fromkeys(STATES, "foreign"),
}
STATUS = {
    "active": dict.fromkeys(ACTIONS, 200),
    "active_human": {"read": 200, "messages": 200, "note": 200, "reply": 403, "status": 403, "assign": 403, "update": 403,
                     "typing": 403},
    "outsider": {"read": 401, "messages": 401, "note": 403, "reply": 403, "status": 403, "assign": 403, "update": 403,
                 "typing": 403},
    "foreign": dict.fromkeys(ACTIONS, 401),
}


@dataclass
class Table:
    client: TestClient
    db_settings: Settings
    tokens: dict[str, str]
    agent_id: int
    web_inbox_id: int
    conversation_bot_id: int
    count: int = 0


async def _world(settings: Settings) -> tuple[dict[str, str], int, int, int]:
    db = await Database(settings).open()
    try:
        world = await make_world(db)
        conv_bot, conv_token = await db.write(
            lambda s: bots.create_bot(s, account_id=world.account_id, name="Specialist", outgoing_url="https://127.0.0.1:9/h")
        )
        other, other_token = await db.write(
            lambda s: bots.create_bot(s, account_id=world.account_id, name="ApiBot", outgoing_url="https://127.0.0.1:9/h")
        )
        await db.write(lambda s: inboxes.set_inbox_bot(s, account_id=world.account_id, inbox_id=world.api_inbox_id, bot_id=other.id))
        system, system_token = await db.write(
            lambda s: bots.create_bot(s, account_id=None, name="Global", outgoing_url="https://127.0.0.1:9/h")
        )
        third = await db.write(lambda s: inboxes.create_inbox(s, account_id=world.account_id, name="Third"))
        await db.write(lambda s: inboxes.set_inbox_bot(s, account_id=world.account_id, inbox_id=third.id, bot_id=system.id))
        acct2 = await db.write(lambda s: accounts.create_account(s, name="Other Co"))
        _f, foreign_token = await db.write(
            lambda s: bots.create_bot(s, account_id=acct2.id, name="Foreign", outgoing_url="https://127.0.0.1:9/h")
        )
        tokens = {
            "inbox_bot": world.bot_token, "conversation_bot": conv_token, "other_inbox_bot": other_token,
            "system_bot_of_another_inbox": system_token, "bot_of_another_account": foreign_token,
        }
        return tokens, world.agent_id, world.web_inbox_id, conv_bot.id
    finally:
        await db.close()


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Table]:
    home = tmp_path_factory.mktemp("permissions")
    settings = Settings(home=home, conversation_messages_per_minute=100_000)
    tokens, agent_id, web_inbox_id, conv_bot_id = asyncio.run(_world(settings))
    app = create_app(settings, start_dispatcher=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Table(client, settings, tokens, agent_id, web_inbox_id, conv_bot_id)


async def _conversation(db: Database, t: Table, kind: str, state: str) -> int:
    admin = Actor("user", 1, "Admin")
    t.count += 1
    name = f"Customer {t.count}"
    said = await db.write(lambda s: _say(s, t.web_inbox_id, name))
    display = said.bundle.conversation.display_id
    if kind == "conversation_bot":
        await db.write(lambda s: conversations.assign_bot(s, account_id=1, display_id=display, bot_id=t.conversation_bot_id, actor=admin))
    if state == "bot_handed_off":
        await db.write(lambda s: conversations.change_status(s, account_id=1, display_id=display, status="open", actor=admin))
    if state in ("human", "resolved_by_human"):
        await db.write(lambda s: conversations.assign_user(s, account_id=1, display_id=display, user_id=t.agent_id, actor=admin))
    if state in ("resolved", "resolved_by_human"):
        await db.write(lambda s: conversations.change_status(s, account_id=1, display_id=display, status="resolved", actor=admin))
    return display


async def _say(s: Any, inbox_id: int, name: str) -> Any:
    return await customers.say(s, inbox=await s.get(Inbox, inbox_id), contact_name=name, content="hello", new_conversation=True)


def _call(client: TestClient, token: str, action: str, c: int, agent_id: int) -> Any:
    h = {"api_access_token": token}
    base = f"{A}/conversations/{c}"
    return {
        "read": lambda: client.get(base, headers=h),
        "messages": lambda: client.get(f"{base}/messages", headers=h),
        "reply": lambda: client.post(f"{base}/messages", headers=h, json={"content": "a late answer"}),
        "note": lambda: client.post(f"{base}/messages", headers=h, json={"content": "for the humans", "private": True}),
        "status": lambda: client.post(f"{base}/toggle_status", headers=h, json={"status": "resolved"}),
        "assign": lambda: client.post(f"{base}/assignments", headers=h, json={"assignee_id": agent_id}),
        "update": lambda: client.patch(base, headers=h, json={"priority": "high"}),
        "typing": lambda: client.post(f"{base}/toggle_typing_status", headers=h, json={"typing_status": "on"}),
    }[action]()


@pytest.mark.parametrize("kind", list(ROLE))
@pytest.mark.parametrize("state", STATES)
def test_every_cell(table: Table, kind: str, state: str) -> None:
    failures = []
    for action in ACTIONS:
        async def prepare() -> int:
            db = await Database(table.db_settings).open()
            try:
                return await _conversation(db, table, kind, state)
            finally:
                await db.close()

        c = asyncio.run(prepare())
        expected = STATUS[ROLE[kind][state]][action]
        r = _call(table.client, table.tokens[kind], action, c, table.agent_id)
        if r.status_code != expected:
            failures.append(f"{action}: {r.status_code} (expected {expected}) {r.text[:120]}")
        elif expected == 403 and ROLE[kind][state] == "active_human":
            assert r.json()["error"] == "a human has taken over this conversation"
    assert not failures, f"{kind} / {state}:\n" + "\n".join(failures)
