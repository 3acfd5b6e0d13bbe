"""The detail pane: an entry's kind, file and span, content hash, its code (highlighted, read-only)
and its code-graph neighbours."""

from __future__ import annotations

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from assistant.types import Hit, Hop
from tui.render import short_hash, span, title
from tui.widgets.neighbour_list import NeighbourList

SYNTAX_THEME = "monokai"
"""Pygments theme of the code view (fixed, so screenshots do not depend on the terminal)."""


class EntryDetail(Vertical):
    """Shows one entry; `hit` is what is shown (None: nothing, or it left the bank)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.hit: Hit | None = None
        """The entry on display."""

    def compose(self) -> ComposeResult:
        yield Static(Text("Choose an entry in the tree, or search.", style="dim"), id="detail-header")
        with VerticalScroll(id="detail-code-scroll"):
            yield Static("", id="detail-code")
        yield NeighbourList(id="detail-neighbours")

    def show(self, hit: Hit, hops: list[Hop]) -> None:
        """Display `hit` and its neighbours."""
        self.hit = hit
        header = Text.assemble((title(hit), "bold magenta"), ("  #", "dim"), (str(hit.id), "dim"), "\n",
                               (span(hit), "cyan"), ("  ·  ", "dim"), hit.section, "\n",
                               ("hash ", "dim"), short_hash(hit.content_hash or "—", 24))
        self.query_one("#detail-header", Static).update(header)
        code = Syntax(hit.text, "typescript", theme=SYNTAX_THEME, line_numbers=True,
                      start_line=hit.start_line or 1, word_wrap=False, indent_guides=False)
        self.query_one("#detail-code", Static).update(code)
        self.query_one("#detail-code-scroll", VerticalScroll).scroll_home(animate=False)
        note = "line entries have no graph neighbours" if hit.kind == "line" else "no neighbours"
        self.query_one(NeighbourList).show(hops, note)

    def show_missing(self, entry_id: int) -> None:
        """Say that entry `entry_id` is no longer in the bank (deleted here or by another process)."""
        self.clear(f"Entry #{entry_id} is no longer in the bank.")

    def clear(self, message: str = "Choose an entry in the tree, or search.") -> None:
        """Show nothing but `message`."""
        self.hit = None
        self.query_one("#detail-header", Static).update(Text(message, style="dim"))
        self.query_one("#detail-code", Static).update("")
        self.query_one(NeighbourList).show([], " ")
