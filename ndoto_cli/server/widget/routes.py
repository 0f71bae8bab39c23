"""The widget's API, ``/api/v1/widget``: what the script on a site's page calls.

Every call names its website (``website_token``: the inbox's public identifier) and, once the
visitor has started, its visitor token (header ``X-Ndoto-Visitor``, or ``token`` in the query of
the live stream, where EventSource cannot send headers). The page's origin must be one the inbox
allows (checked here, server side, as well as by the browser's CORS); the client address has a
request budget, the visitor a message budget (``server.route.WidgetRoute``). The rules are core's
(``core.services.widget``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.sse import KEEPALIVE_COMMENT, format_sse_event
from pydantic import Field

from ndoto_cli.core import limits
from ndoto_cli.core.errors import Forbidden, TooManyRequests, Unauthorized
from ndoto_cli.core.outbox import feed
from ndoto_cli.core.services import customers, widget
from ndoto_cli.core.views import load_sender, message_json
from ndoto_cli.server.auth import client_key
from ndoto_cli.server.deps import JSON, Db
from ndoto_cli.server.responses import doc
from ndoto_cli.server.route import WidgetRoute
from ndoto_cli.server.schemas import Body, Id, Ident, Name, SubmittedValues
from ndoto_cli.server.widget import STATIC, live, own_origin
from ndoto_cli.server.widget.live import PING, RECONNECT

LOCALES = sorted(p.stem for p in (STATIC / "locales").glob("*.json"))
router = APIRouter(prefix="/api/v1/widget", tags=["widget"], route_class=WidgetRoute)

WebsiteToken = Annotated[str, Query(max_length=limits.IDENTIFIER, description="The inbox's website token.")]
VisitorHeader = Annotated[str | None, Header(alias="X-Ndoto-Visitor", max_length=512)]


def _check_origin(request: Request, inbox: Any) -> None:
    if not widget.origin_allowed(inbox, request.headers.get("origin"), own_origin=own_origin(request)):
        raise Forbidden("this website may not use this chat: add its origin to the inbox's allowed origins")


async def _visitor(request: Request, s: Any, website_token: str, token: str | None) -> widget.Visitor:
    who = await widget.visitor(s, website_token=website_token, token=token)
    _check_origin(request, who.inbox)
    return who


def _new_contact_budget(request: Request) -> None:
    """A visitor without a token becomes a contact: a client address makes a bounded number."""
    wait = request.app.state.new_contacts.hit(client_key(request))
    if wait is not None:
        raise TooManyRequests("too many new visitors from this address: wait a little", retry_after=wait)


async def _known(s: Any, website_token: str, token: str | None) -> widget.Visitor | None:
    """The visitor of a valid token, or None (none, an old key's, another site's: start afresh)."""
    if not token:
        return None
    try:
        return await widget.visitor(s, website_token=website_token, token=token)
    except Unauthorized:
        return None


async def _start(request: Request, s: Any, website_token: str, token: str | None) -> widget.Visitor:
    """The visitor of a valid token, else a new one; the origin is checked before anything is written."""
    inbox = await widget.widget_inbox(s, website_token=website_token)
    _check_origin(request, inbox)
    who = await _known(s, website_token, token)
    if who is None:
        _new_contact_budget(request)
        who = await widget.start(s, inbox=inbox)
    return who


def _public(message: Any, display_id: int, sender: Any) -> JSON:
    full = message_json(message, display_id=display_id, sender=sender)
    out = {k: full[k] for k in ("id", "content", "message_type", "content_type", "created_at", "conversation_id")}
    out["content_attributes"] = live.visible_attributes(full["content_attributes"])
    out["sender"] = {"name": full["sender"]["name"], "type": full["sender"]["type"]} if full["sender"] else None
    return out


def _contact(who: widget.Visitor) -> JSON:
    return {"name": who.contact.name, "email": who.contact.email, "identifier": who.contact.identifier,
            "verified": bool(who.link.hmac_verified), "anonymous": who.contact.name == widget.VISITOR_NAME}


def _browser(request: Request, event_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Chatwoot's browser facts, from the User-Agent (ua-parser) and what the page said."""
    from ua_parser import parse

    agent = parse(request.headers.get("user-agent", "")[:1000])
    ua, os_, device = agent.user_agent, agent.os, agent.device
    info = event_info or {}
    return {
        "browser": {
            "browser_name": ua.family if ua else "Unknown", "browser_version": ".".join(p for p in (ua.major, ua.minor) if p) if ua else "",
            "device_name": device.family if device else "Unknown", "platform_name": os_.family if os_ else "Unknown",
            "platform_version": ".".join(p for p in (os_.major, os_.minor) if p) if os_ else "",
        },
        "browser_language": str(info.get("browser_language") or request.headers.get("accept-language", "").split(",")[0])[:35],
        "referer": str(info.get("referer") or request.headers.get("referer") or "")[: limits.URL],
        "initiated_at": info.get("initiated_at") or {"timestamp": time.strftime("%a %b %d %Y %H:%M:%S GMT+0000", time.gmtime())},
    }


