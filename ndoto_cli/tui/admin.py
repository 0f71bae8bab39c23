"""The administrator's screens of the console: bots (create, change, delete, token and secret,
ping, assign to an inbox) and deliveries (live, filtered by status, retry).

Like the inbox view (``tui.screens``), each is made with a :class:`ConsoleSession`, works
through ``tui.data`` and runs its reads and actions in Textual workers.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ndoto_cli.core.errors import NdotoError
from ndoto_cli.core.present import DAY_COLUMNS, stats_day_rows, stats_rows
from ndoto_cli.tui import data
from ndoto_cli.tui.modals import BotForm, Confirm, Picker, SuggestionForm, TokenShown
from ndoto_cli.tui.session import ConsoleSession
from ndoto_cli.tui.widgets import when


class BotsScreen(Screen[None]):
    """Every bot of the account: create, change, delete, token, secret, ping, assign."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("c", "create", "Create"),
        Binding("e", "edit", "Change"),
        Binding("delete,x", "delete", "Delete"),
        Binding("k", "reset_token", "Reset token"),
        Binding("s", "secret", "Secret"),
        Binding("S", "reset_secret", "Reset secret", show=False),
        Binding("p", "ping", "Ping"),
        Binding("a", "assign", "Assign to inbox"),
        Binding("o", "outcomes", "Outcomes"),
        Binding("g", "suggestions", "Suggestions"),
    ]

    def __init__(self, session: ConsoleSession) -> None:
        super().__init__()
        self.session = session
        self._bots: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="bots-empty", classes="empty")
        table: DataTable[str] = DataTable(id="bots", cursor_type="row")
        table.add_columns("id", "name", "type", "target", "inboxes", "recent deliveries")
        yield table
        yield Footer()

    async def on_mount(self) -> None:
        await self.reload()
        self.query_one("#bots", DataTable).focus()

    async def reload(self) -> None:
        rows = await self.session.guard(data.bot_rows(self.session.db, self.session.who))
        if rows is None:
            return
        table = self.query_one("#bots", DataTable)
        cursor = table.cursor_row
        table.clear()
        self._bots = {}
        for r in rows:
            b = r["bot"]
            self._bots[str(b.id)] = r
            health = ", ".join(f"{n} {s}" for s, n in sorted(r["health"].items())) or "-"
            kind = ("AI agent" if b.bot_type == "ai_agent" else "webhook") + (" (system)" if b.account_id is None else "")
            target = b.outgoing_url or (b.api_base or b.model or "server's model")
            if b.disabled_reason:
                health = f"DISABLED: {b.disabled_reason}"
            table.add_row(str(b.id), b.name, kind, target, ", ".join(r["inboxes"]) or "-", health, key=str(b.id))
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))
        empty = self.query_one("#bots-empty", Static)
        empty.update("" if rows else "No bots yet. Press c to create one, or: ndoto bots create --type webhook --name MyBot --url https://...")
        empty.display = not rows

    def _selected(self) -> Any | None:
        table = self.query_one("#bots", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self._bots.get(key or "", {}).get("bot")

    async def _save_new(self, values: dict[str, Any]) -> tuple[Any, str | None]:
        try:
            return await data.create_bot(self.session.db, self.session.who, values), None
        except NdotoError as exc:
            return None, exc.message

    def action_create(self) -> None:
        async def created(result: Any) -> None:
            if not result:
                return
            bot, token = result
            await self.reload()
            self.app.push_screen(TokenShown(f"bot {bot.name}", token))

        self.app.push_screen(BotForm(save=self._save_new), created)

    def action_edit(self) -> None:
        bot = self._selected()
        if bot is None:
            return

        async def save(values: dict[str, Any]) -> tuple[Any, str | None]:
            try:
                return await data.update_bot(self.session.db, self.session.who, bot.id, values), None
            except NdotoError as exc:
                return None, exc.message

        async def saved(result: Any) -> None:
            if result:
                self.app.notify(f"Saved {result.name}.")
                await self.reload()

        self.app.push_screen(BotForm(bot, save=save), saved)

    def _confirmed(self, question: str, action: str, then: Any) -> None:
        async def answered(yes: bool | None) -> None:
            if yes:
                await then()

        self.app.push_screen(Confirm(question, action=action), answered)

    def action_delete(self) -> None:
        bot = self._selected()
        if bot is None:
            return

        async def delete() -> None:
            if await self.session.guard(data.delete_bot(self.session.db, self.session.who, bot.id)) is not None:
                self.app.notify(f"Deleted bot {bot.name}.")
                await self.reload()

        self._confirmed(f"Delete bot {bot.name}?\nIts inboxes lose their bot and its token stops working.", "Delete", delete)

    def action_reset_token(self) -> None:
        bot = self._selected()
        if bot is None:
            return

        async def reset() -> None:
            result = await self.session.guard(data.reset_token(self.session.db, self.session.who, bot.id))
            if result is not None:
                self.app.push_screen(TokenShown(f"bot {bot.name}", result[1], note="Store it now: it is shown only once. The old token no longer works."))

        self._confirmed(f"Reset the access token of bot {bot.name}?\nThe running bot's token stops working at once.", "Reset token", reset)

    @work(group="bots")
    async def action_secret(self) -> None:
        bot = self._selected()
        if bot is None:
            return
        secret = await self.session.guard(data.bot_secret(self.session.db, self.session.who, bot.id))
        if secret is not None:
            self.app.push_screen(TokenShown(
                f"bot {bot.name}", secret, kind="Signing secret",
                note="Webhooks are signed with it (Standard Webhooks). S resets it; the bot's verifier then needs the new one.",
            ))

    def action_reset_secret(self) -> None:
        bot = self._selected()
        if bot is None:
            return

        async def reset() -> None:
            result = await self.session.guard(data.reset_secret(self.session.db, self.session.who, bot.id))
            if result is not None:
                self.app.push_screen(TokenShown(f"bot {bot.name}", result.secret, kind="New signing secret",
                                                note="Give it to the bot's verifier now: webhooks are signed with it from now on."))

        self._confirmed(f"Reset the signing secret of bot {bot.name}?\nIts verifier rejects our webhooks until it has the new one.",
                        "Reset secret", reset)

    @work(group="bots")
    async def action_ping(self) -> None:
        bot = self._selected()
        if bot is None:
            return
        if bot.bot_type != "webhook":
            self.app.notify("Ping sends a test event to a webhook bot; try an AI agent with: ndoto bots try", severity="warning")
            return
        self.app.notify(f"Pinging {bot.name}...")
        result = await data.ping(bot.id, self.session.who.account_id)
        if result.get("ok"):
            self.app.notify(f"{bot.name}: HTTP {result.get('status_code')} in {result.get('duration_ms')} ms", title="Ping OK")
        else:
            self.app.notify(f"{bot.name}: {result.get('error')}", severity="error", title="Ping failed")

    def action_outcomes(self) -> None:
        bot = self._selected()
        if bot is not None:
            self.app.push_screen(BotStatsScreen(self.session, bot))

    def action_suggestions(self) -> None:
        bot = self._selected()
        if bot is None:
            return
        if bot.bot_type != "ai_agent":
            self.app.notify("Suggested FAQ entries are an AI agent's (drafted by: ndoto kb suggest BOT)", severity="warning")
            return
        self.app.push_screen(SuggestionsScreen(self.session, bot))

    @work(group="bots")
    async def action_assign(self) -> None:
        bot = self._selected()
        if bot is None:
            return
        rows = await self.session.guard(data.inbox_list(self.session.db, self.session.who))
        if not rows:
            self.app.notify("No inboxes yet: ndoto inboxes create --name ... --channel web_widget", severity="warning")
            return

        async def chosen(value: str | None) -> None:
            if value is None:
                return
            done = await self.session.guard(data.assign_to_inbox(self.session.db, self.session.who, bot.id, int(value)))
            if done is not None:
                self.app.notify(f"{done.bot.name} now answers {done.inbox.name}")
                await self.reload()

        options = [(f"{name} (now: {current or 'no bot'})", str(iid)) for iid, name, current in rows]
        self.app.push_screen(Picker(f"Which inbox should {bot.name} answer?", options), chosen)


class SuggestionsScreen(Screen[None]):
    """An AI agent's drafted FAQ entries (``ndoto kb suggest``): read, edit, accept into the
    knowledge base, reject. A draft that may hold personal data is accepted only on a second yes."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("e", "edit", "Edit"),
        Binding("a", "accept", "Accept"),
        Binding("x", "reject", "Reject"),
    ]

    def __init__(self, session: ConsoleSession, bot: Any) -> None:
        super().__init__()
        self.session = session
        self.bot = bot
        self._rows: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="suggestions-empty", classes="empty")
        table: DataTable[str] = DataTable(id="suggestions", cursor_type="row")
        table.add_columns("id", "from", "question", "answer", "personal data")
        yield table
        yield Footer()

    async def on_mount(self) -> None:
        await self.reload()
        self.query_one("#suggestions", DataTable).focus()

    async def reload(self) -> None:
        rows = await self.session.guard(data.suggestion_rows(self.session.db, self.session.who, self.bot.id))
        if rows is None:
            return
        table = self.query_one("#suggestions", DataTable)
        table.clear()
        self._rows = {str(r["id"]): r for r in rows}
        for r in rows:
            flags = ", ".join(f"{p['kind']}: {p['text']}" for p in r["personal_data"]) or "-"
            table.add_row(str(r["id"]), f"#{r['conversation_id']}", r["question"], r["answer"][:80], flags, key=str(r["id"]))
        empty = self.query_one("#suggestions-empty", Static)
        empty.update("" if rows else f"No drafted FAQ entries for {self.bot.name}. Draft some from resolved handoffs: ndoto kb suggest {self.bot.name}")
        empty.display = not rows

    def _selected(self) -> dict[str, Any] | None:
        table = self.query_one("#suggestions", DataTable)
        if table.row_count == 0:
            return None
        return self._rows.get(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or "")

    async def _decide(self, row: dict[str, Any], action: str, **extra: Any) -> dict[str, Any] | None:
        return await self.session.guard(data.decide_suggestion(self.session.db, self.session.who, self.bot.id, row["id"], action, **extra))

    def action_edit(self) -> None:
        row = self._selected()
        if row is None:
            return

        async def save(values: dict[str, Any]) -> tuple[Any, str | None]:
            try:
                return await data.decide_suggestion(self.session.db, self.session.who, self.bot.id, row["id"], "edit", **values), None
            except NdotoError as exc:
                return None, exc.message

        async def saved(result: Any) -> None:
            if result:
                self.app.notify(f"Suggestion {result['id']} changed.")
                await self.reload()

        self.app.push_screen(SuggestionForm(row, save=save), saved)

    async def action_accept(self) -> None:
        row = self._selected()
        if row is None:
            return
        if not row["personal_data"]:
            if await self._decide(row, "accept") is not None:
                self.app.notify(f"In the knowledge base: {row['question']}")
                await self.reload()
            return

        async def answered(yes: bool | None) -> None:
            if yes and await self._decide(row, "accept", keep_personal_data=True) is not None:
                self.app.notify(f"In the knowledge base: {row['question']}")
                await self.reload()

        flags = ", ".join(f"{p['kind']} {p['text']!r}" for p in row["personal_data"][:4])
        self.app.push_screen(Confirm(f"This draft may hold personal data ({flags}).\nAccept it as it is? (e edits it first)",
                                     action="Accept as it is"), answered)

    async def action_reject(self) -> None:
        row = self._selected()
        if row is not None and await self._decide(row, "reject") is not None:
            self.app.notify(f"Suggestion {row['id']} rejected.")
            await self.reload()


STATS_PERIODS = {"1": 7, "2": 30, "3": None}


class BotStatsScreen(Screen[None]):
    """One bot's outcomes (``bots stats``): how its conversations ended, its first answer, the
    ratings, an AI agent's activity; over the last 7 or 30 days or all time, and per day."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        *[Binding(key, f"period('{key}')", f"{days} days" if days else "All time") for key, days in STATS_PERIODS.items()],
    ]

    def __init__(self, session: ConsoleSession, bot: Any) -> None:
        super().__init__()
        self.session = session
        self.bot = bot
        self.days: int | None = 7

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="stats-period", classes="empty")
        figures: DataTable[str] = DataTable(id="stats", cursor_type="row")
        figures.add_columns("metric", "value")
        yield figures
        per_day: DataTable[str] = DataTable(id="stats-days", cursor_type="row")
        per_day.add_columns(*DAY_COLUMNS)
        yield per_day
        yield Footer()

    async def on_mount(self) -> None:
        await self.reload()
        self.query_one("#stats", DataTable).focus()

    async def reload(self) -> None:
        found = await self.session.guard(data.bot_stats(self.session.db, self.session.who, self.bot.id, days=self.days))
        if found is None:
            return
        span = f"the last {self.days} days" if self.days else "all time"
        self.query_one("#stats-period", Static).update(f"{self.bot.name}: {span} (1: 7 days, 2: 30 days, 3: all time)")
        figures = self.query_one("#stats", DataTable)
        figures.clear()
        for metric, value in stats_rows(found):
            figures.add_row(metric, value)
        per_day = self.query_one("#stats-days", DataTable)
        per_day.clear()
        for row in reversed(stats_day_rows(found)):  # the latest day first
            per_day.add_row(*row)

    async def action_period(self, key: str) -> None:
        self.days = STATS_PERIODS[key]
        await self.reload()


