"""The widget against what a hostile page or client tries: registering a user's identifier ahead of
the user, malformed tokens and event ids, floods of visitors, typing and events, too many
streams, a replay of a message deleted since, a poisoned CORS cache, attributes a visitor must
not see. The streams are read from a real uvicorn on 127.0.0.1 (an in-process client cannot
stream a response that never ends)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from ndoto_cli.core.actors import Actor
from ndoto_cli.core.db import Database
from ndoto_cli.core.models import Contact, Event, Inbox, User
from ndoto_cli.core.services import inboxes, messages
from ndoto_cli.core.settings import Settings
from ndoto_cli.server.app import create_app
from tests.conftest import make_world
from tests.widget.helpers import count, with_db

W = "/api/v1/widget"


@dataclass
class Live:
    base: str
    app: Any
    settings: Settings
    token: str
    secret: str
    inbox_id: int
    account_id: int
    admin_id: int

    def run(self, fn: Any) -> Any:
        return with_db(self.settings, fn)

    def count(self, model: Any, *where: Any) -> int:
        return count(self.settings, model, *where)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _world(settings: Settings) -> tuple[Any, Inbox]:
    async def build() -> Any:
        db = await Database(settings).open()
        try:
            world = await make_world(db)
            async with db.read() as s:
                return world, await s.get(Inbox, world.web_inbox_id)
        finally:
            await db.close()

    return asyncio.run(build())


@pytest.fixture
def live(ndoto_home: Path) -> Iterator[Live]:
    settings = Settings(home=ndoto_home, new_contacts_per_minute=1000, public_requests_per_minute=100_000)
    world, inbox = _world(settings)
    app = create_app(settings, start_dispatcher=False)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):  # up within 20 s
        if server.started:
            break
        time.sleep(0.1)
    try:
        yield Live(f"http://127.0.0.1:{port}", app, settings, inbox.identifier, inbox.hmac_token, inbox.id, world.account_id, world.admin_id)
    finally:
        server.should_exit = True
        app.state.widget_hub.close_all()
        thread.join(timeout=20)


def _visitor(client: httpx.Client, live: Live) -> str:
    return client.post(f"{W}/session", params={"website_token": live.token}, json={}).json()["token"]


def _read_events(client: httpx.Client, url: str, want: int, *, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The first ``want`` events of a stream (bounded: the read times out if they never come)."""
    got: list[dict[str, Any]] = []
    with client.stream("GET", url, headers=headers or {}, timeout=httpx.Timeout(10.0)) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if line.startswith("data:"):
                got.append(json.loads(line[5:]))
                if len(got) >= want:
                    break
    return got


def _agent(live: Live, display_id: int, content: str, **extra: Any) -> int:
    async def go(db: Database) -> int:
        async with db.read() as s:
            admin = await s.get(User, live.admin_id)
        done = await db.write(lambda s: messages.create_message(
            s, account_id=live.account_id, display_id=display_id, actor=Actor.of_user(admin), content=content, **extra))
        return int(done.message.id)

    return live.run(go)


def test_nobody_registers_a_users_identifier_ahead_of_the_user(live: Live) -> None:
    """The public API takes an identifier only with its identifier_hash: otherwise whoever named
    "user-42" first would read user-42's conversations once the real user signs in."""
    public = f"{live.base}/public/api/v1/inboxes/{live.token}/contacts"
    with httpx.Client() as client:
        bare = client.post(public, json={"name": "Mallory", "identifier": "user-42"})
        assert bare.status_code == 422 and "identifier_hash" in bare.json()["error"]
        wrong = client.post(public, json={"name": "Mallory", "identifier": "user-42", "identifier_hash": "ab" * 32})
        assert wrong.status_code == 401
        assert live.count(Contact, Contact.identifier == "user-42") == 0
        right = hmac.new(live.secret.encode(), b"user-42", hashlib.sha256).hexdigest()
        made = client.post(public, json={"name": "Nia", "identifier": "user-42", "identifier_hash": right})
        assert made.status_code == 200 and made.json()["identifier"] == "user-42"
        # The widget's verified user is that contact; a second verified client gets a link of its own.
        again = client.post(public, json={"identifier": "user-42", "identifier_hash": right}).json()
        assert again["id"] == made.json()["id"] and again["source_id"] != made.json()["source_id"]


