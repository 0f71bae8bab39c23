"""The console's main screen: the inbox view (the bots and deliveries screens are ``tui.admin``).

Each screen is made with a :class:`ConsoleSession` and works through ``tui.data``. Reads and
actions run in Textual workers, so a slow query never freezes the keyboard; what they load is
drawn by the regions' widgets, which redraw only what changed. Live: the inbox view reads the
change feed (the outbox) and refreshes what the new events touched: at once when the database
says something was committed (this process's writes; on PostgreSQL every process's, by
LISTEN/NOTIFY), and every ``poll_interval`` as well on SQLite, where other processes' commits
are heard of only by looking (on PostgreSQL, every fifth interval: a fallback for a lost LISTEN).
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from rich.markup import escape
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static, Tab, Tabs

from ndoto_cli.core.views import owner_phrase
from ndoto_cli.tui import data
from ndoto_cli.tui.modals import Picker, SearchDialog
from ndoto_cli.tui.session import ConsoleSession
from ndoto_cli.tui.widgets import Composer, ConversationTable, InboxList, ThreadView, when

TAB_NAMES = {"mine": "Mine", "bot": "Bot", "open": "Open", "resolved": "Resolved", "all": "All"}
PAGE = 200  # rows per tab view: newest first; the rest by narrowing (inbox, tab, search)
WIDE = 170  # columns from which the inbox list shows beside the conversations and the thread (else: f)
NARROW = 100  # below this, the conversations or the thread, one at a time
TYPING_SHOWN = 30.0  # seconds a customer's "typing" shows without news (the widget's own limit)
TYPING_RESEND = 5.0  # a human typing tells the customer again at most this often
TYPING_PAUSE = 3.0  # ... and "stopped" after this long without a keystroke


class InboxScreen(Screen[None]):
    BINDINGS = [
        Binding("i", "focus_composer", "Write"),
        Binding("escape", "back", "List", show=False),
        Binding("ctrl+n", "toggle_note", "Reply/Note", priority=True),
        Binding("t", "take_over", "Take over"),
        Binding("b", "hand_back", "To bot"),
        Binding("a", "assign", "Assign"),
        Binding("r", "resolve", "Resolve"),
        Binding("o", "reopen", "Reopen"),
        Binding("slash", "search", "Search"),
        Binding("f", "inboxes", "Inbox", show=False),
        *[Binding(str(n), f"tab('{tab}')", show=False) for n, tab in enumerate(TAB_NAMES, start=1)],
    ]

    def __init__(self, *, poll_interval: float) -> None:
        super().__init__()
        self.session: ConsoleSession = None  # type: ignore[assignment]  # given by start()
        self.poll_interval = poll_interval
        self.tab = "all"
        self.inbox_id: int | None = None
        self.filters: dict[str, Any] = {}
        self.current: int | None = None
        self.mark: Any = None  # where the change feed was last read (data.change_mark)
        self._polls = 0
        self._ticks = 0
        self._wake_due = False
        self._typing: dict[int, tuple[str, float]] = {}  # display id -> (customer, shown until)
        self._typing_sent: int | None = None  # the conversation this human was last said to type in
        self._typing_at = 0.0
        self._typing_timer: Any = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            yield InboxList()
            with Vertical(id="middle"):
                yield Tabs(*[Tab(name, id=f"tab-{key}") for key, name in TAB_NAMES.items()], active="tab-all", id="tabs")
                yield Static("", id="filters", classes="empty")
                yield Static("", id="conv-empty", classes="empty")
                yield ConversationTable()
            with Vertical(id="right"):
                yield Static("Open a conversation: Enter on a row.", id="details")
                yield ThreadView()
                yield Static("", id="typing")
                yield Composer()
        yield Footer()

    def on_mount(self) -> None:
        self._layout(self.app.size.width)
        self.query_one(ConversationTable).focus()

    async def start(self, session: ConsoleSession) -> None:
        """Begin with this session (the app opens the database after the screen is up)."""
        self.session = session
        await self.refresh_all()
        self.set_interval(self.poll_interval, self._tick)
        session.db.on_change(self._changed)

    def _tick(self) -> None:
        self._ticks += 1
        if self.session.db.listening.is_set() and self._ticks % 5:
            self._show_typing()  # notifications wake the view; a typing line still times out
            return
        self.poll()

    def _changed(self) -> None:
        """A commit somewhere: read the feed soon (once for a burst of commits)."""
        if not self._wake_due:
            self._wake_due = True
            self.set_timer(0.05, self._woken)

    def _woken(self) -> None:
        self._wake_due = False
        self.poll()

    # -- layout by width ----------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        """Classes by width; the table fits its columns to its own width (``Refit``)."""
        self.set_class(width >= WIDE, "wide")
        self.set_class(width < NARROW, "narrow")

    @on(ConversationTable.Refit)
    def _refit(self) -> None:
        if self.session is not None:
            self._refresh_rows()

    def _show_thread_pane(self, on: bool) -> None:
        self.set_class(on, "-thread")

    # -- loading --------------------------------------------------------------------------------

    async def refresh_all(self) -> None:
        mark = await self.session.guard(data.change_mark(self.session.db))
        if mark is None:
            return
        self.mark = mark
        await self._load_inboxes()
        await self._load_rows()
        if self.current is not None:
            await self._load_thread(self.current)

    @work(exclusive=True, group="poll")
    async def poll(self) -> None:
        """Read the change feed; refresh the rows, and the thread if its conversation changed."""
        self._polls += 1
        if self._polls % 5 == 0:
            await self._load_inboxes()  # inbox and bot links change without events
        if self.mark is None:
            await self.refresh_all()
            return
        result = await self.session.guard(data.changed_since(self.session.db, self.session.who, self.mark))
        if result is None:
            return
        if result.newest == self.mark:
            self._show_typing()
            return
        self.mark = result.newest
        for display_id, (typing_on, name) in result.typing.items():
            if typing_on:
                self._typing[display_id] = (name, time.monotonic() + TYPING_SHOWN)
            else:
                self._typing.pop(display_id, None)
        for display_id in result.changed:
            self._typing.pop(display_id, None)
        self._show_typing()
        if result.changed:
            await self._load_rows()
        if self.current is not None and self.current in result.changed:
            await self._load_thread(self.current)

    def _show_typing(self) -> None:
        """"Jane is typing..." under the open thread while the customer types (30 s at most, as
        the widget's own indicator)."""
        now = time.monotonic()
        self._typing = {k: v for k, v in self._typing.items() if v[1] > now}
        shown = self._typing.get(self.current) if self.current is not None else None
        found = self.query("#typing")
        if not found:
            return  # the screen is being taken down (the app quits while a poll finishes)
        line = found.first(Static)
        line.update(f"{escape(shown[0])} is typing…" if shown else "")
        line.display = shown is not None

    @on(Composer.Typed)
    def _typed(self) -> None:
        """Tell the customer a human is typing: at most every few seconds, and "stopped" after a pause."""
        if self.current is None:
            return
        now = time.monotonic()
        if self._typing_sent != self.current or now - self._typing_at > TYPING_RESEND:
            self._typing_sent, self._typing_at = self.current, now
            self.run_worker(self.session.guard(data.typing(self.session.db, self.session.who, self.current, True), quiet=True),
                            group="typing")
        if self._typing_timer is not None:
            self._typing_timer.stop()
        self._typing_timer = self.set_timer(TYPING_PAUSE, self._typing_stopped)

    def _typing_stopped(self) -> None:
        display_id, self._typing_sent = self._typing_sent, None
        if display_id is not None:
            self.run_worker(self.session.guard(data.typing(self.session.db, self.session.who, display_id, False), quiet=True),
                            group="typing")

    async def _load_inboxes(self) -> None:
        rows = await self.session.guard(data.inbox_list(self.session.db, self.session.who))
        if rows is not None:
            await self.query_one(InboxList).show(rows)
            self._inboxes = rows

    def _refresh_rows(self) -> None:
        self.run_worker(self._load_rows(), exclusive=True, group="rows")

    async def _load_rows(self) -> None:
        loaded = await self.session.guard(
            data.listing(self.session.db, self.session.who, tab=self.tab, inbox_id=self.inbox_id, limit=PAGE,
                         search=self.filters.get("search"), status=self.filters.get("status"),
                         assignee=self.filters.get("assignee"))
        )
        if loaded is None:
            return
        for key, name in TAB_NAMES.items():
            self.query_one(f"#tab-{key}", Tab).label = f"{name} ({loaded.counts[key]})"
        self.query_one(ConversationTable).show(loaded.rows)
        for selector, text in (("#conv-empty", self._empty_text(loaded)), ("#filters", self._filters_text())):
            widget = self.query_one(selector, Static)
            widget.update(text)
            widget.display = bool(text)

    def _empty_text(self, loaded: data.Listing) -> str:
        if loaded.rows:
            return ""
        if not getattr(self, "_inboxes", None):
            return 'No inboxes yet. Create one: ndoto inboxes create --name "Website Chat" --channel web_widget'
        if self.filters:
            return "Nothing matches the search. / to change it, or / then Clear."
        return 'No conversations here. Try a bot: ndoto say --inbox <inbox> --contact Jane "Hello"  (or ndoto chat <inbox>)'

    def _filters_text(self) -> str:
        f = self.filters
        parts = [f"search: {f['search']!r}" if f.get("search") else "", f"status: {f['status']}" if f.get("status") else "",
                 f"assignee: {f['assignee']}" if f.get("assignee") else ""]
        shown = ", ".join(p for p in parts if p)
        return f"Filtered by {escape(shown)} (/ to change)" if shown else ""

    async def _load_thread(self, display_id: int) -> None:
        loaded = await self.session.guard(data.thread(self.session.db, self.session.who, display_id))
        if loaded is None:
            return
        conv, msgs = loaded
        self.current = display_id
        contact = conv["meta"]["sender"]
        self.query_one("#details", Static).update(
            f"[b]#{conv['id']} {escape(contact['name'])}[/b]  {escape(contact.get('email') or '')}  inbox: {escape(conv['inbox_name'])}\n"
            f"status: [b]{conv['status']}[/b]   {escape(owner_phrase(conv))}   last: {when(conv['last_activity_at'])}"
        )
        await self.query_one(ThreadView).show(display_id, msgs)
        self._show_typing()

    async def show_thread(self, display_id: int) -> None:
        await self._load_thread(display_id)
        self._show_thread_pane(True)

    # -- what the regions tell ------------------------------------------------------------------

    @on(Tabs.TabActivated, "#tabs")
    def _tab(self, event: Tabs.TabActivated) -> None:
        self.tab = (event.tab.id or "tab-all").removeprefix("tab-")
        if self.session is not None:
            self._refresh_rows()

    @on(InboxList.Chosen)
    def _inbox(self, event: InboxList.Chosen) -> None:
        self.inbox_id = event.inbox_id
        self._refresh_rows()
        self.query_one(ConversationTable).focus()

    @on(ConversationTable.Opened)
    async def _open(self, event: ConversationTable.Opened) -> None:
        await self.show_thread(event.display_id)

    @on(Composer.Send)
    def _send(self, event: Composer.Send) -> None:
        if self.current is None:
            self.app.notify("Open a conversation first (Enter on a row).", severity="warning")
            return
        self._run(data.send(self.session.db, self.session.who, self.current, event.text, event.private), done=None, sent=True)

    @work(group="action")
    async def _run(self, action: Any, *, done: str | None, sent: bool = False) -> None:
        if await self.session.guard(action) is not None:
            if sent:
                self.query_one(Composer).sent()
            if done:
                self.app.notify(done)
            await self.refresh_all()

    # -- actions --------------------------------------------------------------------------------

    def action_tab(self, tab: str) -> None:
        self.query_one("#tabs", Tabs).active = f"tab-{tab}"

    def action_back(self) -> None:
        self._show_thread_pane(False)
        self.query_one(ConversationTable).focus()

    def action_focus_composer(self) -> None:
        self._show_thread_pane(True)
        self.query_one("#composer", Input).focus()

    def action_toggle_note(self) -> None:
        self.query_one(Composer).toggle()

    def action_inboxes(self) -> None:
        rows = getattr(self, "_inboxes", [])

        def chosen(value: str | None) -> None:
            if value is not None:
                self.inbox_id = int(value) if value else None
                self._refresh_rows()

        options = [("All inboxes", "")] + [(f"{name} ({'bot: ' + bot if bot else 'no bot'})", str(iid)) for iid, name, bot in rows]
        self.app.push_screen(Picker("Show the conversations of", options), chosen)

    def _on_current(self, make: Any, done: str) -> None:
        if self.current is None:
            self.app.notify("Open a conversation first (Enter on a row).", severity="warning")
            return
        self._run(make(self.session.db, self.session.who, self.current), done=done)

    def action_take_over(self) -> None:
        self._on_current(data.take_over, "You have the conversation: the bot is silent now.")

    def action_hand_back(self) -> None:
        self._on_current(data.hand_back, "Handed back to the bot.")

    def action_resolve(self) -> None:
        self._on_current(partial(_status, status="resolved"), "Resolved.")

    def action_reopen(self) -> None:
        self._on_current(partial(_status, status="open"), "Reopened.")

    @work(group="dialog")
    async def action_assign(self) -> None:
        if self.current is None:
            self.app.notify("Open a conversation first (Enter on a row).", severity="warning")
            return
        options = await self.session.guard(data.assignees(self.session.db, self.session.who))
        if not options:
            return
        display_id = self.current

        def chosen(value: str | None) -> None:
            if value is not None:
                self._run(data.assign(self.session.db, self.session.who, display_id, value), done="Assigned.")

        self.app.push_screen(Picker(f"Assign conversation #{display_id} to", options), chosen)

    @work(group="dialog")
    async def action_search(self) -> None:
        people = await self.session.guard(data.people(self.session.db, self.session.who)) or []
        inboxes = [(name, str(iid)) for iid, name, _bot in getattr(self, "_inboxes", [])]

        def chosen(result: dict[str, Any] | None) -> None:
            if result is None:
                return
            self.inbox_id = result.pop("inbox_id", None) if result else None
            self.filters = {k: v for k, v in result.items() if v}
            self.query_one("#tabs", Tabs).active = "tab-all"
            self._refresh_rows()
            self.query_one(ConversationTable).focus()

        current = {**self.filters, "inbox_id": self.inbox_id}
        self.app.push_screen(SearchDialog(inboxes, people, current), chosen)


async def _status(db: Any, who: data.Who, display_id: int, *, status: str) -> Any:
    return await data.set_status(db, who, display_id, status)
