"""The Bots and Deliveries screens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ndoto_cli.tui import data
from ndoto_cli.tui.modals import Confirm, NewBot, Picker, TokenShown

if TYPE_CHECKING:
    from ndoto_cli.tui.app import InboxApp


class BotsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("c", "create", "Create bot"),
        Binding("k", "reset_token", "Reset token"),
        Binding("a", "assign", "Assign to inbox"),
    ]

    @property
    def main(self) -> InboxApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="bots-empty", classes="empty")
        table: DataTable[Any] = DataTable(id="bots", cursor_type="row")
        table.add_columns("id", "name", "type", "inboxes", "recent deliveries")
        yield table
        yield Footer()

    async def on_mount(self) -> None:
        await self.reload()

    async def reload(self) -> None:
        rows = await self.main.guard(data.bot_rows(self.main.db, self.main.who))
        if rows is None:
            return
        table = self.query_one("#bots", DataTable)
        cursor = table.cursor_row
        table.clear()
        for r in rows:
            b = r["bot"]
            health = ", ".join(f"{n} {s}" for s, n in sorted(r["health"].items())) or "-"
            kind = b.bot_type + (" (system)" if b.account_id is None else "")
            table.add_row(str(b.id), b.name, kind, ", ".join(r["inboxes"]) or "-", health, key=str(b.id))
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))
        self.query_one("#bots-empty", Static).update(
            "" if rows else "No bots yet. Press c to create one, or: ndoto bots create --type webhook --name MyBot --url https://..."
        )

    def _selected(self) -> int | None:
        table = self.query_one("#bots", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key else None

    def action_create(self) -> None:
        async def created(values: dict[str, Any] | None) -> None:
            if not values:
                return
            from ndoto_cli.core.services import bots

            result = await self.main.guard(
                self.main.db.write(lambda s: bots.create_bot(s, account_id=self.main.who.account_id, **values))
            )
            if result is not None:
                bot, token = result
                await self.reload()
                self.app.push_screen(TokenShown(f"bot {bot.name}", token))

        self.app.push_screen(NewBot(), created)

    def action_reset_token(self) -> None:
        bot_id = self._selected()
        if bot_id is None:
            return
        from ndoto_cli.core.services import bots

        async def answered(yes: bool | None) -> None:
            if not yes:
                return
            result = await self.main.guard(
                self.main.db.write(lambda s: bots.reset_bot_token(s, account_id=self.main.who.account_id, bot_id=bot_id))
            )
            if result is not None:
                bot, token = result
                self.app.push_screen(TokenShown(f"bot {bot.name}", token, note="Store it now: it is shown only once. The old token no longer works."))

        name = self.query_one("#bots", DataTable).get_row(str(bot_id))[1]
        self.app.push_screen(
            Confirm(f"Reset the access token of bot {name}?\nThe running bot's token stops working at once.", action="Reset token"),
            answered,
        )

    async def action_assign(self) -> None:
        bot_id = self._selected()
        if bot_id is None:
            return
        inboxes = await self.main.guard(data.inbox_list(self.main.db, self.main.who))
        if not inboxes:
            self.app.notify("No inboxes yet: ndoto inboxes create --name ... --channel web_widget", severity="warning")
            return

        async def chosen(value: str | None) -> None:
            if value is None:
                return
            from ndoto_cli.core.services import inboxes as inbox_svc

            done = await self.main.guard(
                self.main.db.write(
                    lambda s: inbox_svc.set_inbox_bot(s, account_id=self.main.who.account_id, inbox_id=int(value), bot_id=bot_id)
                )
            )
            if done is not None:
                self.app.notify(f"{done.bot.name} now answers {done.inbox.name}")
                await self.reload()

        options = [(f"{name} (now: {bot or 'no bot'})", str(iid)) for iid, name, bot in inboxes]
        self.app.push_screen(Picker("Assign to which inbox?", options), chosen)


class DeliveriesScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "retry", "Retry selected"),
        Binding("R", "retry_all", "Retry all"),
    ]

    @property
    def main(self) -> InboxApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="deliveries-empty", classes="empty")
        table: DataTable[Any] = DataTable(id="deliveries", cursor_type="row")
        table.add_columns("id", "event", "bot", "conversation", "attempts", "reason")
        yield table
        yield Footer()

    async def on_mount(self) -> None:
        await self.reload()

    async def reload(self) -> None:
        rows = await self.main.guard(data.failures(self.main.db, self.main.who))
        if rows is None:
            return
        table = self.query_one("#deliveries", DataTable)
        table.clear()
        for d in rows:
            table.add_row(str(d["id"]), d["event"], str(d["agent_bot_id"]), str(d["conversation_id"] or "-"), str(d["attempts"]),
                          (d["last_error"] or str(d["last_status_code"] or ""))[:80], key=str(d["id"]))
        self.query_one("#deliveries-empty", Static).update("" if rows else "No failed deliveries. All good.")

    async def _retry(self, ids: list[int]) -> None:
        from ndoto_cli.core.services import deliveries

        done = await self.main.guard(self.main.db.write(lambda s: deliveries.retry(s, delivery_ids=ids)))
        if done is not None:
            self.app.notify(f"{done} deliver{'y' if done == 1 else 'ies'} due again")
            await self.reload()

    async def action_retry(self) -> None:
        table = self.query_one("#deliveries", DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            await self._retry([int(key)])  # type: ignore[arg-type]

    async def action_retry_all(self) -> None:
        rows = await self.main.guard(data.failures(self.main.db, self.main.who, limit=10_000))
        if rows:
            await self._retry([d["id"] for d in rows])