class SessionBody(Body):
    pass


class EventBody(Body):
    name: Annotated[str, Field(max_length=64)] = "webwidget.triggered"
    event_info: dict[str, Any] = Field(default_factory=dict)


class MessageBody(Body):
    content: Annotated[str, Field(min_length=1, max_length=limits.CONTENT)]
    echo_id: Ident | None = None


class TypingBody(Body):
    on: bool


class ContactBody(Body):
    name: Name | None = None
    email: Annotated[str, Field(max_length=limits.EMAIL)] | None = None


class UserBody(Body):
    identifier: Ident
    name: Name | None = None
    email: Annotated[str, Field(max_length=limits.EMAIL)] | None = None
    identifier_hash: Annotated[str, Field(max_length=128)] | None = None


@router.get("/config", responses=doc(dict), summary="The widget's settings for a website")
async def config(request: Request, db: Db, website_token: WebsiteToken, visitor: VisitorHeader = None) -> JSON:
    async with db.read() as s:
        inbox = await widget.widget_inbox(s, website_token=website_token)
    _check_origin(request, inbox)
    settings = widget.settings_of(inbox)
    known = None
    if visitor:
        async with db.read() as s:
            try:
                known = _contact(await widget.visitor(s, website_token=website_token, token=visitor))
            except Exception:  # noqa: BLE001 - an old or foreign token: the widget starts afresh
                known = None
    return {"settings": {k: v for k, v in settings.items() if k != "allowed_origins"}, "contact": known,
            "locales": LOCALES}


@router.post("/session", responses=doc(dict), summary="Start (or resume) a visitor: its token")
async def session(request: Request, db: Db, website_token: WebsiteToken, body: SessionBody | None = None, visitor: VisitorHeader = None) -> JSON:
    who = await db.write(lambda s: _start(request, s, website_token, visitor))
    return {"token": who.token, "contact": _contact(who)}


@router.post("/events", responses=doc(dict), summary="webwidget.triggered: the visitor opened the widget")
async def events(request: Request, db: Db, website_token: WebsiteToken, body: EventBody, visitor: VisitorHeader = None) -> JSON:
    if body.name not in ("webwidget.triggered", "webwidget_triggered"):
        raise Forbidden("only the webwidget.triggered event is accepted")

    hub = request.app.state.widget_hub

    async def go(s: Any) -> int | None:
        who = await _visitor(request, s, website_token, visitor)
        if not hub.news(("triggered", who.link.id), True, quiet_for=TRIGGER_EVERY):
            return None  # the same visitor opening and closing the chat: one event per TRIGGER_EVERY
        info = {**_browser(request, body.event_info), "widget_language": widget.settings_of(who.inbox)["locale"]}
        return await customers.trigger_widget(s, inbox=who.inbox, source_id=who.link.source_id, event_info=info)

    return {"event_id": await db.write(go)}


@router.get("/conversation", responses=doc(dict), summary="The visitor's conversation and its messages (notes and activity never)")
async def conversation(request: Request, db: Db, website_token: WebsiteToken, visitor: VisitorHeader = None) -> JSON:
    async with db.read() as s:
        who = await _visitor(request, s, website_token, visitor)
        # The stream's starting point is read before the thread: a change between the two is
        # replayed (and shown once, by id), never skipped.
        mark = await feed.newest_of_link(s, who.link.id)
        conv, rows = await widget.thread(s, who=who)
        if conv is None:
            return {"conversation": None, "messages": [], "contact": _contact(who), "last_event_id": mark}
        items = [_public(m, conv.display_id, await load_sender(s, m)) for m in rows]
    return {"conversation": {"id": conv.display_id, "status": conv.status}, "messages": items, "contact": _contact(who),
            "last_event_id": mark}


@router.post("/messages", responses=doc(dict), summary="The visitor writes (a resolved conversation reopens)")
async def post_message(request: Request, db: Db, website_token: WebsiteToken, body: MessageBody, visitor: VisitorHeader = None) -> JSON:
    wait = request.app.state.public_contacts.hit(f"widget/{website_token}/{(visitor or '')[-24:]}")
    if wait is not None:
        raise TooManyRequests("too many messages: wait a little", retry_after=wait)

    async def go(s: Any) -> JSON:
        who = await _visitor(request, s, website_token, visitor)
        result = await widget.says(s, who=who, content=body.content, browser=_browser(request))
        return {**_public(result.message, result.bundle.conversation.display_id, result.sender), "echo_id": body.echo_id}

    return await db.write(go)


@router.patch("/messages/{message_id}", responses=doc(dict), summary="The visitor answers a message: the rating asked at resolution, or a choice")
async def answer(request: Request, db: Db, website_token: WebsiteToken, message_id: Id, body: SubmittedValues,
                 visitor: VisitorHeader = None) -> JSON:
    wait = request.app.state.public_contacts.hit(f"widget/{website_token}/{(visitor or '')[-24:]}")
    if wait is not None:
        raise TooManyRequests("too many answers: wait a little", retry_after=wait)

    async def go(s: Any) -> JSON:
        who = await _visitor(request, s, website_token, visitor)
        result = await widget.answers(s, who=who, message_id=message_id, submitted_values=body.submitted_values)
        return _public(result.message, result.bundle.conversation.display_id, result.sender)

    return await db.write(go)


