"""The widget's API (``/api/v1/widget``) against the real app and a real SQLite file: who a visitor
is, what it reads and writes, identity verification, origins, headers and limits. The browser
itself is driven in ``test_widget_browser.py``."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ndoto_cli.core.actors import Actor
from ndoto_cli.core.db import Database
from ndoto_cli.core.models import Delivery, Event, Inbox, User
from ndoto_cli.core.services import conversations, inboxes, messages
from ndoto_cli.core.settings import Settings
from ndoto_cli.server.app import create_app
from ndoto_cli.server.widget import STATIC
from tests.conftest import make_world
from tests.widget.helpers import with_db

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"
W = "/api/v1/widget"


@dataclass
class Site:
    client: TestClient
    settings: Settings
    token: str  # the web inbox's website token
    inbox_id: int
    account_id: int
    admin_id: int
    api_token: str  # the admin's

    def get(self, path: str, visitor: str | None = None, **kw: Any) -> Any:
        return self.client.get(f"{W}{path}", params={"website_token": self.token, **kw.pop("params", {})}, headers=self._h(visitor, kw), **kw)

    def post(self, path: str, body: Any = None, visitor: str | None = None, **kw: Any) -> Any:
        return self.client.post(f"{W}{path}", params={"website_token": self.token}, json=body, headers=self._h(visitor, kw), **kw)

    def patch(self, path: str, body: Any = None, visitor: str | None = None, **kw: Any) -> Any:
        return self.client.patch(f"{W}{path}", params={"website_token": self.token}, json=body, headers=self._h(visitor, kw), **kw)

    @staticmethod
    def _h(visitor: str | None, kw: dict[str, Any]) -> dict[str, str]:
        headers = {"user-agent": CHROME, **kw.pop("headers", {})}
        if visitor:
            headers["X-Ndoto-Visitor"] = visitor
        return headers

    def visitor(self) -> str:
        r = self.post("/session", {})
        assert r.status_code == 200, r.text
        return r.json()["token"]

    def run(self, fn: Any) -> Any:
        return with_db(self.settings, fn)


@pytest.fixture
def site(ndoto_home: Path) -> Iterator[Site]:
    settings = Settings(home=ndoto_home, public_requests_per_minute=100_000, public_messages_per_minute=100_000)

    async def build() -> Any:
        db = await Database(settings).open()
        try:
            world = await make_world(db)
            async with db.read() as s:
                inbox = await s.get(Inbox, world.web_inbox_id)
            return world, inbox.identifier  # type: ignore[union-attr]
        finally:
            await db.close()

    world, token = asyncio.run(build())
    app = create_app(settings, start_dispatcher=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Site(client, settings, token, world.web_inbox_id, world.account_id, world.admin_id, world.admin_token)


def _agent_writes(site: Site, display_id: int, content: str, *, private: bool = False) -> None:
    async def go(db: Database) -> None:
        async with db.read() as s:
            admin = await s.get(User, site.admin_id)
        await db.write(lambda s: messages.create_message(
            s, account_id=site.account_id, display_id=display_id, actor=Actor.of_user(admin), content=content, private=private))

    site.run(go)


def _update(site: Site, **changes: Any) -> None:
    site.run(lambda db: db.write(lambda s: inboxes.update_inbox(s, account_id=site.account_id, inbox_id=site.inbox_id, **changes)))


def _events(site: Site, name: str) -> list[Any]:
    async def go(db: Database) -> list[Any]:
        async with db.read() as s:
            return [json.loads(e.payload) for e in (await s.execute(select(Event).where(Event.name == name).order_by(Event.id))).scalars()]

    return site.run(go)


def test_a_visitor_starts_writes_and_reads_its_conversation_without_notes(site: Site) -> None:
    config = site.get("/config").json()
    assert config["settings"]["title"] == "Chat with us" and config["contact"] is None and "en" in config["locales"]
    assert "allowed_origins" not in config["settings"]  # a site's list of origins is not the visitor's business
    visitor = site.visitor()
    assert re.fullmatch(r"v1\.\d+\.\d+\.[A-Za-z0-9_-]+", visitor)
    empty = site.get("/conversation", visitor).json()
    assert empty["conversation"] is None and empty["messages"] == []

    sent = site.post("/messages", {"content": "Where is my order?"}, visitor)
    assert sent.status_code == 200, sent.text
    display_id = sent.json()["conversation_id"]
    _agent_writes(site, display_id, "On its way!")
    _agent_writes(site, display_id, "customer seems upset", private=True)

    seen = site.get("/conversation", visitor).json()
    assert [(m["content"], m["message_type"]) for m in seen["messages"]] == [("Where is my order?", 0), ("On its way!", 1)]
    assert seen["messages"][1]["sender"] == {"name": "Admin", "type": "user"}
    assert seen["conversation"]["id"] == display_id and seen["last_event_id"] > 0

    # The new conversation carries the browser facts, as Chatwoot's do.
    conv = site.client.get(f"/api/v1/accounts/1/conversations/{display_id}", headers={"api_access_token": site.api_token}).json()
    assert conv["additional_attributes"]["browser"]["browser_name"] == "Chrome"
    assert conv["additional_attributes"]["browser"]["platform_name"] == "Linux"


def test_a_token_opens_one_contact_of_one_inbox_only(site: Site) -> None:
    alice, bob = site.visitor(), site.visitor()
    site.post("/messages", {"content": "alice here"}, alice)
    assert site.get("/conversation", bob).json()["messages"] == []
    # Tampered, truncated, another inbox's, none at all.
    inbox_id, link_id = alice.split(".")[1:3]
    forged = f"v1.{inbox_id}.{int(link_id) + 1}.{alice.split('.')[3]}"
    for bad in (forged, alice[:-2], "v1.1.1.xx", "garbage", None):
        assert site.get("/conversation", bad).status_code == 401, bad
    other = site.run(lambda db: db.write(lambda s: inboxes.create_inbox(s, account_id=site.account_id, name="Other site", channel="web_widget")))
    r = site.client.get(f"{W}/conversation", params={"website_token": other.identifier}, headers={"X-Ndoto-Visitor": alice})
    assert r.status_code == 401
    api_inbox = site.run(lambda db: db.write(lambda s: inboxes.create_inbox(s, account_id=site.account_id, name="API two")))
    assert site.client.get(f"{W}/config", params={"website_token": api_inbox.identifier}).status_code == 404
    # An account's API token is not a visitor token.
    assert site.get("/conversation", headers={"api_access_token": site.api_token}).status_code == 401


def test_opening_the_widget_fires_webwidget_triggered_with_event_info(site: Site) -> None:
    visitor = site.visitor()
    info = {"initiated_at": {"timestamp": "Tue Dec 01 2026 10:00:00 GMT+0000"}, "referer": "http://127.0.0.1/shop", "browser_language": "fr-FR"}
    r = site.post("/events", {"name": "webwidget.triggered", "event_info": info}, visitor)
    assert r.status_code == 200, r.text
    [payload] = _events(site, "webwidget_triggered")
    assert payload["event"] == "webwidget_triggered"
    assert {"id", "contact", "inbox", "account", "current_conversation", "source_id", "event_info"} <= set(payload)
    event_info = payload["event_info"]
    assert event_info["initiated_at"] == info["initiated_at"] and event_info["referer"] == "http://127.0.0.1/shop"
    assert event_info["widget_language"] == "en" and event_info["browser_language"] == "fr-FR"
    assert event_info["browser"]["browser_name"] == "Chrome" and event_info["browser"]["platform_name"] == "Linux"
    assert set(event_info["browser"]) == {"browser_name", "browser_version", "device_name", "platform_name", "platform_version"}

    async def deliveries(db: Database) -> int:
        async with db.read() as s:
            return len((await s.execute(select(Delivery))).scalars().all())

    assert site.run(deliveries) == 1  # to the inbox's bot
    assert site.post("/events", {"name": "message_created"}, visitor).status_code == 403


def _hash(secret: str, identifier: str) -> str:
    return hmac.new(secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def _secret(site: Site) -> str:
    async def go(db: Database) -> str:
        async with db.read() as s:
            return (await s.get(Inbox, site.inbox_id)).hmac_token  # type: ignore[union-attr,return-value]

    return site.run(go)


def test_identity_verification(site: Site) -> None:
    secret = _secret(site)
    laptop = site.visitor()
    wrong = site.post("/user", {"identifier": "user-42", "name": "Nia", "identifier_hash": "0" * 64}, laptop)
    assert wrong.status_code == 401 and "identifier_hash" in wrong.json()["error"]
    right = site.post("/user", {"identifier": "user-42", "name": "Nia", "email": "nia@shop.test", "identifier_hash": _hash(secret, "user-42")}, laptop)
    assert right.status_code == 200, right.text
    laptop = right.json()["token"]
    assert right.json()["contact"] == {"name": "Nia", "email": "nia@shop.test", "identifier": "user-42", "verified": True, "anonymous": False}
    site.post("/messages", {"content": "from my laptop"}, laptop)

    # Another device, verified: the same contact and conversation.
    phone = site.post("/user", {"identifier": "user-42", "identifier_hash": _hash(secret, "user-42")}, site.visitor()).json()["token"]
    assert [m["content"] for m in site.get("/conversation", phone).json()["messages"]] == ["from my laptop"]

    # An unverified claim of the same identifier opens nothing of Nia's.
    claim = site.post("/user", {"identifier": "user-42", "name": "Mallory"}, site.visitor())
    assert claim.status_code == 200
    assert site.get("/conversation", claim.json()["token"]).json()["messages"] == []
    assert claim.json()["contact"]["identifier"] is None and claim.json()["contact"]["verified"] is False
    # ... and Nia, verifying later, does not inherit the claimer's contact either.
    again = site.post("/user", {"identifier": "user-42", "identifier_hash": _hash(secret, "user-42")}, claim.json()["token"]).json()
    assert [m["content"] for m in site.get("/conversation", again["token"]).json()["messages"]] == ["from my laptop"]

    # Required: an unverified setUser is refused.
    _update(site, require_identity=True)
    refused = site.post("/user", {"identifier": "user-7"}, site.visitor())
    assert refused.status_code == 401 and "requires identity verification" in refused.json()["error"]
    assert site.post("/user", {"identifier": "user-7", "identifier_hash": _hash(secret, "user-7")}, site.visitor()).status_code == 200


def test_origins_cors_and_security_headers(site: Site) -> None:
    _update(site, allowed_origins=["https://shop.test"])
    ok = site.get("/config", headers={"origin": "https://shop.test"})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://shop.test"
    refused = site.get("/config", headers={"origin": "https://evil.test"})
    assert refused.status_code == 403 and "allowed origins" in refused.json()["error"]
    assert "access-control-allow-origin" not in refused.headers  # the browser keeps the answer from the page
    evil_preflight = site.client.options(f"{W}/messages", params={"website_token": site.token},
                                         headers={"origin": "https://evil.test", "access-control-request-method": "POST"})
    assert evil_preflight.status_code == 204 and "access-control-allow-origin" not in evil_preflight.headers
    visitor = site.visitor()
    assert site.post("/messages", {"content": "hi"}, visitor, headers={"origin": "https://evil.test"}).status_code == 403
    # The server's own demo page is always allowed.
    own = site.get("/config", headers={"origin": "http://testserver"})
    assert own.status_code == 200
    preflight = site.client.options(f"{W}/messages", params={"website_token": site.token},
                                    headers={"origin": "https://shop.test", "access-control-request-method": "POST",
                                                            "access-control-request-headers": "content-type, x-ndoto-visitor"})
    assert preflight.status_code == 204
    assert "x-ndoto-visitor" in preflight.headers["access-control-allow-headers"]
    assert preflight.headers["access-control-allow-origin"] == "https://shop.test"
    assert ok.headers["content-security-policy"].startswith("default-src 'none'")
    assert ok.headers["x-content-type-options"] == "nosniff"

    demo = site.client.get("/widget/demo", params={"inbox": site.token})
    assert demo.status_code == 200
    csp = demo.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    page = demo.text
    assert '<script async src="http://testserver/widget/ndoto.js"' in page  # never delays the host page's load
    assert all(re.search(r'\bsrc="', tag) for tag in re.findall(r"<script[^>]*>", page)), "an inline script would break the policy"
    assert not re.search(r"\son[a-z]+=|<style|\sstyle=", page)
    script = site.client.get("/widget/ndoto.js", headers={"accept-encoding": "gzip"})
    assert script.status_code == 200 and script.headers["content-encoding"] == "gzip"
    assert script.headers["cross-origin-resource-policy"] == "cross-origin"
    assert site.client.get("/widget/demo", params={"inbox": "nope"}).status_code == 404


def test_the_script_never_parses_html_nor_evaluates_strings() -> None:
    """The widget's own source: messages become text nodes; nothing is parsed as HTML or run."""
    source = (STATIC / "ndoto.js").read_text()
    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setTimeout(\"",
                      "setAttribute(\"style\"", ".cssText"):
        assert forbidden not in source, forbidden
    for locale in (STATIC / "locales").glob("*.json"):
        strings = json.loads(locale.read_text())
        assert set(strings) == set(json.loads((STATIC / "locales" / "en.json").read_text())), f"{locale.name} misses or adds keys"


