"""The write side of one catalog transaction: remove, insert, move, touch and remember skips, while
recording what changed in the connection's `temp.sync_*` tables for the sync hook."""

from __future__ import annotations

import sqlite3

from indexer.types import ParsedFile


class CatalogWriter:
    """The write side of one transaction (see `Catalog.write`); `conn` is shared with sync hooks."""

    def __init__(self, conn: sqlite3.Connection, generation: int) -> None:
        self.conn = conn
        self.generation = generation
        """The generation this transaction commits."""
        self.chunks_added = 0
        self.chunks_removed = 0

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                          "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def remove(self, path: str) -> bool:
        """Delete a file's rows (chunks, refs, imports cascade) and its remembered skip; True if it had rows."""
        conn = self.conn
        conn.execute("INSERT OR REPLACE INTO temp.sync_removed_chunks "
                     "SELECT c.id, c.file_id, f.path, c.chunk_key, c.content_hash "
                     "FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path = ?", (path,))
        self.chunks_removed += conn.execute("SELECT changes()").fetchone()[0]
        conn.execute("INSERT OR REPLACE INTO temp.sync_removed_files "
                     "SELECT id, path, content_hash FROM files WHERE path = ?", (path,))
        removed = conn.execute("DELETE FROM files WHERE path = ?", (path,)).rowcount > 0
        conn.execute("DELETE FROM skips WHERE path = ?", (path,))
        return removed

    def insert(self, parsed: ParsedFile, checked_ns: int, chunker: str = "") -> int:
        """Insert a parsed file (its path must have no rows); returns `files.id`. `chunker` fingerprints
        the chunker version and settings that produced it."""
        conn, info = self.conn, parsed.info
        file_id = conn.execute(
            "INSERT INTO files (path, section, size, mtime_ns, checked_ns, content_hash, text, warnings, generation, "
            "chunker, secrets) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (info.path, info.section, info.size, info.mtime_ns, checked_ns, parsed.content_hash, parsed.text,
             "\n".join(parsed.warnings), self.generation, chunker, parsed.secrets)).fetchone()[0]
        conn.executemany(
            "INSERT INTO chunks (file_id, chunk_key, kind, symbol, name, parent, start_line, end_line, "
            "start_byte, end_byte, content_hash, exported) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(file_id, c.chunk_id, c.kind, c.symbol, c.symbol.rsplit(".", 1)[-1], c.parent, c.span.start_line,
              c.span.end_line, c.span.start_byte, c.span.end_byte, c.content_hash, int(c.exported))
             for c in parsed.chunks])
        self.chunks_added += len(parsed.chunks)
        if parsed.references:
            ids = dict(conn.execute("SELECT chunk_key, id FROM chunks WHERE file_id = ?", (file_id,)).fetchall())
            conn.executemany("INSERT OR IGNORE INTO refs (chunk_id, name, kind, member) VALUES (?, ?, ?, ?)",
                             [(ids[r.chunk_id], r.name, r.kind, int(r.member))
                              for r in parsed.references if r.chunk_id in ids])
        conn.executemany("INSERT INTO imports (file_id, position, specifier) VALUES (?, ?, ?)",
                         [(file_id, i, s) for i, s in enumerate(parsed.specifiers)])
        conn.execute("INSERT INTO temp.sync_added_files VALUES (?, ?, ?)", (file_id, info.path, parsed.content_hash))
        conn.execute("INSERT INTO temp.sync_added_chunks SELECT id, file_id, chunk_key, content_hash "
                     "FROM chunks WHERE file_id = ?", (file_id,))
        return int(file_id)

    def move(self, old: str, new: str) -> bool:
        """Rename a file's rows in place (ids, chunks, embeddings keyed on them survive); False if
        `old` has no rows. Rows already at `new` must have been removed first."""
        conn = self.conn
        row = conn.execute("SELECT id FROM files WHERE path = ?", (old,)).fetchone()
        if row is None:
            return False
        file_id = int(row[0])
        conn.execute("UPDATE files SET path = ?, generation = ? WHERE id = ?", (new, self.generation, file_id))
        updates = []
        for chunk_id, kind, symbol, start_line in conn.execute(
                "SELECT id, kind, symbol, start_line FROM chunks WHERE file_id = ?", (file_id,)).fetchall():
            if kind == "window" and symbol.startswith(old + ":"):
                symbol = new + symbol[len(old):]
            updates.append((f"{new}#{symbol}@{start_line}", symbol, chunk_id))
        conn.execute("UPDATE chunks SET chunk_key = '~moving~' || id WHERE file_id = ?", (file_id,))
        conn.executemany("UPDATE chunks SET chunk_key = ?, symbol = ? WHERE id = ?", updates)
        conn.execute("DELETE FROM skips WHERE path = ?", (new,))
        conn.execute("INSERT OR REPLACE INTO temp.sync_moved_files VALUES (?, ?, ?)", (file_id, old, new))
        return True

    def touch(self, path: str, size: int, mtime_ns: int, checked_ns: int) -> None:
        """Refresh the stat of a file (or of a remembered skip) whose content did not change."""
        for table in ("files", "skips"):
            self.conn.execute(f"UPDATE {table} SET size = ?, mtime_ns = ?, checked_ns = ? WHERE path = ?",
                              (size, mtime_ns, checked_ns, path))

    def record_skip(self, path: str, section: str, size: int, mtime_ns: int, checked_ns: int, reason: str,
                    chunker: str = "", content_hash: str = "") -> None:
        """Remember that parsing declined this file version (its rows, if any, must be removed first)."""
        self.conn.execute(
            "INSERT INTO skips (path, section, size, mtime_ns, checked_ns, reason, generation, chunker, content_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET section = excluded.section, "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, checked_ns = excluded.checked_ns, "
            "reason = excluded.reason, generation = excluded.generation, chunker = excluded.chunker, "
            "content_hash = excluded.content_hash",
            (path, section, size, mtime_ns, checked_ns, reason, self.generation, chunker, content_hash))
