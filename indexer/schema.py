"""The catalog's schema: numbered migrations (registered as the `catalog` component of the one
registry, indexer.migrations) and the per-connection scratch tables a sync fills for its hook.

Append a migration to change the schema; never edit a released one. A database whose `catalog` row is
newer than len(MIGRATIONS) was written by a newer Shutka and is refused (see indexer.catalog).
"""

from __future__ import annotations

import sqlite3

from indexer.migrations import SCHEMA_VERSIONS_SQL, Component, register

__all__ = ["CATALOG", "MIGRATIONS", "SCHEMA_VERSIONS_SQL", "SYNC_TEMP_TABLES", "TEMP_TABLE_NAMES", "split_script"]

MIGRATIONS: tuple[str, ...] = (
    # 1: files, chunks, refs, imports, skips, meta
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('generation', '0');
    CREATE TABLE files (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path TEXT NOT NULL UNIQUE,
        section TEXT NOT NULL CHECK (section IN ('workspace', 'library')),
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        checked_ns INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        text TEXT NOT NULL,
        warnings TEXT NOT NULL DEFAULT '',
        generation INTEGER NOT NULL
    );
    CREATE INDEX files_content_hash ON files (content_hash);
    CREATE INDEX files_generation ON files (generation);
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
        chunk_key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        symbol TEXT NOT NULL,
        name TEXT NOT NULL,
        parent TEXT,
        start_line INTEGER NOT NULL,
        end_line INTEGER NOT NULL,
        start_byte INTEGER NOT NULL,
        end_byte INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        exported INTEGER NOT NULL
    );
    CREATE INDEX chunks_file ON chunks (file_id);
    CREATE INDEX chunks_name ON chunks (name);
    CREATE INDEX chunks_content_hash ON chunks (content_hash);
    CREATE TABLE refs (
        chunk_id INTEGER NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        member INTEGER NOT NULL,
        PRIMARY KEY (chunk_id, name, kind, member)
    ) WITHOUT ROWID;
    CREATE INDEX refs_name ON refs (name);
    CREATE TABLE imports (
        file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        specifier TEXT NOT NULL,
        PRIMARY KEY (file_id, position)
    ) WITHOUT ROWID;
    CREATE TABLE skips (
        path TEXT PRIMARY KEY,
        section TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        checked_ns INTEGER NOT NULL,
        reason TEXT NOT NULL,
        generation INTEGER NOT NULL
    );
    """,
    # 2: which chunker (version + settings) produced each row, so a settings change re-chunks file by
    #    file and a sync committed in batches can stop anywhere without leaving stale chunks behind
    """
    ALTER TABLE files ADD COLUMN chunker TEXT NOT NULL DEFAULT '';
    ALTER TABLE skips ADD COLUMN chunker TEXT NOT NULL DEFAULT '';
    """,
    # 3: the content hash of a declined file, so a re-saved but unchanged binary or minified file is
    #    not read, re-declined and re-committed by every sync
    """
    ALTER TABLE skips ADD COLUMN content_hash TEXT NOT NULL DEFAULT '';
    """,
    # 4: how many secrets were masked in each file's stored text (indexer.secrets), so `shutka index`
    #    and `--verify` can say how many, never what; rows written before hold 0 until re-read (the
    #    scanner is part of the chunker fingerprint, so the next sync re-reads them all)
    """
    ALTER TABLE files ADD COLUMN secrets INTEGER NOT NULL DEFAULT 0;
    """,
)
"""Numbered schema scripts: MIGRATIONS[i] takes the catalog from version i to i + 1. Append only."""

SYNC_TEMP_TABLES = """
CREATE TEMP TABLE IF NOT EXISTS sync_removed_files (file_id INTEGER PRIMARY KEY, path TEXT, content_hash TEXT);
CREATE TEMP TABLE IF NOT EXISTS sync_removed_chunks (
    chunk_id INTEGER PRIMARY KEY, file_id INTEGER, path TEXT, chunk_key TEXT, content_hash TEXT);
CREATE TEMP TABLE IF NOT EXISTS sync_added_files (file_id INTEGER PRIMARY KEY, path TEXT, content_hash TEXT);
CREATE TEMP TABLE IF NOT EXISTS sync_added_chunks (
    chunk_id INTEGER PRIMARY KEY, file_id INTEGER, chunk_key TEXT, content_hash TEXT);
CREATE TEMP TABLE IF NOT EXISTS sync_moved_files (file_id INTEGER PRIMARY KEY, old_path TEXT, new_path TEXT);
"""
"""Per-connection scratch tables filled during a write: a sync hook's `write` reads them (same
connection, same transaction) to learn exactly which rows this commit removed, added or moved."""
TEMP_TABLE_NAMES = ("sync_removed_files", "sync_removed_chunks", "sync_added_files", "sync_added_chunks",
               "sync_moved_files")


def split_script(script: str) -> list[str]:
    """The complete SQL statements of a script, in order."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


CATALOG = register(Component("catalog", tuple(tuple(split_script(script)) for script in MIGRATIONS)))