def test_malformed_tokens_and_event_ids_are_refused_not_errors(live: Live) -> None:
    with httpx.Client(base_url=live.base) as client:
        visitor = _visitor(client, live)
        for bad in ("v1.1.\u00b2.x", f"v1.1.{'9' * 400}.{'x' * 43}", "v1.1.1." + "A" * 43, visitor + "x"):
            assert client.get(f"{W}/conversation", params={"website_token": live.token}, headers={"X-Ndoto-Visitor": bad.encode()}).status_code == 401
            assert client.get(f"{W}/stream", params={"website_token": live.token, "token": bad}).status_code == 401
            assert client.post(f"{W}/session", params={"website_token": live.token}, json={},
                               headers={"X-Ndoto-Visitor": bad.encode()}).status_code == 200  # starts afresh
        stream = f"{W}/stream?website_token={live.token}&token={visitor}"
        for event_id in ("\u00b2", "9" * 32, "-1", "1e9"):
            with client.stream("GET", stream, headers={"Last-Event-ID": event_id.encode()}, timeout=10) as r:
                assert r.status_code == 200
                next(r.iter_lines())
    for _ in range(100):  # the streams are gone, and so are their subscriptions (bounded wait)
        if live.app.state.widget_hub.connections == 0:
            break
        time.sleep(0.05)
    assert live.app.state.widget_hub.connections == 0


def test_a_replay_shows_a_message_as_it_is_now(live: Live) -> None:
    with httpx.Client(base_url=live.base) as client:
        visitor = _visitor(client, live)
        display_id = client.post(f"{W}/messages", params={"website_token": live.token}, json={"content": "hello"},
                                 headers={"X-Ndoto-Visitor": visitor}).json()["conversation_id"]
        wrong = _agent(live, display_id, "SECRET meant for another customer",
                       content_attributes={"external_error": "smtp said no", "items": [{"title": "Yes", "value": "yes"}]})

        async def delete(db: Database) -> None:
            async with db.read() as s:
                admin = await s.get(User, live.admin_id)
            await db.write(lambda s: messages.update_message(
                s, account_id=live.account_id, display_id=display_id, message_id=wrong, actor=Actor.of_user(admin), delete=True))

        live.run(delete)
        events = _read_events(client, f"{W}/stream?website_token={live.token}&token={visitor}&after=0", 4)
        shown = [e["message"] for e in events if e["type"] == "message" and e["message"]["id"] == wrong]
        assert shown and all(m["content"] == "This message was deleted" for m in shown)
        assert all("external_error" not in m["content_attributes"] for m in shown)
        thread = client.get(f"{W}/conversation", params={"website_token": live.token}, headers={"X-Ndoto-Visitor": visitor}).json()
        assert "SECRET" not in json.dumps(thread) and "external_error" not in json.dumps(thread)


def test_one_visitor_opens_a_bounded_number_of_streams(live: Live) -> None:
    with httpx.Client(base_url=live.base) as client:
        visitor = _visitor(client, live)
        url = f"{live.base}{W}/stream?website_token={live.token}&token={visitor}"
        opened = []
        try:
            for _ in range(10):
                ctx = client.stream("GET", url, timeout=10)
                response = ctx.__enter__()
                assert response.status_code == 200
                lines = response.iter_lines()  # kept: a dropped line iterator closes its response
                next(lines)
                opened.append((ctx, lines))
            for _ in range(100):  # every stream has subscribed (bounded wait)
                if live.app.state.widget_hub.streams_of(int(visitor.split(".")[2])) == 10:
                    break
                time.sleep(0.05)
            refused = client.get(url)
            assert refused.status_code == 429 and "live streams" in refused.json()["error"]
        finally:
            for ctx, _lines in opened:
                ctx.__exit__(None, None, None)