DELIVERY_FILTERS = {"1": None, "2": "pending", "3": "delivering", "4": "delivered", "5": "failed"}


class DeliveriesScreen(Screen[None]):
    """Every recent delivery, live, with a status filter; retry one or every failed one."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "retry", "Retry selected"),
        Binding("R", "retry_all", "Retry all failed"),
        *[Binding(key, f"status('{key}')", (status or "all").capitalize()) for key, status in DELIVERY_FILTERS.items()],
    ]

    def __init__(self, session: ConsoleSession, *, poll_interval: float = 1.0) -> None:
        super().__init__()
        self.session = session
        self.status: str | None = None
        self.poll_interval = poll_interval
        self._shown: list[tuple[str, ...]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="deliveries-filter", classes="empty")
        yield Static("", id="deliveries-empty", classes="empty")
        table: DataTable[str] = DataTable(id="deliveries", cursor_type="row")
        table.add_columns("id", "event", "bot", "conv", "status", "attempts", "last result", "created")
        yield table
        yield Footer()

    async def on_mount(self) -> None:
        await self.reload()
        self.query_one("#deliveries", DataTable).focus()
        self.set_interval(self.poll_interval, self._poll)

    @work(exclusive=True, group="deliveries")
    async def _poll(self) -> None:
        await self.reload()

    async def reload(self) -> None:
        rows = await self.session.guard(data.delivery_rows(self.session.db, self.session.who, status=self.status))
        if rows is None:
            return
        cells = [
            (str(d["id"]), d["event"], d["bot_name"], str(d["conversation_id"] or "-"), d["status"], str(d["attempts"]),
             (d["last_error"] or str(d["last_status_code"] or ""))[:60], when(d["created_at"]))
            for d in rows
        ]
        self.query_one("#deliveries-filter", Static).update(
            f"Showing {self.status or 'all'} deliveries, newest first (1 all, 2 pending, 3 delivering, 4 delivered, 5 failed)"
        )
        empty = self.query_one("#deliveries-empty", Static)
        empty.update("" if rows else f"No {self.status + ' ' if self.status else ''}deliveries yet.")
        empty.display = not rows
        if cells == self._shown:
            return
        self._shown = cells
        table = self.query_one("#deliveries", DataTable)
        keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value if table.row_count else None
        table.clear()
        for row in cells:
            table.add_row(*row, key=row[0])
        keys = [row[0] for row in cells]
        if keep in keys:
            table.move_cursor(row=keys.index(keep), scroll=False)

    async def action_status(self, key: str) -> None:
        self.status = DELIVERY_FILTERS[key]
        await self.reload()

    async def action_retry(self) -> None:
        table = self.query_one("#deliveries", DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            done = await self.session.guard(data.retry(self.session.db, [int(key)]))  # type: ignore[arg-type]
            if done is not None:
                self.app.notify(f"{done} deliver{'y' if done == 1 else 'ies'} due again" if done else "Only failed or waiting deliveries are retried.")
                await self.reload()

    def action_retry_all(self) -> None:
        async def retry_all(yes: bool | None) -> None:
            if not yes:
                return
            result = await self.session.guard(data.retry_all_failed(self.session.db, self.session.who))
            if result is not None:
                self.app.notify(f"{result[0]} failed deliveries due again")
                await self.reload()

        self.app.push_screen(Confirm("Send every failed delivery again?", action="Retry all"), retry_all)
