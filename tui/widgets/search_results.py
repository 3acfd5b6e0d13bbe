"""Search results: one row per hit, best first; moving over a row shows it in the detail pane."""

from __future__ import annotations

from rich.text import Text
from textual.markup import escape
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from assistant.types import Hit
from tui.render import first_line, span


class SearchResults(OptionList):
    """Hits of the last search; each option's id is the entry id."""

    def show(self, query: str, mode: str, hits: list[Hit]) -> None:
        """Replace the rows with `hits` (scores only mean something for semantic search)."""
        self.clear_options()
        self.border_title = escape(f"{len(hits)} {mode} hit{'s' if len(hits) != 1 else ''} for {query!r}")
        if not hits:
            self.add_option(Option(Text("nothing found", style="dim"), disabled=True))
            return
        self.add_options(Option(self._label(hit, mode), id=str(hit.id)) for hit in hits)
        self.highlighted = 0

    @staticmethod
    def _label(hit: Hit, mode: str) -> Text:
        """Score (semantic only), kind, symbol or line, then the file and span."""
        score = f"{hit.score:5.2f}" if mode == "semantic" else "    ·"
        what = hit.symbol if hit.kind != "line" and hit.symbol else first_line(hit.text, 40)
        return Text.assemble((score, "cyan"), " ", (f"{hit.kind:<8}", "magenta"), " ", (what, "bold"), "\n",
                             ("      " + span(hit), "dim"))

    def hit_id(self, index: int) -> int | None:
        """The entry id of row `index`, or None for a placeholder row."""
        option = self.get_option_at_index(index)
        return int(option.id) if option.id is not None else None
