"""The live log of index changes: commits of this process, of a watcher or the language server, and
warnings the assistant logged."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import RichLog


@dataclass(frozen=True, slots=True)
class LogLine:
    """One event of the log."""

    at: float
    """Wall-clock time (`time.time()`)."""
    text: str
    """What happened."""
    level: int = logging.INFO
    """`logging` level: warnings and errors are coloured."""


class SyncLog(RichLog):
    """Append-only, newest at the bottom, follows the end."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, wrap=True, markup=False, highlight=False, max_lines=2000)
        self.border_title = "live index events"

    def add(self, line: LogLine) -> None:
        """Append one event."""
        style = "red" if line.level >= logging.ERROR else "yellow" if line.level >= logging.WARNING else ""
        stamp = time.strftime("%H:%M:%S", time.localtime(line.at))
        self.write(Text.assemble((stamp + " ", "dim"), (line.text, style)))
