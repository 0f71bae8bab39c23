"""Live updates for widget visitors, from the outbox.

One hub per ``ndoto serve`` reads new events from the change feed (``core.outbox.feed``): at
once after this process's own commits and, on PostgreSQL, after any process's (LISTEN/NOTIFY);
every ``POLL`` seconds as well, for other processes' commits on SQLite (the CLI, the console,
another server) and as the fallback on PostgreSQL. It hands each visitor the ones of its
conversations. The outbox is the source of truth, so the live view does not depend on which
process wrote a change, and a visitor who reconnects replays what it missed from the last event
id it saw (SSE's ``Last-Event-ID``): a conversation's events take their ids in commit order on
both databases, so the replay goes by id; the hub's own reading across conversations goes by the
feed's marks, which never skip an event that commits late.

What reaches a visitor: public messages (never private notes nor activity lines), typing of the
humans and bots answering, and status changes. Translating an event needs no query beyond the
event itself: payloads are rendered at the time of the change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict, deque
from typing import Any

from sqlalchemy import text

from ndoto_cli.core.db import Database
from ndoto_cli.core.models import MessageType
from ndoto_cli.core.outbox import feed

log = logging.getLogger("ndoto.widget")

POLL = 0.25  # seconds: another process's change reaches a visitor within this (plus the write)
BATCH = 1000
RECONNECT: dict[str, Any] = {"type": "reconnect"}
PING: dict[str, Any] = {"type": "ping"}
PING_EVERY = 15.0  # seconds between keep-alive comments on an idle stream (proxies close silent ones)
VISIBLE_TYPES = {"incoming": MessageType.incoming, "outgoing": MessageType.outgoing, "template": MessageType.template}


VISIBLE_ATTRIBUTES = ("items", "submitted_values", "deleted", "in_reply_to")  # what a widget renders; never e.g. external_error


def visible_attributes(attributes: Any) -> dict[str, Any]:
    """What a visitor may see of a message's attributes: the ones a widget renders, and of an
    AI answer's sources only those with a web address (title and link; never a server's file)."""
    if not isinstance(attributes, dict):
        return {}
    out = {k: v for k, v in attributes.items() if k in VISIBLE_ATTRIBUTES}
    links = [{"title": str(s.get("title") or ""), "url": s["url"]} for s in attributes.get("sources") or []
             if isinstance(s, dict) and isinstance(s.get("url"), str) and s["url"].startswith(("https://", "http://"))]
    if links:
        out["sources"] = links
    return out


def visitor_item(name: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """What a visitor sees of an event, or None (a private note, an activity line, a bot's event)."""
    if name in ("message_created", "message_updated"):
        if payload.get("private") or payload.get("message_type") not in VISIBLE_TYPES:
            return None
        sender = payload.get("sender") or {}
        return {
            "type": "message",
            "message": {
                "id": payload["id"], "content": payload.get("content"), "message_type": int(VISIBLE_TYPES[payload["message_type"]]),
                "content_type": payload.get("content_type"), "content_attributes": visible_attributes(payload.get("content_attributes")),
                "created_at": payload.get("created_at"), "conversation_id": (payload.get("conversation") or {}).get("id"),
                "sender": {"name": sender.get("name"), "type": sender.get("type")} if sender else None,
            },
        }
    if name in ("conversation_typing_on", "conversation_typing_off"):
        if (payload.get("performed_by") or {}).get("type") == "contact":
            return None  # the visitor's own typing
        return {"type": "typing", "on": name.endswith("_on"), "name": payload.get("name")}
    if name == "conversation_status_changed":
        return {"type": "status", "status": payload.get("status"), "conversation_id": payload.get("id")}
    return None


class Hub:
    """Fans new events out to the visitors subscribed by their contact link (contact + inbox)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.mark: feed.Mark | None = None  # where the hub is in the change feed
        self._subscribers: dict[int, set[asyncio.Queue[tuple[int, dict[str, Any]]]]] = {}
        self._links: OrderedDict[int, int] = OrderedDict()  # conversation id -> contact link id
        self._wake = asyncio.Event()
        # Every stream, in the order the pings go round: a few each pass rather than all at once.
        self._ping_ring: deque[tuple[int, asyncio.Queue[tuple[int, dict[str, Any]]]]] = deque()
        self._ping_owed = 0.0
        self._said: OrderedDict[Any, tuple[Any, float]] = OrderedDict()
        self._pinged_at = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        db.on_change(self._wake.set)

    def news(self, key: Any, value: Any, *, quiet_for: float) -> bool:
        """Is ``value`` news for ``key`` (changed, or last said more than ``quiet_for`` seconds
        ago)? Spares the outbox a row per keystroke or per click; per process, bounded."""
        now = time.monotonic()
        last = self._said.get(key)
        if last is not None and last[0] == value and now - last[1] < quiet_for:
            return False
        self._said[key] = (value, now)
        self._said.move_to_end(key)
        while len(self._said) > 50_000:
            self._said.popitem(last=False)
        return True

    def forget(self, key: Any) -> None:
        self._said.pop(key, None)

    def streams_of(self, link_id: int) -> int:
        return len(self._subscribers.get(link_id, ()))

    @property
    def connections(self) -> int:
        return sum(len(queues) for queues in self._subscribers.values())

    def close_all(self) -> None:
        """The server is stopping: every stream ends now (browsers reconnect, to this server once
        it is back or to another one, and replay what they missed) instead of holding the
        shutdown until its grace period runs out."""
        for queues in self._subscribers.values():
            for queue in queues:
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait((0, RECONNECT))
        self._subscribers.clear()
        self._ping_ring.clear()

    async def start_mark(self) -> feed.Mark:
        async with self.db.read() as s:
            return await feed.start(s)

    async def subscribe(self, link_id: int) -> asyncio.Queue[tuple[int, dict[str, Any]]]:
        if self.mark is None:
            self.mark = await self.start_mark()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="ndoto-widget-hub")
        queue: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue(maxsize=1000)
        self._subscribers.setdefault(link_id, set()).add(queue)
        self._ping_ring.append((link_id, queue))
        return queue

    def unsubscribe(self, link_id: int, queue: asyncio.Queue[tuple[int, dict[str, Any]]]) -> None:
        queues = self._subscribers.get(link_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._subscribers[link_id]

    async def replay(self, link_id: int, after: int) -> tuple[list[tuple[int, dict[str, Any]]], int, bool]:
        """What a reconnecting visitor missed, a page at a time: the visible items of its
        conversations' events after ``after``, the last event id read, and whether there is more."""
        sql = (
            "SELECT e.id, e.name, e.payload FROM events e WHERE e.conversation_id IN "
            "(SELECT c.id FROM conversations c WHERE c.contact_inbox_id = :link) AND e.id > :after ORDER BY e.id LIMIT :limit"
        )
        async with self.db.read() as s:
            rows = (await s.execute(text(sql), {"link": link_id, "after": after, "limit": BATCH})).all()
        out = []
        for event_id, name, payload in rows:
            item = visitor_item(name, json.loads(payload))
            if item is not None:
                out.append((int(event_id), item))
        return await self._as_now(out), int(rows[-1][0]) if rows else after, len(rows) == BATCH

    async def _as_now(self, items: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
        """Replayed messages as they are now, not as they were: a message deleted or edited since
        (sent to the wrong customer, say) is replayed deleted or edited, never in its old words."""
        ids = sorted({item["message"]["id"] for _eid, item in items if item["type"] == "message"})
        if not ids:
            return items
        now: dict[int, tuple[Any, Any, bool]] = {}
        async with self.db.read() as s:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marks = ", ".join(f":m{i}" for i in range(len(chunk)))
                rows = (await s.execute(text(f"SELECT id, content, content_attributes, private FROM messages WHERE id IN ({marks})"),
                                        {f"m{i}": v for i, v in enumerate(chunk)})).all()
                now.update({int(r[0]): (r[1], r[2], bool(r[3])) for r in rows})
        out = []
        for event_id, item in items:
            if item["type"] == "message":
                current = now.get(item["message"]["id"])
                if current is None or current[2]:
                    continue  # gone, or private now
                attributes = current[1] if isinstance(current[1], dict) else json.loads(current[1] or "{}")
                item = {**item, "message": {**item["message"], "content": current[0], "content_attributes": visible_attributes(attributes)}}
            out.append((event_id, item))
        return out

    async def _link_of(self, conversation_id: int) -> int | None:
        link = self._links.get(conversation_id)
        if link is None:
            async with self.db.read() as s:
                row = (await s.execute(text("SELECT contact_inbox_id FROM conversations WHERE id = :id"), {"id": conversation_id})).first()
            if row is None:
                return None
            link = int(row[0])
            self._links[conversation_id] = link
            if len(self._links) > 100_000:
                self._links.popitem(last=False)
        return link

    def _ping(self) -> None:
        """Keep-alive comments, spread evenly: each stream gets one about every ``PING_EVERY``
        seconds, and never all streams in the same instant."""
        now = time.monotonic()
        self._ping_owed += len(self._ping_ring) * (now - self._pinged_at) / PING_EVERY
        self._pinged_at = now
        while self._ping_owed >= 1 and self._ping_ring:
            self._ping_owed -= 1
            link_id, queue = self._ping_ring.popleft()
            if queue not in self._subscribers.get(link_id, ()):
                continue  # gone: dropped from the ring
            if not queue.full():
                queue.put_nowait((0, PING))
            self._ping_ring.append((link_id, queue))
        self._ping_owed = min(self._ping_owed, float(len(self._ping_ring)))

    async def _run(self) -> None:
        while self._subscribers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL)
            self._wake.clear()
            self._ping()
            try:
                await self._pass()
            except Exception:  # a busy database must not end the live views
                log.exception("reading new events for the widget failed; retrying")
                await asyncio.sleep(POLL)

    async def _pass(self) -> None:
        async with self.db.read() as s:
            page = await feed.after(s, self.mark or await feed.start(s), limit=BATCH)
        rows = [(event_id, conversation_id, name, payload) for event_id, _account, conversation_id, name, payload in page.rows]
        self.mark = page.mark
        for event_id, conversation_id, name, payload in rows:
            if conversation_id is None:
                continue
            link = await self._link_of(int(conversation_id))
            queues = self._subscribers.get(link or -1)
            if not queues:
                continue
            item = visitor_item(name, json.loads(payload))
            if item is None:
                continue
            for queue in list(queues):
                if queue.full():
                    # A stalled reader: rather than grow, its stream ends (and gets nothing more from
                    # here); the browser reconnects and replays from its last event id: nothing is lost.
                    while not queue.empty():
                        queue.get_nowait()
                    queue.put_nowait((0, RECONNECT))
                    self.unsubscribe(link or -1, queue)
                    continue
                queue.put_nowait((int(event_id), item))
        if len(rows) == BATCH:
            self._wake.set()  # more to read at once