def test_a_resolved_conversation_stays_readable_and_writing_reopens_it(site: Site) -> None:
    visitor = site.visitor()
    display_id = site.post("/messages", {"content": "first"}, visitor).json()["conversation_id"]

    async def resolve(db: Database) -> None:
        async with db.read() as s:
            admin = await s.get(User, site.admin_id)
        await db.write(lambda s: conversations.change_status(
            s, account_id=site.account_id, display_id=display_id, actor=Actor.of_user(admin), status="resolved"))

    site.run(resolve)
    seen = site.get("/conversation", visitor).json()
    assert seen["conversation"]["status"] == "resolved" and [m["content"] for m in seen["messages"]] == ["first"]
    again = site.post("/messages", {"content": "one more thing"}, visitor).json()
    assert again["conversation_id"] == display_id
    assert site.get("/conversation", visitor).json()["conversation"]["status"] != "resolved"


def test_typing_is_an_event_for_live_views_never_a_delivery(site: Site) -> None:
    visitor = site.visitor()
    assert site.post("/typing", {"on": True}, visitor).status_code == 200  # no conversation yet: nothing to say
    display_id = site.post("/messages", {"content": "hi"}, visitor).json()["conversation_id"]
    site.post("/typing", {"on": True}, visitor)
    r = site.client.post(f"/api/v1/accounts/1/conversations/{display_id}/toggle_typing_status", json={"typing_status": "on"},
                         headers={"api_access_token": site.api_token})
    assert r.status_code == 200
    on = _events(site, "conversation_typing_on")
    assert [e["performed_by"]["type"] for e in on] == ["contact", "user"]
    assert on[1]["name"] == "Admin"

    async def typing_deliveries(db: Database) -> int:
        async with db.read() as s:
            rows = (await s.execute(select(Delivery).join(Event, Event.id == Delivery.event_id).where(Event.name.like("%typing%")))).all()  # type: ignore[attr-defined]
            return len(rows)

    assert site.run(typing_deliveries) == 0


