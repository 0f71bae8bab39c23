"""Small dialogs: a picker, a form to create a bot, a one-time token display, the help."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
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
    """A token, shown once, read-only (select it to copy)."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, what: str, token: str, *, note: str = "Store it now: it is shown only once.") -> None:
        super().__init__()
        self.what = what
        self.token = token
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Access token for {self.what}")
            yield TextArea(self.token, id="token", read_only=True, soft_wrap=True, show_line_numbers=False)
            yield Static(self.note)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Done", id="done", variant="primary")

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class NewBot(ModalScreen[dict[str, Any] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Create a bot")
            yield Input(placeholder="Name", id="name")
            yield Select([("Webhook bot", "webhook"), ("AI agent", "ai")], value="webhook", allow_blank=False, id="type")
            yield Input(placeholder="Webhook URL (https://...) or, for an AI agent, its system prompt", id="detail")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Create", id="create", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
            return
        kind = self.query_one("#type", Select).value
        detail = self.query_one("#detail", Input).value.strip()
        values: dict[str, Any] = {"name": self.query_one("#name", Input).value.strip(), "bot_type": kind}
        if kind == "webhook":
            values["outgoing_url"] = detail
        else:
            values["system_prompt"] = detail
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)


HELP = """\
[b]Conversations[/b]
  Tab / Shift+Tab    move between inboxes, list, thread and composer
  1-5                tabs: Mine, Bot, Open, Resolved, All
  Enter              open the highlighted conversation
  i                  write in the composer (Enter sends)
  Ctrl+N             toggle reply / private note
  t                  take over from the bot (assign to me)
  b                  hand back to the bot
  a                  assign to an agent or a bot
  r / o              resolve / reopen
[b]Screens[/b]
  B                  bots: create, reset token, assign to an inbox
  D                  deliveries: failures and retries
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
