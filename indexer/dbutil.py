"""SQLite helpers shared by every store in a workspace's `index.sqlite` (catalog, bank, Titans)."""

from __future__ import annotations

import sqlite3
import time

WAL_RETRY_S = 0.02


def enable_wal(conn: sqlite3.Connection, timeout_s: float = 30.0) -> None:
    """Switch to WAL (persistent). The switch needs a moment of exclusive access and SQLite does not
    wait for it with the busy handler, so a process opening the file while another does retries."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(WAL_RETRY_S)
