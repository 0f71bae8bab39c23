"""Every route of the OpenAPI document x every kind of caller: who gets in, who gets 401 or 403.

The expectations are written by hand (a set per route, below) and the test fails when a route
exists that the table does not name, so a new route cannot ship without its permissions.
Each cell gets a conversation of its own, so one cell's change never decides another's answer.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ndoto_cli.core.db import Database
from ndoto_cli.core.models import Inbox
from ndoto_cli.core.services import accounts, bots, customers, inboxes
from ndoto_cli.core.settings import Settings
from ndoto_cli.server.app import create_app
from tests.conftest import make_world

CALLERS = ("none", "garbage", "other_account", "platform", "agent", "admin", "bot_this_inbox", "bot_other_inbox", "system_bot")
OUTSIDERS = {"none": 401, "garbage": 401, "other_account": 401, "platform": 401}
BOTS_REFUSED = {"bot_this_inbox": 401, "bot_other_inbox": 401, "system_bot": 401}

USERS = {**OUTSIDERS, "agent": "ok", "admin": "ok", **BOTS_REFUSED}
ADMINS = {**USERS, "agent": 403}
CONV_READ = {**OUTSIDERS, "agent": "ok", "admin": "ok", "bot_this_inbox": "ok", "bot_other_inbox": 401, "system_bot": 401}
CONV_WRITE = {**OUTSIDERS, "agent": "ok", "admin": "ok", "bot_this_inbox": "ok", "bot_other_inbox": 403, "system_bot": 403}
INBOX_READ = CONV_READ
# POST /conversations is aimed at the API inbox, whose bot is "bot_other_inbox".
CREATE_IN_API_INBOX = {**OUTSIDERS, "agent": "ok", "admin": "ok", "bot_this_inbox": 403, "bot_other_inbox": "ok", "system_bot": 403}
PLATFORM = {**dict.fromkeys(CALLERS, 401), "platform": "ok"}
PUBLIC = dict.fromkeys(CALLERS, "ok")
# The widget's routes open with a visitor token (tests/widget), never an API token: with one, 401.
VISITORS_ONLY = dict.fromkeys(CALLERS, 401)

ACC = "/api/v1/accounts/{account_id}"
PUB = "/public/api/v1/inboxes/{inbox_identifier}"
TABLE: dict[str, dict[str, Any]] = {
    f"GET {ACC}/conversations": USERS,
    f"GET {ACC}/conversations/meta": USERS,
    f"POST {ACC}/conversations": CREATE_IN_API_INBOX,
    f"PATCH {ACC}/conversations": CONV_WRITE,
    f"POST {ACC}/conversations/{{conversation_id}}/toggle_status": CONV_WRITE,
    f"GET {ACC}/conversations/{{conversation_id}}": CONV_READ,
    f"PATCH {ACC}/conversations/{{conversation_id}}": CONV_WRITE,
    f"POST {ACC}/conversations/{{conversation_id}}/toggle_typing_status": CONV_WRITE,
    f"POST {ACC}/conversations/{{conversation_id}}/assignments": CONV_WRITE,
    f"PATCH {ACC}/conversations/{{conversation_id}}/assignments": CONV_WRITE,
    f"GET {ACC}/conversations/{{conversation_id}}/messages": CONV_READ,
    f"POST {ACC}/conversations/{{conversation_id}}/messages": CONV_WRITE,
    f"PATCH {ACC}/conversations/{{conversation_id}}/messages/{{message_id}}": USERS,
    f"DELETE {ACC}/conversations/{{conversation_id}}/messages/{{message_id}}": USERS,
    f"GET {ACC}/agent_bots": USERS,
    f"POST {ACC}/agent_bots": ADMINS,
    f"GET {ACC}/agent_bots/{{bot_id}}": USERS,
    f"PATCH {ACC}/agent_bots/{{bot_id}}": ADMINS,
    f"PUT {ACC}/agent_bots/{{bot_id}}": ADMINS,
    f"DELETE {ACC}/agent_bots/{{bot_id}}": ADMINS,
    f"POST {ACC}/agent_bots/{{bot_id}}/reset_access_token": ADMINS,
    f"POST {ACC}/agent_bots/{{bot_id}}/reset_secret": ADMINS,
    f"GET {ACC}/agent_bots/{{bot_id}}/stats": ADMINS,
    f"GET {ACC}/agent_bots/{{bot_id}}/tools": ADMINS,  # a tool's URL and headers describe internal APIs
    f"POST {ACC}/agent_bots/{{bot_id}}/tools": ADMINS,
    f"GET {ACC}/agent_bots/{{bot_id}}/tools/{{tool_id}}": ADMINS,
    f"PATCH {ACC}/agent_bots/{{bot_id}}/tools/{{tool_id}}": ADMINS,
    f"DELETE {ACC}/agent_bots/{{bot_id}}/tools/{{tool_id}}": ADMINS,
    f"POST {ACC}/agent_bots/{{bot_id}}/tools/{{tool_id}}/test": ADMINS,
    f"GET {ACC}/inboxes": USERS,
    f"POST {ACC}/inboxes": ADMINS,
    f"GET {ACC}/inboxes/{{inbox_id}}": INBOX_READ,
    f"PATCH {ACC}/inboxes/{{inbox_id}}": ADMINS,
    f"GET {ACC}/inboxes/{{inbox_id}}/agent_bot": USERS,
    f"POST {ACC}/inboxes/{{inbox_id}}/set_agent_bot": ADMINS,
    f"POST {ACC}/contacts": USERS,
    f"GET {ACC}/contacts/{{contact_id}}": USERS,
    f"GET {ACC}/deliveries": ADMINS,
    f"GET {ACC}/deliveries/{{delivery_id}}": ADMINS,
    f"POST {ACC}/deliveries/{{delivery_id}}/retry": ADMINS,
    f"POST {ACC}/deliveries/retry": ADMINS,
    "GET /platform/api/v1/agent_bots": PLATFORM,
    "POST /platform/api/v1/agent_bots": PLATFORM,
    "GET /platform/api/v1/agent_bots/{bot_id}": PLATFORM,
    "PATCH /platform/api/v1/agent_bots/{bot_id}": PLATFORM,
    "PUT /platform/api/v1/agent_bots/{bot_id}": PLATFORM,
    "DELETE /platform/api/v1/agent_bots/{bot_id}": PLATFORM,
    f"POST {PUB}/contacts": PUBLIC,
    f"GET {PUB}/contacts/{{source_id}}": PUBLIC,
    f"GET {PUB}/contacts/{{source_id}}/conversations": PUBLIC,
    f"POST {PUB}/contacts/{{source_id}}/conversations": PUBLIC,
    f"GET {PUB}/contacts/{{source_id}}/conversations/{{conversation_id}}/messages": PUBLIC,
    f"POST {PUB}/contacts/{{source_id}}/conversations/{{conversation_id}}/messages": PUBLIC,
    f"PATCH {PUB}/contacts/{{source_id}}/conversations/{{conversation_id}}/messages/{{message_id}}": PUBLIC,
    f"POST {PUB}/contacts/{{source_id}}/events": PUBLIC,
    "GET /health": PUBLIC,
    "GET /widget/demo": PUBLIC,
    "GET /api/v1/widget/config": PUBLIC,
    "POST /api/v1/widget/session": PUBLIC,
    "POST /api/v1/widget/events": VISITORS_ONLY,
    "GET /api/v1/widget/conversation": VISITORS_ONLY,
    "POST /api/v1/widget/messages": VISITORS_ONLY,
    "POST /api/v1/widget/typing": VISITORS_ONLY,
    "PATCH /api/v1/widget/messages/{message_id}": VISITORS_ONLY,
    "PATCH /api/v1/widget/contact": VISITORS_ONLY,
    "POST /api/v1/widget/user": PUBLIC,  # setUser starts a visitor when there is none
    "GET /api/v1/widget/stream": VISITORS_ONLY,
}
WIDGET_BODIES = {"{message_id}": {"submitted_values": {}}, "events": {"name": "webwidget.triggered", "event_info": {}}, "messages": {"content": "hello"}, "typing": {"on": True},
                 "contact": {"name": "Jo"}, "user": {"identifier": "jo-1"}, "session": {}}

_names = itertools.count()


def body_for(operation: str, world: Matrix) -> Any:
    method, path = operation.split(" ", 1)
    tail = path.rsplit("/", 1)[-1]
    n = next(_names)
    if path.startswith("/platform"):
        return {"name": f"Platform bot {n}", "outgoing_url": "https://127.0.0.1:9/h"} if method in ("POST", "PATCH", "PUT") else None
    bodies = {
        ("POST", "conversations"): {"inbox_id": world.api_inbox_id, "contact_id": world.contact_id},
        ("PATCH", "conversations"): {"id": 0, "status": "open"},  # id filled in per cell
        ("POST", "toggle_status"): {"status": "open"},
        ("PATCH", "{conversation_id}"): {"priority": "high"},
        ("POST", "toggle_typing_status"): {"typing_status": "on"},
        ("POST", "assignments"): {"assignee_id": world.agent_id},
        ("PATCH", "assignments"): {"assignee_id": world.agent_id},
        ("POST", "messages"): {"content": "hello"},
        ("PATCH", "{message_id}"): {"content": "edited"} if path.startswith("/api") else {"submitted_values": {"a": 1}},
        ("POST", "agent_bots"): {"name": f"Bot {n}", "outgoing_url": "https://127.0.0.1:9/h"},
        ("PATCH", "{bot_id}"): {"description": "changed"},
        ("PUT", "{bot_id}"): {"description": "changed"},
        ("POST", "inboxes"): {"name": f"Inbox {n}"},
        ("POST", "set_agent_bot"): {"agent_bot": world.bot_id},
        ("POST", "contacts"): {"name": f"Contact {n}"},
        ("POST", "retry"): {},
        ("POST", "events"): {"name": "webwidget.triggered", "event_info": {}},
    }
    return bodies.get((method, tail))


@dataclass
class Matrix:
    client: TestClient
    settings: Settings
    tokens: dict[str, str | None]
    agent_id: int
    bot_id: int
    victim_bot_id: int
    platform_bot_id: int
    web_inbox_id: int
    api_inbox_id: int
    contact_id: int
    delivery_id: int
    web_identifier: str


async def _build(settings: Settings) -> dict[str, Any]:
    db = await Database(settings).open()
    try:
        world = await make_world(db, bot_url="https://127.0.0.1:9/webhook")
        other, other_token = await db.write(
            lambda s: bots.create_bot(s, account_id=world.account_id, name="ApiBot", outgoing_url="https://127.0.0.1:9/h")
        )
        await db.write(lambda s: inboxes.set_inbox_bot(s, account_id=world.account_id, inbox_id=world.api_inbox_id, bot_id=other.id))
        victim, _ = await db.write(lambda s: bots.create_bot(s, account_id=world.account_id, name="Victim", outgoing_url="https://127.0.0.1:9/h"))
        app_row, platform_token = await db.write(lambda s: accounts.create_platform_app(s, name="Platform"))
        pbot, _ = await db.write(lambda s: bots.create_platform_bot(s, platform_app_id=app_row.id, name="PBot", outgoing_url="https://127.0.0.1:9/h"))
        system, system_token = await db.write(lambda s: bots.create_bot(s, account_id=None, name="Global", outgoing_url="https://127.0.0.1:9/h"))
        third = await db.write(lambda s: inboxes.create_inbox(s, account_id=world.account_id, name="Third"))
        await db.write(lambda s: inboxes.set_inbox_bot(s, account_id=world.account_id, inbox_id=third.id, bot_id=system.id))
        acct2 = await db.write(lambda s: accounts.create_account(s, name="Other Co"))
        _u, other_admin = await db.write(
            lambda s: accounts.create_user(s, account_id=acct2.id, name="Eve", email="eve@other.test", role="administrator")
        )
        said = await db.write(lambda s: _say(s, world.web_inbox_id))
        async with db.read() as s:
            from sqlalchemy import select

            from ndoto_cli.core.models import Delivery
            from ndoto_cli.core.models import Inbox as InboxRow

            delivery_id = (await s.execute(select(Delivery.id).limit(1))).scalar_one()
            web_identifier = (await s.get(InboxRow, world.web_inbox_id)).identifier  # type: ignore[union-attr]
        return {
            "tokens": {"none": None, "garbage": "ndu_not-a-real-token", "other_account": other_admin, "platform": platform_token,
                       "agent": world.agent_token, "admin": world.admin_token, "bot_this_inbox": world.bot_token,
                       "bot_other_inbox": other_token, "system_bot": system_token},
            "agent_id": world.agent_id, "bot_id": world.bot_id, "victim_bot_id": victim.id, "platform_bot_id": pbot.id,
            "web_inbox_id": world.web_inbox_id, "api_inbox_id": world.api_inbox_id, "contact_id": said.bundle.contact.id,
            "delivery_id": delivery_id, "web_identifier": web_identifier,
        }
    finally:
        await db.close()


async def _say(s: Any, inbox_id: int, name: str = "Jane") -> Any:
    return await customers.say(s, inbox=await s.get(Inbox, inbox_id), contact_name=name, content="hello", new_conversation=True)


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    home = tmp_path_factory.mktemp("auth-matrix")
    settings = Settings(home=Path(home), auth_failures_per_minute=100_000, public_requests_per_minute=1_000_000,
                        public_messages_per_minute=100_000, conversation_messages_per_minute=100_000)
    built = asyncio.run(_build(settings))
    app = create_app(settings, start_dispatcher=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Matrix(client, settings, **built)


def _operations(client: TestClient) -> list[str]:
    spec = client.get("/openapi.json").json()
    return sorted(f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item)


def test_the_table_names_every_route(matrix: Matrix) -> None:
    operations = _operations(matrix.client)
    assert sorted(TABLE) == operations, f"add to TABLE: {sorted(set(operations) - set(TABLE))}; gone: {sorted(set(TABLE) - set(operations))}"


async def _fresh_conversation(settings: Settings, inbox_id: int) -> tuple[int, int, str]:
    db = await Database(settings).open()
    try:
        said = await db.write(lambda s: _say(s, inbox_id, f"Cell {next(_names)}"))
        return said.bundle.conversation.display_id, said.message.id, said.bundle.contact_inbox.source_id  # type: ignore[return-value]
    finally:
        await db.close()


@pytest.mark.parametrize("operation", sorted(TABLE))
def test_every_caller_on_every_route(matrix: Matrix, operation: str) -> None:
    method, template = operation.split(" ", 1)
    failures = []
    for caller in CALLERS:
        conversation, message, source = asyncio.run(_fresh_conversation(matrix.settings, matrix.web_inbox_id))
        is_platform = template.startswith("/platform")
        path = template.format(
            account_id=1, conversation_id=conversation, message_id=message, inbox_id=matrix.web_inbox_id, contact_id=matrix.contact_id,
            delivery_id=matrix.delivery_id, inbox_identifier=matrix.web_identifier, source_id=source, tool_id=1,
            bot_id=matrix.platform_bot_id if is_platform else matrix.victim_bot_id,
        )
        body = body_for(operation, matrix)
        params: dict[str, str] = {}
        if "widget" in template:
            params = {"website_token": matrix.web_identifier, "inbox": matrix.web_identifier, "token": "not-a-visitor"}
            body = WIDGET_BODIES.get(template.rsplit("/", 1)[-1])
        if isinstance(body, dict) and "id" in body:
            body = {**body, "id": conversation}
        token = matrix.tokens[caller]
        headers = {"api_access_token": token} if token else {}
        r = matrix.client.request(method, path, headers=headers, json=body, params=params)
        expected = TABLE[operation][caller]
        got_in = r.status_code not in (401, 403) and r.status_code < 500
        if (expected == "ok" and not got_in) or (expected != "ok" and r.status_code != expected):
            failures.append(f"{caller}: {r.status_code} (expected {expected}) {r.text[:100]}")
    assert not failures, operation + "\n" + "\n".join(failures)
