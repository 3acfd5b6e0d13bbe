"""The HopRAG hops that led to the candidates: which definitions the walk reached, how far, how relevant."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from assistant.types import Hop


class HopTable(DataTable[str | Text]):
    """One row per hop, in the engine's order."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self.border_title = "hops"

    def on_mount(self) -> None:
        """Add the columns."""
        self.add_columns("hop", "score", "symbol", "file")

    def show(self, hops: Sequence[Hop]) -> None:
        """Replace the rows."""
        self.clear()
        self.border_title = f"hops ({len(hops)})"
        for hop in hops:
            self.add_row(str(hop.hop), f"{hop.score:.2f}", Text(hop.symbol), Text(hop.path))
