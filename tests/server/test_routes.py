"""Every route's happy path and its bad input."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.server.conftest import Seed

A = "/api/v1/accounts/1"


def admin(seed: Seed) -> dict[str, str]:
    return seed.h(seed.world.admin_token)


def test_list_filters_and_counts(client: TestClient, seed: Seed) -> None:
    h = admin(seed)
    data = client.get(f"{A}/conversations?status=pending", headers=h).json()["data"]
    assert {c["id"] for c in data["payload"]} == {seed.web_conversation, seed.api_conversation}
    assert data["meta"]["all_count"] == 2 and data["meta"]["unassigned_count"] == 2
    conv = data["payload"][0]
    assert isinstance(conv["created_at"], int) and isinstance(conv["timestamp"], int)
    assert conv["messages"][0]["message_type"] == 0 and conv["labels"] == [] and conv["custom_attributes"] == {}
    assert conv["owner"]["type"] == "agent_bot"
    only = client.get(f"{A}/conversations?status=all&inbox_id={seed.world.api_inbox_id}", headers=h).json()["data"]["payload"]
    assert [c["id"] for c in only] == [seed.api_conversation]
    assert client.get(f"{A}/conversations?status=open", headers=h).json()["data"]["payload"] == []
    assert client.get(f"{A}/conversations?status=bogus", headers=h).status_code == 422
    assert client.get(f"{A}/conversations/meta?status=all", headers=h).json()["meta"]["all_count"] == 2


def test_create_conversation_in_api_inbox_is_pending_with_a_bot(client: TestClient, seed: Seed) -> None:
    h = admin(seed)
    contact = client.post(f"{A}/contacts", headers=h, json={"name": "Kim", "inbox_id": seed.world.api_inbox_id}).json()["payload"]
    r = client.post(
        f"{A}/conversations", headers=h,
        json={"inbox_id": str(seed.world.api_inbox_id), "contact_id": contact["contact"]["id"], "status": "open"},
    )
    assert r.status_code == 200
    assert r.json()["status"] == "pending"  # forced: the inbox has an active bot
    # With a first message written by a human, the human has taken over.
    r = client.post(
        f"{A}/conversations", headers=h,
        json={"inbox_id": seed.world.api_inbox_id, "contact_id": contact["contact"]["id"], "message": {"content": "Hi Kim"}},
    )
    assert r.json()["status"] == "open" and r.json()["messages"][0]["content"] == "Hi Kim"
    assert r.json()["meta"]["assignee"]["email"] == "admin@acme.test"
    web = client.post(f"{A}/conversations", headers=h, json={"inbox_id": seed.world.web_inbox_id, "contact_id": contact["contact"]["id"]})
    assert web.status_code == 422 and "API inboxes" in web.json()["error"]
    assert client.post(f"{A}/conversations", headers=h, json={"contact_id": 1}).status_code == 422


def test_status_routes(client: TestClient, seed: Seed) -> None:
    h = admin(seed)
    c = seed.web_conversation
    r = client.patch(f"{A}/conversations", headers=h, json={"id": c, "status": "resolved"})
    assert r.json() == {"meta": {}, "payload": {"success": True, "conversation_id": c, "current_status": "resolved", "snoozed_until": None}}
    r = client.post(f"{A}/conversations/{c}/toggle_status", headers=h)  # toggle: resolved -> open
    assert r.json()["payload"]["current_status"] == "open"
    r = client.patch(f"{A}/conversations/{c}", headers=h, json={"priority": "high", "custom_attributes": {"plan": "pro"}})
    assert r.json()["priority"] == "high" and r.json()["custom_attributes"] == {"plan": "pro"}
    until = 4_102_444_800
    r = client.post(f"{A}/conversations/{c}/toggle_status/", headers=h, json={"status": "snoozed", "snoozed_until": until})
    assert r.json()["payload"]["snoozed_until"] == until
    assert client.post(f"{A}/conversations/{c}/toggle_status", headers=h, json={"status": "later"}).status_code == 422
    assert client.patch(f"{A}/conversations", headers=h, json={"id": 999, "status": "open"}).status_code == 404


def test_assignments(client: TestClient, seed: Seed) -> None:
    h = admin(seed)
    c = seed.web_conversation
    r = client.post(f"{A}/conversations/{c}/assignments", headers=h, json={"assignee_id": seed.world.agent_id})
    assert r.status_code == 200 and r.json()["email"] == "ann@acme.test"
    assert client.get(f"{A}/conversations/{c}", headers=h).json()["status"] == "open"
    r = client.patch(f"{A}/conversations/{c}/assignments", headers=h, json={"assignee_id": seed.other_bot_id, "assignee_type": "AgentBot"})
    assert r.status_code == 200 and r.json()["name"] == "ApiBot"
    shown = client.get(f"{A}/conversations/{c}", headers=h).json()
    assert shown["status"] == "pending" and shown["meta"]["assignee_type"] == "AgentBot"
    r = client.post(f"{A}/conversations/{c}/assignments", headers=h, json={"assignee_id": 999})
    assert r.status_code == 404
    assert client.post(f"{A}/conversations/{c}/assignments", headers=h, json={"assignee_id": 1, "assignee_type": "Team"}).status_code == 422


def test_messages(client: TestClient, seed: Seed) -> None:
    h = admin(seed)
    c = seed.web_conversation
    r = client.post(f"{A}/conversations/{c}/messages", headers=h, json={"content": "note", "private": "true", "echo_id": "tmp-1"})
    assert r.status_code == 200
    body = r.json()
    assert body["private"] is True and body["echo_id"] == "tmp-1" and body["message_type"] == 1 and isinstance(body["created_at"], int)
    r = client.post(f"{A}/conversations/{c}/messages", headers=h, data={"content": "from a form", "private": "false"})
    assert r.status_code == 200 and r.json()["content"] == "from a form"
    r = client.post(f"{A}/conversations/{c}/messages", headers=h, files={"content": (None, "multipart")})
    assert r.status_code == 200 and r.json()["content"] == "multipart"
    for bad in ({"content": "x", "message_type": "shout"}, {"content": "x" * 150_001}, {"content": ""}, {"content": "x", "private": "maybe"}):
        r = client.post(f"{A}/conversations/{c}/messages", headers=h, json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert isinstance(r.json()["error"], str)
    r = client.post(f"{A}/conversations/{c}/messages", headers={**h, "content-type": "application/json"}, content=b"{not json")
    assert r.status_code == 422
    incoming = client.post(f"{A}/conversations/{c}/messages", headers=h, json={"content": "x", "message_type": "incoming"})
    assert incoming.status_code == 422 and "Api inboxes" in incoming.json()["error"]
    listed = client.get(f"{A}/conversations/{c}/messages", headers=h).json()
    assert listed["meta"]["contact"]["name"] == "Jane"
    ids = [m["id"] for m in listed["payload"]]
    older = client.get(f"{A}/conversations/{c}/messages?before={ids[-1]}", headers=h).json()["payload"]
    assert [m["id"] for m in older] == ids[:-1]
    mid = body["id"]
    r = client.patch(f"{A}/conversations/{c}/messages/{mid}", headers=h, json={"content": "edited"})
    assert r.json()["content"] == "edited"
    r = client.patch(f"{A}/conversations/{c}/messages/{mid}", headers=h, json={"status": "read"})
    assert r.json()["status"] == "read"
    r = client.delete(f"{A}/conversations/{c}/messages/{mid}", headers=h)
    assert r.json()["content_attributes"]["deleted"] is True
    assert client.delete(f"{A}/conversations/{c}/messages/999999", headers=h).status_code == 404


def test_bots_crud_and_token_reset(client: TestClient, seed: Seed) -> None:
    h = admin(seed)
    created = client.post(f"{A}/agent_bots", headers=h, json={"name": "Helper", "outgoing_url": "https://127.0.0.1:9/h"}).json()
    bid = created["id"]
    assert client.get(f"{A}/agent_bots/{bid}", headers=h).json()["name"] == "Helper"
    assert client.put(f"{A}/agent_bots/{bid}", headers=h, json={"description": "d"}).json()["description"] == "d"
    reset = client.post(f"{A}/agent_bots/{bid}/reset_access_token", headers=h).json()
    assert reset["access_token"] != created["access_token"]
    c = seed.web_conversation
    old = client.post(f"{A}/conversations/{c}/messages", headers=seed.h(created["access_token"]), json={"content": "x"})
    assert old.status_code == 401
    secret = client.post(f"{A}/agent_bots/{bid}/reset_secret", headers=h).json()["secret"]
    assert secret != created["secret"]
    for bad in ({"name": "X", "outgoing_url": "http://example.com/h"}, {"name": "X", "outgoing_url": "not a url"},
                {"name": ""}, {"name": "AI", "bot_type": "ai", "bot_config": {"temperature": 3}}):
        r = client.post(f"{A}/agent_bots", headers=h, json=bad)
        assert r.status_code == 422, (bad, r.text)
    taken = client.post(f"{A}/agent_bots", headers=h, json={"name": "Helper", "outgoing_url": "https://127.0.0.1:9"})
    assert taken.status_code == 409 and taken.json()["field"] == "name"
    assert client.delete(f"{A}/agent_bots/{bid}", headers=h).status_code == 200
    assert client.get(f"{A}/agent_bots/{bid}", headers=h).status_code == 404


def test_inboxes_and_bot_binding(client: TestClient, seed: Seed) -> None:
    h = admin(seed)
    inbox = client.post(f"{A}/inboxes", headers=h, json={"name": "Email", "channel": {"type": "api"}}).json()
    iid = inbox["id"]
    assert client.get(f"{A}/inboxes/{iid}/agent_bot", headers=h).json() == {"agent_bot": {}}
    r = client.post(f"{A}/inboxes/{iid}/set_agent_bot", headers=h, json={"agent_bot": seed.world.bot_id})
    assert r.status_code == 200 and r.json() == {}
    assert client.get(f"{A}/inboxes/{iid}/agent_bot", headers=h).json()["agent_bot"]["id"] == seed.world.bot_id
    assert client.get(f"{A}/inboxes/{iid}", headers=h).json()["agent_bot_id"] == seed.world.bot_id
    client.post(f"{A}/inboxes/{iid}/set_agent_bot", headers=h, json={"agent_bot": None})
    assert client.get(f"{A}/inboxes/{iid}/agent_bot", headers=h).json() == {"agent_bot": {}}
    assert len(client.get(f"{A}/inboxes", headers=h).json()["payload"]) == 3
    assert client.post(f"{A}/inboxes", headers=h, json={"name": "X", "channel": {"type": "carrier pigeon"}}).status_code == 422
    assert client.post(f"{A}/inboxes/{iid}/set_agent_bot", headers=h, json={"agent_bot": 999}).status_code == 404


def test_contacts(client: TestClient, seed: Seed) -> None:
    h = admin(seed)
    r = client.post(f"{A}/contacts", headers=h, json={"name": "Kim", "email": "kim@example.com", "inbox_id": seed.world.api_inbox_id, "source_id": "kim-1"})
    payload = r.json()["payload"]
    assert payload["contact_inbox"]["source_id"] == "kim-1"
    assert client.get(f"{A}/contacts/{payload['contact']['id']}", headers=h).json()["payload"]["email"] == "kim@example.com"
    assert client.get(f"{A}/contacts/999", headers=h).status_code == 404


def test_public_api(client: TestClient, seed: Seed) -> None:
    base = f"/public/api/v1/inboxes/{seed.web_identifier}"
    contact = client.post(f"{base}/contacts", json={"name": "Lee"}).json()
    sid = contact["source_id"]
    conv = client.post(f"{base}/contacts/{sid}/conversations").json()
    assert conv["status"] == "pending"
    msg = client.post(f"{base}/contacts/{sid}/conversations/{conv['id']}/messages", json={"content": "hi", "echo_id": "e1"}).json()
    assert msg["message_type"] == 0 and msg["echo_id"] == "e1"
    assert [m["content"] for m in client.get(f"{base}/contacts/{sid}/conversations/{conv['id']}/messages").json()] == ["hi"]
    assert len(client.get(f"{base}/contacts/{sid}/conversations").json()) == 1
    # The customer answers a question put to them; never their own message, nor a private note.
    bot = seed.h(seed.world.bot_token)
    question = client.post(f"{A}/conversations/{conv['id']}/messages", headers=bot, json={
        "content": "Pick one", "content_type": "input_select", "content_attributes": {"items": [{"title": "A", "value": "a"}]}}).json()
    note = client.post(f"{A}/conversations/{conv['id']}/messages", headers=bot, json={"content": "VIP customer", "private": True}).json()
    r = client.patch(f"{base}/contacts/{sid}/conversations/{conv['id']}/messages/{question['id']}", json={"submitted_values": [{"value": "a"}]})
    assert r.json()["content_attributes"]["submitted_values"] == [{"value": "a"}]
    for other in (msg["id"], note["id"]):
        r = client.patch(f"{base}/contacts/{sid}/conversations/{conv['id']}/messages/{other}", json={"submitted_values": {}})
        assert r.status_code == 404 and "VIP" not in r.text
    assert client.post(f"{base}/contacts/{sid}/events", json={"name": "webwidget.triggered", "event_info": {"referer": "x"}}).status_code == 200
    assert client.post(f"{base}/contacts/nope/conversations").status_code == 404
    assert client.post("/public/api/v1/inboxes/nope/contacts", json={}).status_code == 404
    assert client.post(f"{base}/contacts/{sid}/conversations/{conv['id']}/messages", json={"content": ""}).status_code == 422


def test_weird_input_never_500s(client: TestClient, seed: Seed) -> None:
    h = admin(seed)
    cases = [
        ("post", f"{A}/conversations/abc/messages", {"content": "x"}),
        ("post", f"{A}/conversations/99999999999999999999/messages", {"content": "x"}),
        ("post", f"{A}/conversations/1/messages", ["not", "an", "object"]),
        ("post", f"{A}/conversations/1/messages", {"content": {"nested": True}}),
        ("post", f"{A}/conversations/1/messages", {"content": "x", "content_attributes": "{broken"}),
        ("post", f"{A}/conversations/1/messages", {"content": "x", "content_type": "hologram"}),
        ("patch", f"{A}/conversations", {"id": "x"}),
        ("post", f"{A}/conversations/1/assignments", {"assignee_id": "abc"}),
        ("post", f"{A}/agent_bots", {"name": "x" * 1000}),
        ("post", f"{A}/inboxes/1/set_agent_bot", {}),
        ("get", "/api/v1/accounts/999/conversations", None),
        ("get", f"{A}/nowhere", None),
    ]
    for method, url, body in cases:
        r = client.request(method, url, headers=h, json=body)
        assert 400 <= r.status_code < 500, (url, body, r.status_code, r.text)
        assert isinstance(r.json()["error"], str)


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages", "/platform/api/v1/agent_bots",
                 "/public/api/v1/inboxes/{inbox_identifier}/contacts"):
        assert path in paths
    body = paths["/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body and "application/json" in body


def test_deliveries_admin_api(client: TestClient, seed: Seed) -> None:
    h = admin(seed)
    rows = client.get(f"{A}/deliveries", headers=h).json()
    assert rows and rows[0]["status"] == "pending" and rows[0]["webhook_id"].startswith("msg_")
    one = client.get(f"{A}/deliveries/{rows[0]['id']}", headers=h).json()
    assert one["attempt_log"] == []
    assert client.post(f"{A}/deliveries/{rows[0]['id']}/retry", headers=h).json() == {"retried": 1}
    assert client.post(f"{A}/deliveries/retry", headers=h, json={"failed": True}).json() == {"retried": 0, "considered": 0}
    assert client.get(f"{A}/deliveries?status=bogus", headers=h).status_code == 422
    assert client.get(f"{A}/deliveries/99999", headers=h).status_code == 404
    assert client.get(f"{A}/deliveries", headers=seed.h(seed.world.agent_token)).status_code == 403
    assert client.get(f"{A}/deliveries", headers=seed.h(seed.world.bot_token)).status_code == 401


def test_taken_names_are_409(client: TestClient, seed: Seed) -> None:
    h = seed.h(seed.world.admin_token)
    first = client.post(f"{A}/inboxes", json={"name": "Support"}, headers=h)
    assert first.status_code == 200
    again = client.post(f"{A}/inboxes", json={"name": "Support"}, headers=h)
    assert again.status_code == 409 and "already exists" in again.json()["error"]
    bot = client.post(f"{A}/agent_bots", json={"name": "OrderBot", "outgoing_url": "https://127.0.0.1:9/h"}, headers=h)
    assert bot.status_code == 409


def test_a_bots_outcomes_and_the_rating_through_the_api(client: TestClient, seed: Seed) -> None:
    """The bot answers and resolves through the API; the inbox asks for a rating, which the
    customer gives through the public API; the bot's stats show both."""
    h, bot = admin(seed), seed.h(seed.world.bot_token)
    inbox = client.patch(f"{A}/inboxes/{seed.world.web_inbox_id}", headers=h, json={"csat_survey_enabled": True})
    assert inbox.status_code == 200 and inbox.json()["csat_survey_enabled"] is True
    assert client.patch(f"{A}/inboxes/{seed.world.web_inbox_id}", headers=h, json={"csat_survey_enabled": "maybe"}).status_code == 422
    # The customer's side is the public API.
    pub = f"/public/api/v1/inboxes/{seed.web_identifier}"
    source = client.post(f"{pub}/contacts", json={"name": "Rae"}).json()["source_id"]
    conv = client.post(f"{pub}/contacts/{source}/conversations", json={}).json()["id"]
    assert client.post(f"{pub}/contacts/{source}/conversations/{conv}/messages", json={"content": "Where is 4521?"}).status_code == 200
    assert client.post(f"{A}/conversations/{conv}/messages", headers=bot, json={"content": "It ships today."}).status_code == 200
    assert client.post(f"{A}/conversations/{conv}/toggle_status", headers=bot, json={"status": "resolved"}).status_code == 200
    thread = client.get(f"{pub}/contacts/{source}/conversations/{conv}/messages").json()
    (survey,) = [m for m in thread if m["content_type"] == "input_csat"]
    bad = client.patch(f"{pub}/contacts/{source}/conversations/{conv}/messages/{survey['id']}",
                       json={"submitted_values": {"csat_survey_response": {"rating": 9}}})
    assert bad.status_code == 422 and bad.json()["field"] == "rating"
    good = client.patch(f"{pub}/contacts/{source}/conversations/{conv}/messages/{survey['id']}",
                        json={"submitted_values": {"csat_survey_response": {"rating": 5, "feedback_message": "fast"}}})
    assert good.status_code == 200, good.text
    stats = client.get(f"{A}/agent_bots/{seed.world.bot_id}/stats", headers=h, params={"by_day": "true"})
    assert stats.status_code == 200, stats.text
    o = stats.json()["outcomes"]
    assert o["resolved_by_bot"] == 1 and o["conversations"] == 1 and o["median_first_answer_s"] is not None
    assert o["csat"]["bot_resolved"]["average"] == 5.0 and len(stats.json()["days"]) == 1
    assert client.get(f"{A}/agent_bots/{seed.world.bot_id}/stats", headers=h, params={"since": "nan"}).status_code == 422
    assert client.get(f"{A}/agent_bots/{seed.world.bot_id}/stats", headers=h, params={"since": 100, "until": 50}).status_code == 422
    assert client.get(f"{A}/agent_bots/{seed.world.bot_id}/stats", headers=seed.h(seed.world.agent_token)).status_code == 403
    assert client.get(f"{A}/agent_bots/999/stats", headers=h).status_code == 404

