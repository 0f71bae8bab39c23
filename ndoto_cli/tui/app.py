"""``ndoto tui``: inboxes, conversation tabs, the thread, a composer, and every action on them."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from rich.markup import escape
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Input, Label, ListItem, ListView, Static, Tab, Tabs

from ndoto_cli.core.db import Database
from ndoto_cli.core.errors import NdotoError
from ndoto_cli.core.settings import Settings
from ndoto_cli.core.views import message_kind, owner_text
from ndoto_cli.tui import data
from ndoto_cli.tui.modals import Help, Picker
from ndoto_cli.tui.screens import BotsScreen, DeliveriesScreen

T = TypeVar("T")
TAB_NAMES = {"mine": "Mine", "bot": "Bot", "open": "Open", "resolved": "Resolved", "all": "All"}
PAGE = 200  # rows per tab view: newest first; the rest by narrowing (inbox, tab)


class Actions(Provider):
    """Every action in the command palette."""

    COMMANDS = [
        ("Take over from the bot", "take_over"), ("Hand back to the bot", "hand_back"), ("Assign to...", "assign"),
        ("Resolve conversation", "resolve"), ("Reopen conversation", "reopen"), ("Toggle reply / private note", "toggle_note"),
        ("Write in the composer", "focus_composer"), ("Bots", "bots"), ("Deliveries", "deliveries"), ("Help", "help"),
        ("Refresh now", "refresh_now"),
    ]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, action in self.COMMANDS:
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(self.app.run_action, action), help=f"action: {action}")


class InboxApp(App[None]):
    CSS_PATH = "ndoto.tcss"
    TITLE = "Ndoto"
    COMMANDS = App.COMMANDS | {Actions}
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("i", "focus_composer", "Write"),
        Binding("escape", "focus_list", "List", show=False),
        Binding("ctrl+n", "toggle_note", "Reply/Note", priority=True),
        Binding("t", "take_over", "Take over"),
        Binding("b", "hand_back", "To bot"),
        Binding("a", "assign", "Assign"),
        Binding("r", "resolve", "Resolve"),
        Binding("o", "reopen", "Reopen"),
        Binding("B", "bots", "Bots"),
        Binding("D", "deliveries", "Deliveries"),
        *[Binding(str(n), f"tab('{tab}')", show=False) for n, tab in enumerate(TAB_NAMES, start=1)],
    ]

    def __init__(self, settings: Settings, *, as_email: str | None = None, account: str | None = None, poll_interval: float = 0.7) -> None:
        super().__init__()
        self.settings = settings
        self.as_email = as_email
        self.account = account
        self.poll_interval = poll_interval
        self.db: Database = None  # type: ignore[assignment]
        self.who: data.Who = None  # type: ignore[assignment]
        self.tab = "all"
        self.inbox_id: int | None = None
        self.current: int | None = None
        self.private = False
        self.mark = -1

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            yield ListView(id="inboxes")
            with Vertical(id="middle"):
                yield Tabs(*[Tab(name, id=f"tab-{key}") for key, name in TAB_NAMES.items()], id="tabs")
                yield Static("", id="conv-empty", classes="empty")
                table: DataTable[Any] = DataTable(id="conversations", cursor_type="row", zebra_stripes=True)
                table.add_columns("#", "contact", "last message", "time", "status", "owner")
                yield table
            with Vertical(id="right"):
                yield Static("Select a conversation (Enter).", id="details")
                yield VerticalScroll(id="thread")
                with Horizontal(id="composer-row"):
                    yield Label("Reply", id="mode")
                    yield Input(placeholder="Reply to the customer (Enter sends, Ctrl+N: private note)", id="composer")
        yield Footer()

    async def on_mount(self) -> None:
        try:
            self.db = await Database(self.settings).open()
            self.who = await data.resolve_user(self.db, email=self.as_email, account=self.account)
        except NdotoError as exc:
            self.exit(return_code=1, message=f"Error: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
            return
        self.sub_title = f"{self.who.user.name} <{self.who.user.email}>"
        self.query_one("#tabs", Tabs).active = "tab-all"
        await self.refresh_all()
        self.set_interval(self.poll_interval, self.poll)

    async def on_unmount(self) -> None:
        if self.db is not None:
            await self.db.close()

    # -- helpers --------------------------------------------------------------------------------
    async def guard(self, awaitable: Awaitable[T]) -> T | None:
        """Run a core call; a failure becomes a notification, never a crash."""
        try:
            return await awaitable
        except NdotoError as exc:
            self.notify(exc.message + (f" ({exc.hint})" if exc.hint else ""), severity="error", title="Not done")
        except Exception as exc:  # noqa: BLE001 - e.g. the database is busy: say so, keep running
            self.notify(f"{type(exc).__name__}: {exc}", severity="error", title="Error")
        return None

    async def poll(self) -> None:
        mark = await self.guard(data.change_mark(self.db))
        if mark is not None and mark != self.mark:
            await self.refresh_all()

    async def refresh_all(self) -> None:
        mark = await self.guard(data.change_mark(self.db))
        if mark is None:
            return
        self.mark = mark
        await self.refresh_inboxes()
        await self.refresh_conversations()
        if self.current is not None:
            await self.show_thread(self.current)

    async def refresh_inboxes(self) -> None:
        rows = await self.guard(data.inbox_list(self.db, self.who))
        if rows is None:
            return
        view = self.query_one("#inboxes", ListView)
        wanted = [("inbox-all", "All inboxes")] + [
            (f"inbox-{iid}", f"{name}\n  [dim]{'bot: ' + bot if bot else 'no bot'}[/dim]") for iid, name, bot in rows
        ]
        current = [(item.id, str(item.query_one(Label).content)) for item in view.query(ListItem)]
        if [w[0] for w in wanted] != [c[0] for c in current] or [w[1] for w in wanted] != [c[1] for c in current]:
            index = view.index
            await view.clear()
            await view.extend([ListItem(Label(text), id=item_id) for item_id, text in wanted])
            view.index = min(index or 0, len(wanted) - 1)
        if not rows:
            self.query_one("#conv-empty", Static).update(
                'No inboxes yet. Create one: ndoto inboxes create --name "Website Chat" --channel web_widget'
            )

    async def refresh_conversations(self) -> None:
        from ndoto_cli.core.queries import conversation_rows, tab_counts

        async def load() -> Any:
            async with self.db.read() as s:
                counts = await tab_counts(s, account_id=self.who.account_id, user_id=self.who.user.id, inbox_id=self.inbox_id)
                rows = await conversation_rows(
                    s, account_id=self.who.account_id, tab=self.tab, user_id=self.who.user.id, inbox_id=self.inbox_id, limit=PAGE
                )
                return counts, rows

        loaded = await self.guard(load())
        if loaded is None:
            return
        counts, rows = loaded
        for key, name in TAB_NAMES.items():
            self.query_one(f"#tab-{key}", Tab).label = f"{name} ({counts[key]})"
        table = self.query_one("#conversations", DataTable)
        keep = None
        if table.row_count:
            keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        scroll = table.scroll_y
        table.clear()
        for r in rows:
            when = datetime.fromtimestamp(r.last_activity_at).strftime("%m-%d %H:%M")
            table.add_row(str(r.display_id), r.contact, r.excerpt, when, r.status, r.owner, key=str(r.display_id))
        if keep is not None and keep in [str(r.display_id) for r in rows]:
            table.move_cursor(row=table.get_row_index(keep), scroll=False)
        table.scroll_to(y=scroll, animate=False)
        empty = ""
        if not rows:
            empty = "No conversations here. Try a bot: ndoto say --inbox <inbox> --contact Jane \"Hello\"  (or ndoto chat <inbox>)"
        if self.query("#inboxes ListItem").__len__() <= 1:
            empty = 'No inboxes yet. Create one: ndoto inboxes create --name "Website Chat" --channel web_widget'
        self.query_one("#conv-empty", Static).update(empty)

    async def show_thread(self, display_id: int) -> None:
        loaded = await self.guard(data.thread(self.db, self.who, display_id))
        if loaded is None:
            return
        conv, msgs = loaded
        self.current = display_id
        who = owner_text(conv)
        contact = conv["meta"]["sender"]
        self.query_one("#details", Static).update(
            f"[b]#{conv['id']} {escape(contact['name'])}[/b]  {escape(contact.get('email') or '')}  inbox: {escape(conv['inbox_name'])}\n"
            f"status: [b]{conv['status']}[/b]   answered by: {escape(who)}"
        )
        thread = self.query_one("#thread", VerticalScroll)
        at_bottom = thread.scroll_y >= thread.max_scroll_y - 1
        scroll = thread.scroll_y
        widgets = [self._message_widget(m) for m in msgs]
        await thread.remove_children()
        await thread.mount_all(widgets)
        if at_bottom:
            thread.scroll_end(animate=False)
        else:
            thread.scroll_to(y=scroll, animate=False)

    @staticmethod
    def _message_widget(m: dict[str, Any]) -> Static:
        when = datetime.fromtimestamp(m["created_at"]).strftime("%H:%M")
        name = escape((m["sender"] or {}).get("name", ""))
        text = escape(m["content"] or "")
        kind = message_kind(m)
        if kind == "activity":
            return Static(f"{when} · {text}", classes="msg-activity")
        if kind == "note":
            return Static(f"{when} [b]{name}[/b] (private note)\n{text}", classes="msg-note")
        if kind == "customer":
            return Static(f"{when} [b]{name}[/b]\n{text}", classes="msg-in")
        return Static(f"{when} [b]{name}[/b] ({kind})\n{text}", classes="msg-bot" if kind == "bot" else "msg-out")

    # -- events ---------------------------------------------------------------------------------
    @on(Tabs.TabActivated, "#tabs")
    async def _tab(self, event: Tabs.TabActivated) -> None:
        self.tab = (event.tab.id or "tab-all").removeprefix("tab-")
        if self.db is not None and self.who is not None:
            await self.refresh_conversations()

    @on(ListView.Selected, "#inboxes")
    async def _inbox(self, event: ListView.Selected) -> None:
        raw = (event.item.id or "inbox-all").removeprefix("inbox-")
        self.inbox_id = None if raw == "all" else int(raw)
        await self.refresh_conversations()

    @on(DataTable.RowSelected, "#conversations")
    async def _open(self, event: DataTable.RowSelected) -> None:
        await self.show_thread(int(event.row_key.value))  # type: ignore[arg-type]

    @on(Input.Submitted, "#composer")
    async def _send(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        if self.current is None:
            self.notify("Open a conversation first (Enter on a row).", severity="warning")
            return
        sent = await self.guard(data.send(self.db, self.who, self.current, text, self.private))
        if sent is not None:
            event.input.value = ""
            await self.refresh_all()

    # -- actions --------------------------------------------------------------------------------
    async def action_tab(self, tab: str) -> None:
        self.query_one("#tabs", Tabs).active = f"tab-{tab}"

    def action_focus_list(self) -> None:
        self.query_one("#conversations", DataTable).focus()

    def action_focus_composer(self) -> None:
        self.query_one("#composer", Input).focus()

    def action_toggle_note(self) -> None:
        self.private = not self.private
        label = self.query_one("#mode", Label)
        composer = self.query_one("#composer", Input)
        label.update("Note" if self.private else "Reply")
        label.set_class(self.private, "note")
        composer.set_class(self.private, "note")
        composer.placeholder = (
            "Private note: only agents see it (Enter saves, Ctrl+N: reply)" if self.private
            else "Reply to the customer (Enter sends, Ctrl+N: private note)"
        )

    async def _on_current(self, action: Any, done: str) -> None:
        if self.current is None:
            self.notify("Open a conversation first (Enter on a row).", severity="warning")
            return
        if await self.guard(action(self.db, self.who, self.current)) is not None:
            self.notify(done)
            await self.refresh_all()

    async def action_take_over(self) -> None:
        await self._on_current(data.take_over, "You have the conversation: the bot is silent now.")

    async def action_hand_back(self) -> None:
        await self._on_current(data.hand_back, "Handed back to the bot.")

    async def action_resolve(self) -> None:
        await self._on_current(partial(_status, status="resolved"), "Resolved.")

    async def action_reopen(self) -> None:
        await self._on_current(partial(_status, status="open"), "Reopened.")

    async def action_assign(self) -> None:
        if self.current is None:
            self.notify("Open a conversation first (Enter on a row).", severity="warning")
            return
        options = await self.guard(data.assignees(self.db, self.who))
        if not options:
            return
        display_id = self.current

        async def chosen(value: str | None) -> None:
            if value is not None and await self.guard(data.assign(self.db, self.who, display_id, value)) is not None:
                self.notify("Assigned.")
                await self.refresh_all()

        self.push_screen(Picker(f"Assign conversation #{display_id} to", options), chosen)

    def action_bots(self) -> None:
        self.push_screen(BotsScreen())

    def action_deliveries(self) -> None:
        self.push_screen(DeliveriesScreen())

    def action_help(self) -> None:
        self.push_screen(Help())

    async def action_refresh_now(self) -> None:
        await self.refresh_all()


async def _status(db: Database, who: data.Who, display_id: int, *, status: str) -> Any:
    return await data.set_status(db, who, display_id, status)
