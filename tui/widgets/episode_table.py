"""A table of Titans episodes (most or least accessed): times recalled ("used"), surprise, the line
and its file."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from assistant.types import Episode
from tui.render import first_line


class EpisodeTable(DataTable[str | Text]):
    """Rows of episodes; read-only, a cursor for scrolling."""

    def __init__(self, heading: str, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.border_title = heading
        """What the rows are (e.g. `most accessed`)."""

    def on_mount(self) -> None:
        """Add the columns."""
        self.add_columns("used", "surp", "line", "file")

    def show(self, episodes: Sequence[Episode]) -> None:
        """Replace the rows."""
        self.clear()
        for ep in episodes:
            self.add_row(str(ep.access), f"{ep.surprise:.2f}", Text(first_line(ep.text, 32)), Text(ep.file or "—"),
                         key=str(ep.id))
