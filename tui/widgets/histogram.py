"""The surprise histogram of the Titans episodes, drawn with unicode eighth-blocks."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from tui.render import histogram_rows

BAR_WIDTH = 16
"""Cells the fullest bin fills (the rest of a row holds the range and the count)."""


class SurpriseHistogram(Static):
    """One row per bin: surprise range, bar, count."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "surprise"

    def show(self, bins: Sequence[tuple[float, float, int]]) -> None:
        """Draw `bins` ((low, high, count), low to high)."""
        if not bins:
            self.update(Text("no episodes yet: the memory keeps surprising lines it was written with",
                             style="dim"))
            return
        text = Text()
        for i, (label, bar, count) in enumerate(histogram_rows(bins, BAR_WIDTH)):
            if i:
                text.append("\n")
            text.append(label, style="dim")
            text.append(" ")
            text.append(bar, style="green")
            text.append(f" {count}", style="bold")
        self.update(text)
