"""``ndoto tui``: the agents' console. The app opens the database, finds who is acting, and shows
the inbox view; the screens do the rest (``tui.screens``, ``tui.admin``), each with a ``ConsoleSession``."""

from __future__ import annotations

from functools import partial
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from ndoto_cli.core import heap
from ndoto_cli.core.db import Database
from ndoto_cli.core.errors import NdotoError
from ndoto_cli.core.settings import Settings
from ndoto_cli.tui import data
from ndoto_cli.tui.admin import BotsScreen, DeliveriesScreen
from ndoto_cli.tui.modals import Help
from ndoto_cli.tui.screens import InboxScreen
from ndoto_cli.tui.session import ConsoleSession


class Actions(Provider):
    """The console's own actions in the command palette, listed first when nothing is typed."""

    COMMANDS = [
        ("Search conversations", "screen.search"), ("Take over from the bot", "screen.take_over"),
        ("Hand back to the bot", "screen.hand_back"), ("Assign to...", "screen.assign"), ("Resolve conversation", "screen.resolve"),
        ("Reopen conversation", "screen.reopen"), ("Switch reply / private note", "screen.toggle_note"),
        ("Write in the composer", "screen.focus_composer"), ("Choose the inbox", "screen.inboxes"), ("Bots", "app.bots"),
        ("Deliveries", "app.deliveries"), ("Help", "app.help"), ("Refresh now", "app.refresh_now"),
    ]

    def _run(self, action: str) -> Any:
        return partial(self.app.run_action, action)

    async def discover(self) -> Hits:
        for label, action in self.COMMANDS:
            yield DiscoveryHit(label, self._run(action), help=f"action: {action.split('.', 1)[1]}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, action in self.COMMANDS:
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), self._run(action), help=f"action: {action.split('.', 1)[1]}")


class InboxApp(App[None]):
    CSS_PATH = "ndoto.tcss"
    TITLE = "Ndoto"
    COMMANDS = App.COMMANDS | {Actions}
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("B", "bots", "Bots"),
        Binding("D", "deliveries", "Deliveries"),
    ]

    def __init__(self, settings: Settings, *, as_email: str | None = None, account: str | None = None, poll_interval: float = 0.7) -> None:
        super().__init__()
        self.settings = settings
        self.as_email = as_email
        self.account = account
        self.poll_interval = poll_interval
        self.db: Database = None  # type: ignore[assignment]
        self.session: ConsoleSession | None = None
        self.error: str | None = None
        self.inbox = InboxScreen(poll_interval=poll_interval)

    def get_default_screen(self) -> InboxScreen:
        """The inbox view is the app's first screen; it starts once the database is open."""
        return self.inbox

    async def on_mount(self) -> None:
        try:
            self.db = await Database(self.settings).open()
            who = await data.resolve_user(self.db, email=self.as_email, account=self.account)
        except NdotoError as exc:
            self._fail(exc.message + (f" ({exc.hint})" if exc.hint else ""))
            return
        except Exception as exc:  # noqa: BLE001 - a corrupt or unreadable database: one line, no traceback
            from ndoto_cli.core.db.database import explain

            self._fail(explain(exc, self.settings))
            return
        self.sub_title = f"{who.user.name} <{who.user.email}>"
        self.session = ConsoleSession(self.db, who, self.notify)
        await self.inbox.start(self.session)
        self.call_after_refresh(heap.set_aside)  # after the first paint (core.heap says why)

    def _fail(self, message: str) -> None:
        """Exit, once the first screen has finished mounting (exiting in the middle of its mount
        trips Textual's own widgets); ``ndoto tui`` then prints ``error`` as its one line."""
        self.error = message
        self.call_after_refresh(self.exit, return_code=1)

    async def on_unmount(self) -> None:
        heap.give_back()
        if self.db is not None:
            await self.db.close()

    # The inbox view's state, for scripts and tests that drive the app.
    @property
    def current(self) -> int | None:
        return self.inbox.current

    async def show_thread(self, display_id: int) -> None:
        await self.inbox.show_thread(display_id)

    def action_bots(self) -> None:
        if self.session is not None and not isinstance(self.screen, BotsScreen):
            self.push_screen(BotsScreen(self.session))

    def action_deliveries(self) -> None:
        if self.session is not None and not isinstance(self.screen, DeliveriesScreen):
            self.push_screen(DeliveriesScreen(self.session))

    def action_help(self) -> None:
        self.push_screen(Help())

    async def action_refresh_now(self) -> None:
        await self.inbox.refresh_all()