def test_floods_of_visitors_typing_and_events_write_little(ndoto_home: Path) -> None:
    settings = Settings(home=ndoto_home, new_contacts_per_minute=3, public_requests_per_minute=100_000)
    _, inbox = _world(settings)
    token = inbox.identifier
    with TestClient(create_app(settings, start_dispatcher=False)) as client:
        site = {"website_token": token}
        # A refused origin writes nothing.
        asyncio.run(_update(settings, inbox, allowed_origins=["https://shop.test"]))
        before = count(settings, Contact)
        assert client.post(f"{W}/session", params=site, json={}, headers={"origin": "https://evil.test"}).status_code == 403
        assert count(settings, Contact) == before
        # New visitors per address are bounded; a known visitor is not counted.
        codes = [client.post(f"{W}/session", params=site, json={}).status_code for _ in range(4)]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429
        visitor = client.post(f"{W}/user", params=site, json={"identifier": "x", "identifier_hash": hmac.new(
            inbox.hmac_token.encode(), b"x", hashlib.sha256).hexdigest()}).json()["token"]  # verified: not counted
        headers = {"X-Ndoto-Visitor": visitor}
        assert client.post(f"{W}/session", params=site, json={}, headers=headers).status_code == 200
        client.post(f"{W}/messages", params=site, json={"content": "hi"}, headers=headers)
        typing_before = count(settings, Event, Event.name.like("conversation_typing%"))  # type: ignore[attr-defined]
        for _ in range(20):
            client.post(f"{W}/typing", params=site, json={"on": True}, headers=headers)
        assert count(settings, Event, Event.name.like("conversation_typing%")) == typing_before + 1  # type: ignore[attr-defined]
        client.post(f"{W}/typing", params=site, json={"on": False}, headers=headers)
        assert count(settings, Event, Event.name.like("conversation_typing%")) == typing_before + 2  # type: ignore[attr-defined]
        for _ in range(10):
            client.post(f"{W}/events", params=site, json={"name": "webwidget.triggered"}, headers=headers)
        assert count(settings, Event, Event.name == "webwidget_triggered") == 1


def test_the_cors_answer_cannot_be_poisoned_or_confused(live: Live) -> None:
    asyncio.run(_update(live.settings, None, inbox_id=live.inbox_id, account_id=live.account_id, allowed_origins=["https://shop.test"]))
    with httpx.Client(base_url=live.base) as client:
        # A request that claims to be the server itself (Host) does not make evil.test allowed for others.
        client.get(f"{W}/config", params={"website_token": live.token}, headers={"host": "evil.test", "origin": "http://evil.test"})
        r = client.get(f"{W}/config", params={"website_token": live.token}, headers={"origin": "http://evil.test"})
        assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
        twice = client.get(f"{W}/config?website_token={live.token}&website_token=other", headers={"origin": "https://shop.test"})
        assert "access-control-allow-origin" not in twice.headers
        ok = client.get(f"{W}/config", params={"website_token": live.token}, headers={"origin": "https://shop.test"})
        assert ok.headers["access-control-allow-origin"] == "https://shop.test"
        assert "inbox" not in ok.json()  # the inbox's internal name is not the visitor's business


def test_allowed_origins_are_stored_as_browsers_send_them(ndoto_home: Path) -> None:
    settings = Settings(home=ndoto_home)
    _w, inbox = _world(settings)
    updated = asyncio.run(_update(settings, inbox, allowed_origins=["https://Shop.test:443/", "http://127.0.0.1:8080", "http://[::1]:80"]))
    assert updated.widget["allowed_origins"] == ["http://127.0.0.1:8080", "http://[::1]", "https://shop.test"]
    from ndoto_cli.core.errors import Invalid

    for bad in ("https://user@shop.test", "https://shop.test:99999", "ftp://shop.test", "https://shop.test/path", "shop.test"):
        with pytest.raises(Invalid):
            asyncio.run(_update(settings, inbox, allowed_origins=[bad]))


async def _update(settings: Settings, inbox: Inbox | None, *, inbox_id: int | None = None, account_id: int | None = None, **changes: Any) -> Any:
    db = await Database(settings).open()
    try:
        return await db.write(lambda s: inboxes.update_inbox(
            s, account_id=account_id or inbox.account_id, inbox_id=inbox_id or inbox.id, **changes))  # type: ignore[union-attr]
    finally:
        await db.close()
