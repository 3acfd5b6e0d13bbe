"""The bank's search box: a query and a semantic/text toggle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Label

SearchMode = Literal["semantic", "text"]


class SearchBox(Horizontal):
    """An input and the current mode; Enter (or a toggle with a query typed) asks for a search."""

    @dataclass
    class Search(Message):
        """The user asked for a search."""

        query: str
        """The query, stripped; empty means "back to the file tree"."""
        mode: SearchMode
        """`semantic` (through the model) or `text` (plain substring)."""

    mode: reactive[SearchMode] = reactive("semantic")
    """How the query is matched."""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search the bank…", id="search-input", compact=True)
        yield Label("", id="search-mode")

    def on_mount(self) -> None:
        """Show the initial mode."""
        self.watch_mode(self.mode)

    def watch_mode(self, mode: SearchMode) -> None:
        """Show the mode beside the input."""
        self.query_one("#search-mode", Label).update(Content(f"[{mode}]"))

    @property
    def query_text(self) -> str:
        """What is typed, stripped."""
        return self.query_one("#search-input", Input).value.strip()

    def toggle(self) -> None:
        """Switch between semantic and text matching; searches again when a query is typed."""
        self.mode = "text" if self.mode == "semantic" else "semantic"
        if self.query_text:
            self.post_message(self.Search(self.query_text, self.mode))

    def clear(self) -> None:
        """Empty the query."""
        self.query_one("#search-input", Input).value = ""

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter asks for a search."""
        event.stop()
        self.post_message(self.Search(event.value.strip(), self.mode))
