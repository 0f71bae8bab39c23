"""The inbox view's regions, each its own widget: the inbox list, the conversation table, the
thread and the composer. Each one draws only what changed in what it is given, and tells its
screen what the user did with a message; none of them touches the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, Label, ListItem, ListView, Static

from ndoto_cli.core import present
from ndoto_cli.core.queries import Row
from ndoto_cli.core.views import message_kind, rating_given


class InboxList(ListView):
    """All inboxes, then one per inbox with its bot."""

    @dataclass
    class Chosen(Message):
        inbox_id: int | None

    def __init__(self) -> None:
        super().__init__(id="inboxes")
        self._shown: list[tuple[str, str]] = []

    async def show(self, rows: list[tuple[int, str, str | None]]) -> None:
        wanted = [("inbox-all", "All inboxes")] + [
            (f"inbox-{iid}", f"{escape(name)}\n  [dim]{'bot: ' + escape(bot) if bot else 'no bot'}[/dim]") for iid, name, bot in rows
        ]
        if wanted == self._shown:
            return
        self._shown = wanted
        index = self.index
        await self.clear()
        await self.extend([ListItem(Label(text), id=item_id) for item_id, text in wanted])
        self.index = min(index or 0, len(wanted) - 1)

    @on(ListView.Selected)
    def _selected(self, event: ListView.Selected) -> None:
        event.stop()
        raw = (event.item.id or "inbox-all").removeprefix("inbox-")
        self.post_message(self.Chosen(None if raw == "all" else int(raw)))


# Columns by priority: what stays when the table is narrow. (key, label, width; None: the rest)
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("id", "#", 4), ("contact", "contact", 16), ("excerpt", "last message", None), ("time", "time", 11),
    ("status", "status", 8), ("owner", "owner", 18), ("inbox", "inbox", 14),
)
DROP_ORDER = ("inbox", "time", "owner")  # dropped first when the width does not allow them


def when(ts: float) -> str:
    return present.when(ts, compact=True)


class ConversationTable(DataTable[str]):
    """One tab's conversations, newest activity first; rows update in place."""

    @dataclass
    class Opened(Message):
        display_id: int

    class Refit(Message):
        """The columns changed with the table's width: the rows need drawing again."""

    def __init__(self) -> None:
        super().__init__(id="conversations", cursor_type="row", zebra_stripes=True)
        self._columns_for = 0
        self._keys: list[str] = []
        self._cells: dict[str, tuple[str, ...]] = {}
        self.shown_columns: list[str] = []

    def on_resize(self, event: Any) -> None:
        before = self.shown_columns
        self.fit(event.size.width - 2)  # less the border
        if self.shown_columns != before or not self.row_count:
            self.post_message(self.Refit())

    def fit(self, width: int) -> None:
        """Columns that fit ``width`` cells: the message excerpt takes what is left."""
        if width == self._columns_for:
            return
        self._columns_for = width
        keep = [c for c in COLUMNS]
        for drop in DROP_ORDER:
            fixed = sum((w or 12) + 2 for _k, _l, w in keep) + 3
            if fixed <= width:
                break
            keep = [c for c in keep if c[0] != drop]
        rest = max(12, width - sum(w + 2 for _k, _l, w in keep if w) - 3)
        self.shown_columns = [key for key, _l, _w in keep]
        self.clear(columns=True)
        for key, label, w in keep:
            self.add_column(label, width=w or rest, key=key)
        self._keys, self._cells = [], {}

    def _cells_of(self, r: Row) -> tuple[str, ...]:
        values = {"id": str(r.display_id), "contact": r.contact, "excerpt": r.excerpt, "time": when(r.last_activity_at),
                  "status": r.status, "owner": r.owner, "inbox": r.inbox}
        return tuple(values[key] for key in self.shown_columns)

    def show(self, rows: list[Row]) -> None:
        """Update cells in place when the rows are the same ones in the same order; else rebuild,
        keeping the cursor on the same conversation and the scroll where it was."""
        keys = [str(r.display_id) for r in rows]
        cells = {str(r.display_id): self._cells_of(r) for r in rows}
        if keys == self._keys:
            for key in keys:
                if cells[key] != self._cells.get(key):
                    for column, value in zip(self.shown_columns, cells[key], strict=True):
                        self.update_cell(key, column, value)
            self._cells = cells
            return
        keep = self.current_key()
        scroll = self.scroll_y
        self.clear()
        for key in keys:
            self.add_row(*cells[key], key=key)
        self._keys, self._cells = keys, cells
        if keep in cells:
            self.move_cursor(row=keys.index(keep), scroll=False)
        self.scroll_to(y=scroll, animate=False)

    def current_key(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Opened(int(event.row_key.value)))


