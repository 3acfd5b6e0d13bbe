"""Why-this-completion: every candidate the ranker scored, best first, with the gate's verdict
(✔ shown, · held back)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from assistant.types import ScoredCandidate
from tui.render import first_line

TEXT_WIDTH = 40
"""Characters of a candidate shown in its row (the text column comes first after the scores, so it
stays visible at 80 columns)."""


class CandidateTable(DataTable[str | Text]):
    """One row per candidate; the row key is its index in the explanation."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self.border_title = "candidates"
        self.candidates: list[ScoredCandidate] = []
        """The candidates shown, in row order."""

    def on_mount(self) -> None:
        """Add the columns."""
        self.add_columns("gate", "conf", "text", "source", "score", "kind")

    def show(self, candidates: Sequence[ScoredCandidate]) -> None:
        """Replace the rows."""
        self.clear()
        self.candidates = list(candidates)
        self.border_title = f"candidates ({len(self.candidates)})"
        for i, c in enumerate(self.candidates):
            gate = Text(" ✔", style="bold green") if c.shown else Text(" ·", style="dim")
            self.add_row(gate, f"{c.confidence:.2f}", Text(first_line(c.text, TEXT_WIDTH)), Text(c.source),
                         f"{c.score:.2f}", c.kind, key=str(i))

    def candidate_at(self, row: int) -> ScoredCandidate | None:
        """The candidate of row `row`."""
        return self.candidates[row] if 0 <= row < len(self.candidates) else None
