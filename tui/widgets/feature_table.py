"""The ranking features of one candidate (context similarity, votes, latent similarity, …)."""

from __future__ import annotations

from rich.text import Text
from textual.markup import escape
from textual.widgets import DataTable

from assistant.types import ScoredCandidate


class FeatureTable(DataTable[str | Text]):
    """Feature name and value, in the ranker's order."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none", show_header=False)
        self.border_title = "features"

    def on_mount(self) -> None:
        """Add the columns."""
        self.add_columns("feature", "value")

    def show(self, candidate: ScoredCandidate | None) -> None:
        """Show `candidate`'s features (nothing for None)."""
        self.clear()
        if candidate is None:
            self.border_title = "features"
            return
        self.border_title = escape(f"features of {candidate.source}")
        for name, value in candidate.features.items():
            self.add_row(Text(name), f"{value:.3f}")
