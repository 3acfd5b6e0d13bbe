"""Small modal dialogs: a yes/no confirmation and a one-line prompt."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """Ask a question; dismisses with True (y / Enter on Yes) or False (n / Escape)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, *, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        """What is asked, in full."""
        self.yes = yes
        """Label of the confirming button."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Content(self.question), classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        """Focus Cancel: a stray Enter must not delete anything."""
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Yes or Cancel."""
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        """Dismiss with `answer`."""
        self.dismiss(answer)


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line; dismisses with the text (Enter) or None (Escape).
    `check(text)` returns an error message, or None when the text is acceptable."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, *, value: str = "", placeholder: str = "",
                 check: Callable[[str], str | None] | None = None) -> None:
        super().__init__()
        self.question = question
        """What is asked."""
        self.value = value
        """The text the input starts with."""
        self.placeholder = placeholder
        """Shown while the input is empty."""
        self.check = check
        """Validates the answer before the dialog closes."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Content(self.question), classes="dialog-text")
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input")
            yield Static("", id="prompt-error", classes="dialog-error")
            yield Label("Enter: OK   Escape: cancel", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Check the answer; close with it when acceptable, else show why not."""
        event.stop()
        error = self.check(event.value) if self.check else None
        if error:
            self.query_one("#prompt-error", Static).update(Content(error))
            return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        """Close without an answer."""
        self.dismiss(None)
