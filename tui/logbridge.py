"""Warnings logged by the assistant and the indexer, delivered to the app as messages.

While the TUI runs, the terminal belongs to Textual: a log line written to stderr would tear the
screen. `shutka tui` routes the root handlers to Textual's log; this handler additionally posts
warnings and errors to the app so the user sees them (a notification, the status view's log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

WATCHED_LOGGERS = ("assistant", "indexer")
"""Loggers whose warnings the user should see."""


class MessageHandler(logging.Handler):
    """Calls `deliver(level, logger, text)` for every record at `level` or above, from any thread."""

    def __init__(self, deliver: Callable[[int, str, str], object], level: int = logging.WARNING) -> None:
        super().__init__(level)
        self.deliver = deliver
        """Posts the record to the app (must be thread-safe: `App.post_message` is)."""

    def emit(self, record: logging.LogRecord) -> None:
        """Deliver one record (never raises into the logging caller)."""
        try:
            self.deliver(record.levelno, record.name, record.getMessage())
        except Exception:  # logging must never raise into the code that logged
            self.handleError(record)

    def install(self) -> None:
        """Attach to the watched loggers."""
        for name in WATCHED_LOGGERS:
            logging.getLogger(name).addHandler(self)

    def uninstall(self) -> None:
        """Detach from the watched loggers."""
        for name in WATCHED_LOGGERS:
            logging.getLogger(name).removeHandler(self)