@router.post("/typing", responses=doc(dict), summary="The visitor is typing, or stopped")
async def typing(request: Request, db: Db, website_token: WebsiteToken, body: TypingBody, visitor: VisitorHeader = None) -> JSON:
    hub = request.app.state.widget_hub

    async def go(s: Any) -> None:
        who = await _visitor(request, s, website_token, visitor)
        key = ("typing", who.link.id)
        if hub.news(key, body.on, quiet_for=TYPING_REPEAT) and not await widget.typing(s, who=who, on=body.on):
            hub.forget(key)  # nothing was said (no conversation yet): the next one is news
        # else: the same news again, too soon: no row

    await db.write(go)
    return {}


@router.patch("/contact", responses=doc(dict), summary="The pre-chat form: the visitor's name and email")
async def contact(request: Request, db: Db, website_token: WebsiteToken, body: ContactBody, visitor: VisitorHeader = None) -> JSON:
    async def go(s: Any) -> JSON:
        who = await _visitor(request, s, website_token, visitor)
        await widget.update_contact(s, who=who, name=body.name, email=body.email)
        return _contact(who)

    return await db.write(go)


@router.post("/user", responses=doc(dict), summary="setUser: who the site says its user is (identifier_hash verifies it)")
async def set_user(request: Request, db: Db, website_token: WebsiteToken, body: UserBody, visitor: VisitorHeader = None) -> JSON:
    if not body.identifier_hash:
        _new_contact_budget(request)  # an unverified claim may start a new contact

    async def go(s: Any) -> JSON:
        inbox = await widget.widget_inbox(s, website_token=website_token)
        _check_origin(request, inbox)
        who = await _known(s, website_token, visitor)
        who = await widget.set_user(
            s, inbox=inbox, who=who, identifier=body.identifier, name=body.name, email=body.email, identifier_hash=body.identifier_hash,
        )
        return {"token": who.token, "contact": _contact(who)}

    return await db.write(go)


async def _streaming_visitor(
    request: Request, db: Db, website_token: WebsiteToken, token: Annotated[str, Query(max_length=512)]
) -> widget.Visitor:
    """Checked before the stream opens: a refused visitor gets a 401, not a stream that dies."""
    async with db.read() as s:
        return await _visitor(request, s, website_token, token)


TRIGGER_EVERY = 10.0  # seconds: webwidget_triggered at most this often per visitor
TYPING_REPEAT = 3.0  # seconds: the same typing state again within this writes nothing
STREAMS_PER_VISITOR = 10  # tabs and devices of one visitor; more are refused (429), not queued
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # and no proxy buffering


@router.get(
    "/stream", response_class=StreamingResponse, summary="Live: the visitor's messages, typing and status (SSE)",
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events: message, typing, status"}},
)
async def stream(
    request: Request, who: Annotated[widget.Visitor, Depends(_streaming_visitor)],
    after: Annotated[int | None, Query(ge=0, le=limits.MAX_ID)] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=32)] = None,
) -> StreamingResponse:
    """A plain streaming response rather than FastAPI's SSE wrapper: that one keeps two tasks per
    stream and pings each on its own timer, so streams opened together (a server restart) ping
    together and every push waits behind thousands of pings; here the hub spreads the pings."""
    hub = request.app.state.widget_hub
    if hub.streams_of(who.link.id) >= STREAMS_PER_VISITOR:
        raise TooManyRequests(f"this visitor already has {STREAMS_PER_VISITOR} live streams open: close a tab", retry_after=30)
    since = after
    if last_event_id is not None and re.fullmatch(r"[0-9]{1,15}", last_event_id.strip()):
        since = min(int(last_event_id), limits.MAX_ID)
    return StreamingResponse(_events(hub, who.link.id, since), media_type="text/event-stream", headers=STREAM_HEADERS)


def _sse(event_id: int, item: dict[str, Any]) -> bytes:
    return format_sse_event(data_str=json.dumps(item, separators=(",", ":")), event=item["type"], id=str(event_id))


async def _events(hub: Any, link_id: int, since: int | None) -> AsyncIterator[bytes]:
    queue = await hub.subscribe(link_id)  # here, so that whatever ends the stream unsubscribes it
    try:
        yield format_sse_event(retry=1000, comment="connected")
        seen = since or 0
        more = since is not None
        while more:  # what the visitor missed, a page at a time
            missed, seen, more = await hub.replay(link_id, seen)
            for event_id, item in missed:
                yield _sse(event_id, item)
        while True:
            event_id, item = await queue.get()
            if item is PING:
                yield KEEPALIVE_COMMENT
            elif item is RECONNECT:
                return  # the browser reconnects and replays from its last id
            elif event_id > seen:  # else: already sent by the replay
                yield _sse(event_id, item)
    finally:
        hub.unsubscribe(link_id, queue)