def message_markup(m: dict[str, Any]) -> tuple[str, str]:
    """A message as console markup and its CSS class (who wrote it sets its colour and indent)."""
    stamp = when(m["created_at"])  # the time today, with the date before
    name = escape((m["sender"] or {}).get("name", ""))
    text = escape(m["content"] or "")
    kind = message_kind(m)
    if kind == "activity":
        return f"{stamp} · {text}", "msg-activity"
    if kind == "note":
        return f"{stamp} [b]{name}[/b] (private note)\n{text}", "msg-note"
    if kind == "customer":
        return f"{stamp} [b]{name}[/b]\n{text}", "msg-in"
    if kind == "rating":
        given = rating_given(m)
        return f"{stamp} · {text}" + (f"\n[b]{escape(given)}[/b]" if given else " [dim](not answered yet)[/dim]"), "msg-activity"
    sources = (m.get("content_attributes") or {}).get("sources") if isinstance(m.get("content_attributes"), dict) else None
    grounded = ""
    if isinstance(sources, list) and sources:  # what an AI answer was grounded on
        grounded = "\n[dim]Sources: " + "; ".join(
            escape(f"{s.get('title', '')} ({s.get('location', '')})") for s in sources[:4] if isinstance(s, dict)) + "[/dim]"
    return f"{stamp} [b]{name}[/b] ({kind})\n{text}{grounded}", "msg-bot" if kind == "bot" else "msg-out"


class ThreadView(VerticalScroll):
    """One conversation's messages: new ones are appended, changed ones redrawn, the rest kept."""

    def __init__(self) -> None:
        super().__init__(id="thread")
        self.conversation: int | None = None
        self._shown: dict[int, dict[str, Any]] = {}

    async def show(self, display_id: int, msgs: list[dict[str, Any]]) -> None:
        at_bottom = self.scroll_y >= self.max_scroll_y - 1
        ids = [m["id"] for m in msgs]
        if display_id != self.conversation or ids[: len(self._shown)] != list(self._shown):
            await self.remove_children()  # another conversation, or older messages scrolled in: start over
            self._shown = {}
            self.conversation = display_id
            at_bottom = True
        new: list[Static] = []
        for m in msgs:
            before = self._shown.get(m["id"])
            markup, css = message_markup(m)
            if before is None:
                new.append(Static(markup, classes=css, id=f"msg-{m['id']}"))
            elif before != m:  # edited, deleted or its delivery status changed: redraw that one only
                widget = self.query_one(f"#msg-{m['id']}", Static)
                widget.update(markup)
                widget.set_classes(css)
            self._shown[m["id"]] = m
        if new:
            await self.mount_all(new)
        if at_bottom:
            self.scroll_end(animate=False)

    async def close(self) -> None:
        await self.remove_children()
        self.conversation = None
        self._shown = {}


class Composer(Horizontal):
    """Reply or private note; Enter sends, Ctrl+N switches."""

    @dataclass
    class Send(Message):
        text: str
        private: bool

    @dataclass
    class Typed(Message):
        """The human typed in a reply (not a note): the customer may see it."""

    REPLY = "Reply (Enter sends; Ctrl+N: note)"
    NOTE = "Private note, agents only (Ctrl+N: reply)"

    def __init__(self) -> None:
        super().__init__(id="composer-row")
        self.private = False

    def compose(self) -> ComposeResult:
        yield Label("Reply", id="mode")
        yield Input(placeholder=self.REPLY, id="composer")

    def toggle(self) -> None:
        self.private = not self.private
        label, field = self.query_one("#mode", Label), self.query_one("#composer", Input)
        label.update("Note" if self.private else "Reply")
        label.set_class(self.private, "note")
        field.set_class(self.private, "note")
        field.placeholder = self.NOTE if self.private else self.REPLY

    def sent(self) -> None:
        self.query_one("#composer", Input).value = ""

    @on(Input.Changed, "#composer")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if event.value.strip() and not self.private:
            self.post_message(self.Typed())

    @on(Input.Submitted, "#composer")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if text:
            self.post_message(self.Send(text, self.private))
