"""Dialogs: a picker, a yes/no question, a secret shown once, the bot form, the search, the help."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option


class Picker(ModalScreen[str | None]):
    """Choose one of ``options`` (label, value); Escape cancels."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, title: str, options: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.options = options

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text)
            yield OptionList(*[Option(label, id=value) for label, value in self.options], id="picker")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class Confirm(ModalScreen[bool]):
    """A yes/no question before a destructive action; Escape or No changes nothing."""

    BINDINGS = [Binding("escape,n", "answer(False)", "No"), Binding("y", "answer(True)", "Yes")]

    def __init__(self, question: str, *, action: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.action_label = action

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, id="confirm-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button("No", id="no", variant="primary")
                yield Button(self.action_label, id="yes", variant="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class TokenShown(ModalScreen[None]):
    """A token or secret, read-only (select it to copy)."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, what: str, token: str, *, note: str = "Store it now: it is shown only once.", kind: str = "Access token") -> None:
        super().__init__()
        self.what = what
        self.token = token
        self.note = note
        self.kind = kind

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"{self.kind} for {self.what}")
            yield TextArea(self.token, id="token", read_only=True, soft_wrap=True, show_line_numbers=False)
            yield Static(self.note)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Done", id="done", variant="primary")

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class SavingForm(ModalScreen[Any]):
    """A form whose Save button hands ``values()`` to ``save(values)``, which does the change and
    returns (what it made, None) or (None, core's refusal). A refusal is shown and the form stays
    open with what was typed; otherwise it closes with what ``save`` made. Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, *, save: Any) -> None:
        super().__init__()
        self.save = save

    def values(self) -> dict[str, Any]:
        raise NotImplementedError

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
            return
        made, refusal = await self.save(self.values())
        if refusal is not None:
            self.query_one("#form-error", Static).update(f"Not saved: {refusal}")
            return
        self.dismiss(made)

    def action_cancel(self) -> None:
        self.dismiss(None)


class BotForm(SavingForm):
    """Create a bot, or change one (``bot`` given): every setting of the product document."""

    def __init__(self, bot: Any | None = None, *, save: Any) -> None:
        super().__init__(save=save)
        self.bot = bot

    def compose(self) -> ComposeResult:
        b = self.bot
        keywords = ", ".join(b.handoff_keywords or []) if b is not None else ""
        with VerticalScroll(classes="dialog", id="bot-form"):
            yield Label("Change bot " + b.name if b is not None else "Create a bot")
            yield Input(b.name if b else "", placeholder="Name", id="name")
            if b is None:
                yield Select([("Webhook bot", "webhook"), ("AI agent", "ai")], value="webhook", allow_blank=False, id="type")
            yield Input((b.outgoing_url or "") if b else "", placeholder="Webhook URL (https://...)", id="url", classes="webhook")
            yield Input((b.system_prompt or "") if b else "", placeholder="AI: system prompt (tone, scope)", id="system_prompt", classes="ai")
            yield Input((b.model or "") if b else "", placeholder="AI: model (default: the server's)", id="model", classes="ai")
            yield Input((b.api_base or "") if b else "", placeholder="AI: api base of an OpenAI-compatible server", id="api_base", classes="ai")
            yield Input(str(b.temperature) if b else "", placeholder="AI: temperature 0-1 (0.2)", id="temperature", classes="ai")
            yield Input(str(b.max_exchanges) if b else "", placeholder="AI: answers before handoff (10)", id="max_exchanges", classes="ai")
            yield Input(keywords, placeholder="AI: handoff keywords, comma separated", id="handoff_keywords", classes="ai")
            yield Input((b.handoff_message or "") if b else "", placeholder="AI: what the customer reads at handoff", id="handoff_message", classes="ai")
            yield Static("", id="form-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save" if b else "Create", id="save", variant="primary")

    def on_mount(self) -> None:
        self._show_kind("ai" if self.bot is not None and self.bot.bot_type == "ai_agent" else "webhook")

    def _show_kind(self, kind: str) -> None:
        for widget in self.query(".ai"):
            widget.display = kind == "ai"
        for widget in self.query(".webhook"):
            widget.display = kind == "webhook"

    @on(Select.Changed, "#type")
    def _kind_changed(self, event: Select.Changed) -> None:
        self._show_kind(str(event.value))

    def values(self) -> dict[str, Any]:
        kind = "ai" if (self.bot is not None and self.bot.bot_type == "ai_agent") else "webhook"
        if self.bot is None:
            kind = str(self.query_one("#type", Select).value)
        out: dict[str, Any] = {"name": self.query_one("#name", Input).value.strip()}
        if self.bot is None:
            out["bot_type"] = kind
        fields = ("system_prompt", "model", "api_base", "temperature", "max_exchanges", "handoff_keywords", "handoff_message")
        if kind == "webhook":
            out["outgoing_url"] = self.query_one("#url", Input).value.strip()
        else:
            for field in fields:
                value = self.query_one(f"#{field}", Input).value.strip()
                if value or self.bot is not None:
                    out[field] = value if value or field in ("system_prompt", "api_base") else None
        return out  # core checks every value: its refusal is shown in the form


class SearchDialog(ModalScreen[dict[str, Any] | None]):
    """Find conversations: text (contact name, email, any message) and filters."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    STATUSES = [("any status", ""), ("open", "open"), ("pending (bot)", "pending"), ("snoozed", "snoozed"), ("resolved", "resolved")]

    def __init__(self, inboxes: list[tuple[str, str]], people: list[tuple[str, str]], current: dict[str, Any]) -> None:
        super().__init__()
        self.inboxes = inboxes
        self.people = people
        self.current = current

    def compose(self) -> ComposeResult:
        c = self.current
        with Vertical(classes="dialog", id="search-form"):
            yield Label("Search conversations (Enter searches, Escape cancels; empty clears)")
            yield Input(c.get("search") or "", placeholder="Name, email or words of a message", id="search-text")
            yield Select(self.STATUSES, value=c.get("status") or "", allow_blank=False, id="search-status")
            yield Select([("any inbox", ""), *self.inboxes], value=str(c.get("inbox_id") or ""), allow_blank=False, id="search-inbox")
            yield Select([("anyone", ""), ("me", "me"), ("nobody", "none"), *self.people], value=c.get("assignee") or "",
                         allow_blank=False, id="search-assignee")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Clear", id="clear")
                yield Button("Search", id="go", variant="primary")

    def _result(self) -> dict[str, Any]:
        inbox = str(self.query_one("#search-inbox", Select).value)
        return {
            "search": self.query_one("#search-text", Input).value.strip() or None,
            "status": str(self.query_one("#search-status", Select).value) or None,
            "inbox_id": int(inbox) if inbox else None,
            "assignee": str(self.query_one("#search-assignee", Select).value) or None,
        }

    @on(Input.Submitted, "#search-text")
    def _submitted(self) -> None:
        self.dismiss(self._result())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss({} if event.button.id == "clear" else self._result())

    def action_cancel(self) -> None:
        self.dismiss(None)


HELP = """\
[b]Conversations[/b]
  Enter              open the highlighted conversation
  i / Esc            write in the composer (Enter sends) / back to the list
  Ctrl+N             switch reply / private note
  t / b              take over from the bot / hand back to the bot
  a                  assign to an agent or a bot
  r / o              resolve / reopen
  1-5                tabs: Mine, Bot, Open, Resolved, All
  /                  search (name, email, message text) and filters
  f                  choose the inbox (the inbox list, when the window is narrow)
[b]Screens[/b]
  B                  bots: create, change, delete, token, secret, ping, assign
  D                  deliveries: every recent one, a status filter, retries
  Ctrl+P             command palette (every action)
  ?                  this help        q  quit
Changes made anywhere (API, CLI, bots, another console) appear within a second.
"""


class Help(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(HELP, id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)


class SuggestionForm(SavingForm):
    """Change a drafted FAQ entry (``kb suggestions edit``): its question and its answer."""

    def __init__(self, suggestion: dict[str, Any], *, save: Any) -> None:
        super().__init__(save=save)
        self.suggestion = suggestion

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="suggestion-form"):
            yield Label(f"Suggestion {self.suggestion['id']}, from conversation #{self.suggestion['conversation_id']}")
            yield Input(self.suggestion["question"], placeholder="The question, as customers ask it", id="question")
            yield TextArea(self.suggestion["answer"], id="answer")
            yield Static("", id="form-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def values(self) -> dict[str, Any]:
        return {"question": self.query_one("#question", Input).value, "answer": self.query_one("#answer", TextArea).text}
