"""What a hostile or careless user tried, item by item: each answered 4xx and nothing broke."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ndoto_cli.core.settings import Settings
from ndoto_cli.server.app import create_app
from tests.server.conftest import Seed
from tests.sql import run_sql

A = "/api/v1/accounts/1"


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def admin(seed: Seed) -> dict[str, str]:
    return seed.h(seed.world.admin_token)


# -- 2. Deeply nested JSON ---------------------------------------------------------------------------


def test_deep_attributes_are_refused_naming_the_field_and_the_account_keeps_working(client: TestClient, seed: Seed) -> None:
    public = f"/public/api/v1/inboxes/{seed.api_identifier}/contacts"
    r = client.post(public, json={"name": "Mallory", "custom_attributes": deep(300)})
    assert r.status_code == 422 and r.json()["field"] == "custom_attributes" and "nested" in r.json()["error"]
    assert client.post(public, json={"name": "Ok", "custom_attributes": deep(16)}).status_code == 200  # at the limit
    bot = seed.h(seed.world.bot_token)
    r = client.post(f"{A}/conversations/{seed.web_conversation}/messages", headers=bot, json={"content": "x", "content_attributes": deep(254)})
    assert r.status_code == 422 and r.json()["field"] == "content_attributes"
    r = client.patch(f"{A}/conversations/{seed.web_conversation}", headers=admin(seed), json={"custom_attributes": deep(40)})
    assert r.status_code == 422 and r.json()["field"] == "custom_attributes"
    r = client.patch(f"{A}/conversations/{seed.web_conversation}", headers=admin(seed), json={"custom_attributes": {"k": "x" * 20_000}})
    assert r.status_code == 422 and "bytes" in r.json()["error"]
    assert client.get(f"{A}/conversations?status=all", headers=admin(seed)).status_code == 200
    assert client.get(f"{A}/conversations/{seed.web_conversation}/messages", headers=admin(seed)).status_code == 200


@pytest.mark.parametrize("levels", [500, 5_000, 100_000])
def test_a_deep_body_is_a_422_on_every_route(client: TestClient, seed: Seed, levels: int) -> None:
    body = '{"content": "x", "a": ' + "[" * levels + "]" * levels + "}"
    for path in (f"{A}/conversations/{seed.web_conversation}/messages", f"{A}/contacts", f"{A}/agent_bots"):
        r = client.post(path, headers={**admin(seed), "content-type": "application/json"}, content=body)
        assert r.status_code == 422 and "nested" in r.json()["error"], (path, r.text)
    public = f"/public/api/v1/inboxes/{seed.api_identifier}/contacts"
    r = client.post(public, headers={"content-type": "application/json"}, content=body)
    assert r.status_code == 422


def _store_deep_rows(home: Path, seed: Seed) -> None:
    """Rows written before the limits existed (or by hand): 300 and 5,000 levels deep."""
    run_sql(home, "UPDATE contacts SET custom_attributes = :v WHERE name = 'Jane'", {"v": json.dumps(deep(300))})
    too_deep_for_any_parser = '{"a":' * 5000 + "{}" + "}" * 5000
    run_sql(home, "UPDATE conversations SET additional_attributes = :v WHERE display_id = :d", {"v": too_deep_for_any_parser, "d": seed.web_conversation})
    run_sql(home, "UPDATE messages SET content_attributes = :v WHERE id = (SELECT min(id) FROM messages)", {"v": json.dumps(deep(300))})


def test_reading_never_fails_on_what_is_already_stored(seed: Seed, ndoto_home: Path) -> None:
    _store_deep_rows(ndoto_home, seed)
    app = create_app(Settings(home=ndoto_home), start_dispatcher=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        h = admin(seed)
        listing = client.get(f"{A}/conversations?status=all", headers=h)
        assert listing.status_code == 200
        web = next(c for c in listing.json()["data"]["payload"] if c["id"] == seed.web_conversation)
        assert "_ndoto_error" in web["meta"]["sender"]["custom_attributes"]
        assert "_ndoto_error" in web["additional_attributes"]
        assert client.get(f"{A}/conversations/{seed.web_conversation}/messages", headers=h).status_code == 200
        assert client.get(f"{A}/conversations/{seed.web_conversation}", headers=h).status_code == 200
        contact_id = web["meta"]["sender"]["id"]
        assert client.get(f"{A}/contacts/{contact_id}", headers=h).status_code == 200
        public = f"/public/api/v1/inboxes/{seed.web_identifier}"
        assert client.post(f"{public}/contacts", json={"name": "x"}).status_code == 200


def test_the_cli_reads_what_is_already_stored(seed: Seed, ndoto_home: Path) -> None:
    from typer.testing import CliRunner

    from ndoto_cli.commands.app import app

    _store_deep_rows(ndoto_home, seed)
    runner = CliRunner()
    for args in (["conversations", "list"], ["conversations", "show", str(seed.web_conversation)],
                 ["conversations", "show", str(seed.web_conversation), "--json"], ["conversations", "list", "--json"]):
        result = runner.invoke(app, [*args, "--account", "1"])
        assert result.exit_code == 0 and "Traceback" not in result.output, (args, result.output)


async def test_the_console_reads_what_is_already_stored(seed: Seed, ndoto_home: Path) -> None:
    from ndoto_cli.tui.app import InboxApp

    _store_deep_rows(ndoto_home, seed)
    app = InboxApp(Settings(home=ndoto_home), poll_interval=0.2, account="1")
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await app.show_thread(seed.web_conversation)
        await pilot.pause()
        assert app.current == seed.web_conversation and app.is_running


# -- 3. Body size, auth before the body, field limits, NUL -------------------------------------------


def test_big_bodies_are_413(client: TestClient, seed: Seed) -> None:
    big = b'{"name": "' + b"x" * 1_100_000 + b'"}'
    r = client.post(f"{A}/agent_bots", headers={"content-type": "application/json"}, content=big)
    assert r.status_code == 413
    r = client.post(f"{A}/agent_bots", headers={**admin(seed), "content-type": "application/json"}, content=big)
    assert r.status_code == 413 and "error" in r.json()
    r = client.post(f"/public/api/v1/inboxes/{seed.api_identifier}/contacts", headers={"content-type": "application/json"}, content=big)
    assert r.status_code == 413

    def chunks() -> Any:  # no Content-Length: stopped while it is read
        yield b'{"name": "'
        for _ in range(300):
            yield b"x" * 4096
        yield b'"}'

    r = client.post(f"{A}/agent_bots", headers={**admin(seed), "content-type": "application/json"}, content=chunks())
    assert r.status_code == 413 and "error" in r.json()


async def _asgi_post(app: Any, path: str, headers: list[tuple[bytes, bytes]], body_size: int) -> tuple[int, int]:
    """POST through the ASGI interface, counting how much of the body the app asked for."""
    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": b"{" + b" " * (body_size - 2) + b"}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8787), "headers": [(b"content-type", b"application/json"), *headers],
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, asked


def test_the_token_is_checked_before_the_body_is_read(client: TestClient, seed: Seed) -> None:
    app = client.app
    status, asked = client.portal.call(_asgi_post, app, f"{A}/agent_bots", [(b"content-length", b"1000")], 1000)
    assert status == 401 and asked == 0  # not a byte read
    status, asked = client.portal.call(_asgi_post, app, f"{A}/agent_bots", [(b"api_access_token", b"ndu_forged")], 1000)
    assert status == 401 and asked == 0
    status, asked = client.portal.call(_asgi_post, app, "/platform/api/v1/agent_bots", [(b"content-length", b"1000")], 1000)
    assert status == 401 and asked == 0
    # Declared bigger than the limit: 413 at once, whoever asks, still without reading.
    status, asked = client.portal.call(_asgi_post, app, f"{A}/agent_bots", [(b"content-length", b"50000000")], 1000)
    assert status == 413 and asked == 0
    token = seed.world.admin_token.encode()
    status, asked = client.portal.call(_asgi_post, app, f"{A}/agent_bots", [(b"api_access_token", token), (b"content-length", b"50000000")], 1000)
    assert status == 413


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x" * 256}, "name"),
        ({"name": "ok", "email": "e" * 251 + "@x.io"}, "email"),
        ({"name": "ok", "identifier": "i" * 256}, "identifier"),
        ({"name": "ok", "phone_number": "1" * 256}, "phone_number"),
        ({"name": "a\u0000b"}, "name"),
        ({"name": "ok", "custom_attributes": {"k": "nul\u0000inside"}}, "custom_attributes"),
        ({"name": "ok", "custom_attributes": {"nul\u0000key": 1}}, "custom_attributes"),
    ],
)
def test_public_contact_fields_have_limits(client: TestClient, seed: Seed, body: dict[str, Any], field: str) -> None:
    r = client.post(f"/public/api/v1/inboxes/{seed.api_identifier}/contacts", json=body)
    assert r.status_code == 422, r.text
    assert field in r.text


def test_nul_and_length_limits_on_messages_and_bots(client: TestClient, seed: Seed) -> None:
    h = admin(seed)
    conv = f"{A}/conversations/{seed.web_conversation}/messages"
    assert client.post(conv, headers=h, json={"content": "hi\u0000there"}).status_code == 422
    assert client.post(conv, headers=h, json={"content": "x" * 150_001}).status_code == 422
    assert client.post(conv, headers=h, json={"content": "x" * 150_000}).status_code == 200
    assert client.post(f"{A}/agent_bots", headers=h, json={"name": "x" * 256, "outgoing_url": "https://127.0.0.1:9/h"}).status_code == 422
    long_url = "https://127.0.0.1:9/" + "p" * 2100
    assert client.post(f"{A}/agent_bots", headers=h, json={"name": "long", "outgoing_url": long_url}).status_code == 422
    r = client.post(f"{A}/inboxes", headers=h, json={"name": "in\u0000box"})
    assert r.status_code == 422 and "NUL" in r.json()["error"]


# -- 4. Out-of-range numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/conversations?status=all&page=4611686018427387904", None),
        ("GET", "/conversations?status=all&page=99999999999999999999", None),
        ("POST", "/conversations/{c}/toggle_status", '{"status":"snoozed","snoozed_until":1e400}'),
        ("POST", "/conversations/{c}/toggle_status", '{"status":"snoozed","snoozed_until":99999999999999999999}'),
        ("POST", "/agent_bots", '{"name":"t3","bot_type":"ai","bot_config":{"max_exchanges":1180591620717411303424}}'),
        ("POST", "/agent_bots", '{"name":"t4","bot_type":"ai","bot_config":{"temperature":"abc"}}'),
        ("POST", "/agent_bots", '{"name":"t5","bot_type":"ai","bot_config":{"temperature":NaN}}'),
        ("GET", "/conversations/99999999999999999999", None),
        ("GET", "/deliveries?limit=100000000000000000000", None),
        ("POST", "/conversations/{c}/assignments", '{"assignee_id": 4611686018427387904}'),
    ],
)
def test_out_of_range_input_is_a_422_not_a_500(client: TestClient, seed: Seed, method: str, path: str, body: str | None) -> None:
    path = A + path.replace("{c}", str(seed.web_conversation))
    r = client.request(method, path, headers={**admin(seed), "content-type": "application/json"}, content=body)
    assert r.status_code in (404, 422), (path, r.status_code, r.text)
    assert "error" in r.json()


# -- 6. Smaller holes -------------------------------------------------------------------------------


def test_repeated_bad_tokens_are_slowed(seed: Seed, ndoto_home: Path) -> None:
    app = create_app(Settings(home=ndoto_home, auth_failures_per_minute=5), start_dispatcher=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        codes = [client.get(f"{A}/conversations", headers={"api_access_token": f"ndu_guess{i}"}).status_code for i in range(8)]
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
        r = client.get(f"{A}/conversations", headers=admin(seed))
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1  # even a good token waits: no oracle


def test_public_messages_are_rate_limited_per_contact(seed: Seed, ndoto_home: Path) -> None:
    app = create_app(Settings(home=ndoto_home, public_messages_per_minute=3), start_dispatcher=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        base = f"/public/api/v1/inboxes/{seed.api_identifier}/contacts"
        contact = client.post(base, json={"name": "Spammy"}).json()
        conv = client.post(f"{base}/{contact['source_id']}/conversations").json()
        url = f"{base}/{contact['source_id']}/conversations/{conv['id']}/messages"
        codes = [client.post(url, json={"content": f"m{i}"}).status_code for i in range(5)]
        assert codes == [200, 200, 200, 429, 429]


def test_public_requests_are_rate_limited_per_client(seed: Seed, ndoto_home: Path) -> None:
    app = create_app(Settings(home=ndoto_home, public_requests_per_minute=4), start_dispatcher=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        codes = [client.get(f"/public/api/v1/inboxes/{seed.api_identifier}/contacts/nobody").status_code for _ in range(6)]
        assert codes[:4] == [404] * 4 and codes[4:] == [429, 429]


def test_a_conversation_takes_a_bounded_number_of_messages_a_minute(seed: Seed, ndoto_home: Path) -> None:
    app = create_app(Settings(home=ndoto_home, conversation_messages_per_minute=5), start_dispatcher=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        url = f"{A}/conversations/{seed.web_conversation}/messages"  # it holds 1 message already
        codes = [client.post(url, headers=admin(seed), json={"content": f"m{i}", "private": True}).status_code for i in range(6)]
        assert codes == [200, 200, 200, 200, 429, 429]
        r = client.post(url, headers=admin(seed), json={"content": "again", "private": True})
        assert r.status_code == 429 and "too many messages" in r.json()["error"] and r.headers["Retry-After"]


def test_platform_apps_create_system_bots_only(client: TestClient, seed: Seed) -> None:
    h = seed.h(seed.platform_token)
    r = client.post("/platform/api/v1/agent_bots", headers=h, json={"name": "Planted", "account_id": 1, "outgoing_url": "https://127.0.0.1:9/h"})
    assert r.status_code == 422 and r.json()["field"] == "account_id"
    names = [b["name"] for b in client.get(f"{A}/agent_bots", headers=admin(seed)).json()]
    assert "Planted" not in names


def test_a_bot_reads_only_the_inboxes_it_serves(client: TestClient, seed: Seed) -> None:
    h = seed.h(seed.world.bot_token)  # serves the web inbox
    assert client.get(f"{A}/inboxes/{seed.world.web_inbox_id}", headers=h).status_code == 200
    r = client.get(f"{A}/inboxes/{seed.world.api_inbox_id}", headers=h)
    assert r.status_code == 401 and seed.api_identifier not in r.text