def test_pre_chat_form_and_limits(site: Site) -> None:
    _update(site, prechat_name=True, prechat_email=True)
    assert site.get("/config").json()["settings"]["prechat_email"] is True
    visitor = site.visitor()
    assert site.get("/config", visitor).json()["contact"]["anonymous"] is True
    bad = site.patch("/contact", {"name": "Nia", "email": "not-an-email"}, visitor)
    assert bad.status_code == 422
    good = site.patch("/contact", {"name": "Nia", "email": "Nia@Shop.test"}, visitor)
    assert good.json() == {"name": "Nia", "email": "nia@shop.test", "identifier": None, "verified": False, "anonymous": False}
    assert site.post("/messages", {"content": "x" * 200_000}, visitor).status_code in (413, 422)
    assert site.post("/messages", {"content": ""}, visitor).status_code == 422


def test_a_visitor_has_a_message_budget(ndoto_home: Path) -> None:
    settings = Settings(home=ndoto_home, public_messages_per_minute=3)

    async def build() -> str:
        db = await Database(settings).open()
        try:
            world = await make_world(db)
            async with db.read() as s:
                return (await s.get(Inbox, world.web_inbox_id)).identifier  # type: ignore[union-attr]
        finally:
            await db.close()

    token = asyncio.run(build())
    with TestClient(create_app(settings, start_dispatcher=False)) as client:
        visitor = client.post(f"{W}/session", params={"website_token": token}, json={}).json()["token"]
        codes = [client.post(f"{W}/messages", params={"website_token": token}, json={"content": f"m{i}"},
                             headers={"X-Ndoto-Visitor": visitor}).status_code for i in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429
        r = client.post(f"{W}/messages", params={"website_token": token}, json={"content": "again"}, headers={"X-Ndoto-Visitor": visitor})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
