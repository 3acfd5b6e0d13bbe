"""Suppressions: the (file, content hash) pairs the user deleted from the bank by hand. A sync does not
bring them back until their code changes (a new hash). One table, `assistant_suppressed`, in the
workspace's index.sqlite, migrated as the `suppressions` component (indexer.migrations).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from indexer import migrations

SUPPRESSIONS = migrations.register(migrations.Component("suppressions", (
    (  # 1: the table (IF NOT EXISTS: it predates the registry, unversioned)
        "CREATE TABLE IF NOT EXISTS assistant_suppressed (file TEXT NOT NULL, content_hash TEXT NOT NULL, "
        "PRIMARY KEY (file, content_hash))",
    ),
)))


def _connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, timeout=30.0, isolation_level=None)
    try:
        migrations.migrate(conn, [SUPPRESSIONS.name])
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(db_path: Path) -> None:
    """Create or upgrade the table (the runtime calls it when it opens the workspace)."""
    _connect(db_path).close()


def suppress(db_path: Path, keys: Iterable[tuple[str | None, str]]) -> None:
    """Remember these (file, content hash) pairs as deleted by the user (the caller holds the writer lock)."""
    conn = _connect(db_path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR IGNORE INTO assistant_suppressed VALUES (?, ?)", list(keys))
        conn.execute("COMMIT")
    finally:
        conn.close()


def suppressed_keys(db_path: Path, paths: Sequence[str]) -> set[tuple[str, str]]:
    """(file, content hash) pairs of `paths` the user deleted from the bank: sync does not bring them back."""
    if not paths:
        return set()
    conn = sqlite3.connect(db_path, timeout=30.0)
    try:
        marks = ",".join("?" * len(paths))
        rows = conn.execute(f"SELECT file, content_hash FROM assistant_suppressed WHERE file IN ({marks})",
                            list(paths)).fetchall()
    except sqlite3.OperationalError:  # no table yet: nothing was ever deleted by hand
        return set()
    finally:
        conn.close()
    return {(f, h) for f, h in rows}
