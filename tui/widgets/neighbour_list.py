"""An entry's code-graph neighbours (the hops HopRAG walks); choosing one opens it."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from assistant.types import Hop


class NeighbourList(OptionList):
    """One row per hop: distance, symbol, file. Enter or a click posts `Open`."""

    @dataclass
    class Open(Message):
        """The user chose a neighbour."""

        hop: Hop
        """The neighbour to open."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.hops: list[Hop] = []
        """The hops shown, in row order."""
        self.border_title = "code-graph neighbours"

    def show(self, hops: list[Hop], note: str = "") -> None:
        """Replace the rows; `note` is shown (dimmed) when there are none."""
        self.hops = list(hops)
        self.clear_options()
        self.border_title = f"code-graph neighbours ({len(hops)})"
        if not hops:
            self.add_option(Option(Text(note or "none", style="dim"), disabled=True))
            return
        self.add_options(
            Option(Text.assemble((f"{hop.hop} hop{'s' if hop.hop > 1 else ' '} ", "dim"), (hop.symbol, "bold"),
                                 "  ", (hop.path, "dim")))
            for hop in hops)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Turn a chosen row into `Open` with its hop."""
        event.stop()
        if 0 <= event.option_index < len(self.hops):
            self.post_message(self.Open(self.hops[event.option_index]))
