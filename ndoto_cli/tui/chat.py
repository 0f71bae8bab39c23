"""``ndoto chat``: a small customer-side chat with an inbox, to try a bot by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.markup import escape
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Input, Static

from ndoto_cli.core.db import Database
from ndoto_cli.core.errors import NdotoError
from ndoto_cli.core.models import SenderType
from ndoto_cli.core.settings import Settings


class ChatApp(App[None]):
    CSS_PATH = "ndoto.tcss"
    TITLE = "Ndoto chat"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit"), Binding("escape", "quit", "Quit", show=False)]

    def __init__(self, settings: Settings, *, inbox: str, contact: str, account: str | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.inbox_ref = inbox
        self.contact = contact
        self.account = account
        self.db: Database = None  # type: ignore[assignment]
        self.inbox: Any = None
        self.conversation_id: int | None = None
        self.error: str | None = None
        self.seen = -1

    def compose(self) -> ComposeResult:
        yield Header()
        yield VerticalScroll(id="thread")
        yield Input(placeholder="Write as the customer and press Enter", id="composer")
        yield Footer()

    async def on_mount(self) -> None:
        from ndoto_cli.core.services import accounts, inboxes

        try:
            self.db = await Database(self.settings).open()
            async with self.db.read() as s:
                account = await accounts.resolve_account(s, self.account)
                self.inbox = await inboxes.find_inbox(s, account_id=account.id, ref=self.inbox_ref)  # type: ignore[arg-type]
        except NdotoError as exc:
            self.error = exc.message
            self.exit(return_code=1)
            return
        except Exception as exc:  # noqa: BLE001 - a corrupt or unreadable database: one line, no traceback
            from ndoto_cli.core.db.database import explain

            self.error = explain(exc, self.settings)
            self.exit(return_code=1)
            return
        self.sub_title = f"{self.contact} writing to {self.inbox.name}"
        self.query_one("#composer", Input).focus()
        await self.poll()
        self.set_interval(0.5, self.poll)

    async def on_unmount(self) -> None:
        if self.db is not None:
            await self.db.close()

    async def poll(self) -> None:
        from ndoto_cli.core.services import customers

        async with self.db.read() as s:
            conv = await customers.latest_conversation_of(s, inbox_id=self.inbox.id, contact_name=self.contact)
            if conv is None:
                return
            rows = await customers.contact_thread(s, conversation_id=conv.id)
        newest = rows[-1].id if rows else 0
        if newest == self.seen:
            return
        self.seen = newest
        thread = self.query_one("#thread", VerticalScroll)
        await thread.remove_children()
        widgets = []
        for m in rows:
            when = datetime.fromtimestamp(m.created_at).strftime("%H:%M")
            if m.message_type == 0:
                widgets.append(Static(f"{when} [b]you[/b]\n{escape(m.content or '')}", classes="msg-in"))
            else:
                who = "bot" if m.sender_type == SenderType.agent_bot else "agent"
                widgets.append(Static(f"{when} [b]{who}[/b]\n{escape(m.content or '')}", classes="msg-bot" if who == "bot" else "msg-out"))
        await thread.mount_all(widgets)
        thread.scroll_end(animate=False)

    @on(Input.Submitted, "#composer")
    async def _send(self, event: Input.Submitted) -> None:
        from ndoto_cli.core.services import customers

        text = event.value.strip()
        if not text:
            return
        try:
            await self.db.write(lambda s: customers.say(s, inbox=self.inbox, contact_name=self.contact, content=text))
        except NdotoError as exc:
            self.notify(exc.message, severity="error")
            return
        event.input.value = ""
        await self.poll()
