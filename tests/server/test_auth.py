"""The auth matrix: who may call what, and the header's spellings."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import Seed

A = "/api/v1/accounts/1"


def test_no_token_and_bad_token(client: TestClient, seed: Seed) -> None:
    r = client.get(f"{A}/conversations")
    assert r.status_code == 401 and "error" in r.json()
    r = client.get(f"{A}/conversations", headers={"api_access_token": "ndu_nope"})
    assert r.status_code == 401 and r.json() == {"error": "Invalid Access Token"}


@pytest.mark.parametrize("name", ["api_access_token", "Api_access_token", "Api-Access-Token", "API-ACCESS-TOKEN"])
def test_header_spellings(client: TestClient, seed: Seed, name: str) -> None:
    headers = {name: seed.world.admin_token, "Authorization": "Bearer something-else"}
    assert client.get(f"{A}/conversations", headers=headers).status_code == 200


def test_agent_works_conversations_but_does_not_manage(client: TestClient, seed: Seed) -> None:
    h = seed.h(seed.world.agent_token)
    assert client.get(f"{A}/conversations?status=all", headers=h).status_code == 200
    assert client.get(f"{A}/agent_bots", headers=h).status_code == 200
    assert client.post(f"{A}/agent_bots", headers=h, json={"name": "x", "outgoing_url": "https://127.0.0.1:9"}).status_code == 403
    assert client.post(f"{A}/inboxes", headers=h, json={"name": "x"}).status_code == 403
    r = client.post(f"{A}/conversations/{seed.web_conversation}/messages", headers=h, json={"content": "Ann here"})
    assert r.status_code == 200 and r.json()["sender"]["type"] == "user"


def test_admin_manages_bots_and_inboxes(client: TestClient, seed: Seed) -> None:
    h = seed.h(seed.world.admin_token)
    r = client.post(f"{A}/agent_bots", headers=h, json={"name": "New", "outgoing_url": "https://127.0.0.1:9/h"})
    assert r.status_code == 200 and r.json()["access_token"].startswith("ndb_") and r.json()["secret"].startswith("whsec_")
    assert "access_token" not in client.get(f"{A}/agent_bots/{r.json()['id']}", headers=h).json()


def test_bot_of_this_inbox(client: TestClient, seed: Seed) -> None:
    h = seed.h(seed.world.bot_token)
    c = seed.web_conversation
    assert client.post(f"{A}/conversations/{c}/messages", headers=h, json={"content": "hi"}).status_code == 200
    assert client.post(f"{A}/conversations/{c}/toggle_typing_status", headers=h, json={"typing_status": "on"}).status_code == 200
    # Beyond Chatwoot: a bot reads the conversations it owns.
    assert client.get(f"{A}/conversations/{c}", headers=h).status_code == 200
    assert len(client.get(f"{A}/conversations/{c}/messages", headers=h).json()["payload"]) == 2
    # Nothing else.
    assert client.get(f"{A}/conversations", headers=h).status_code == 401
    assert client.get(f"{A}/agent_bots", headers=h).status_code == 401
    assert client.post(f"{A}/agent_bots", headers=h, json={"name": "x", "outgoing_url": "https://127.0.0.1:9"}).status_code == 401
    assert client.post(f"{A}/conversations/{c}/toggle_status", headers=h, json={"status": "open"}).status_code == 200
    # After its handoff it still reads the conversation (Chatwoot's bots read it, and clients do so).
    assert client.get(f"{A}/conversations/{c}", headers=h).status_code == 200


def test_bot_of_another_inbox_cannot_touch_this_one(client: TestClient, seed: Seed) -> None:
    h = seed.h(seed.other_bot_token)
    c = seed.web_conversation
    assert client.post(f"{A}/conversations/{c}/messages", headers=h, json={"content": "hi"}).status_code == 403
    assert client.post(f"{A}/conversations/{c}/toggle_status", headers=h, json={"status": "resolved"}).status_code == 403
    assert client.get(f"{A}/conversations/{c}", headers=h).status_code == 401
    assert client.post(f"{A}/conversations/{c}/assignments", headers=h, json={"assignee_id": seed.world.agent_id}).status_code == 403


def test_bot_of_another_account(client: TestClient, seed: Seed) -> None:
    h = seed.h(seed.foreign_bot_token)
    r = client.post(f"{A}/conversations/{seed.web_conversation}/messages", headers=h, json={"content": "hi"})
    assert r.status_code == 401 and "not authorized" in r.json()["error"]


def test_platform_token(client: TestClient, seed: Seed) -> None:
    h = seed.h(seed.platform_token)
    assert client.get(f"{A}/conversations", headers=h).status_code == 401
    r = client.post("/platform/api/v1/agent_bots", headers=h, json={"name": "Global", "outgoing_url": "https://127.0.0.1:9/h"})
    assert r.status_code == 200 and r.json()["system_bot"] is True
    bot_id = r.json()["id"]
    assert [b["id"] for b in client.get("/platform/api/v1/agent_bots", headers=h).json()] == [bot_id]
    assert client.patch(f"/platform/api/v1/agent_bots/{bot_id}", headers=h, json={"name": "Global 2"}).json()["name"] == "Global 2"
    # The account sees it but cannot change it.
    admin = seed.h(seed.world.admin_token)
    listed = {b["id"]: b for b in client.get(f"{A}/agent_bots", headers=admin).json()}
    assert listed[bot_id]["system_bot"] is True and "secret" not in listed[bot_id]
    assert client.patch(f"{A}/agent_bots/{bot_id}", headers=admin, json={"name": "mine"}).status_code == 403
    assert client.delete(f"{A}/agent_bots/{bot_id}", headers=admin).status_code == 403
    # Other tokens on the platform API.
    assert client.get("/platform/api/v1/agent_bots", headers=admin).status_code == 401
    assert client.delete(f"/platform/api/v1/agent_bots/{bot_id}", headers=h).status_code == 200
