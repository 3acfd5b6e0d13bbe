"""The SQLite catalog at `<workspace>/.shutka/index.sqlite`: files (with their full text), chunks,
the names each chunk uses, import specifiers, skipped files and a commit generation.

The same database holds the memory bank's tables (`bank_*`) and the Titans episodic store
(`titans_*`), so one SQLite transaction changes all three. Every component records its schema in the
shared `schema_versions(component, version)` table; this one's row is `catalog`, migrated by the
numbered scripts in MIGRATIONS. WAL mode: readers (other threads, other processes) see the last
committed generation while a writer works, never a half-applied sync.

Row ids are stable handles: `files.id` and `chunks.id` are AUTOINCREMENT (never re-used) and survive a
move (a rename updates the path in place), so the bank can key its entries on them.

Cross-file edges (which definition a name resolves to, which file an import reaches) are *not* stored:
they change whenever another file changes. The catalog stores what each file says about itself
(`refs`, `imports`); `indexer.graph.SymbolGraph` resolves them in memory.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

from indexer import migrations
from indexer.catalog_writer import CatalogWriter
from indexer.dbutil import enable_wal
from indexer.errors import CatalogCorrupt, DatabaseDamaged, IndexerError
from indexer.schema import CATALOG, SYNC_TEMP_TABLES, TEMP_TABLE_NAMES
from indexer.types import Chunk, Span
from indexer.workspace import Workspace

log = logging.getLogger(__name__)

CATALOG_FILE = "index.sqlite"
BUSY_TIMEOUT_MS = 30_000
"""How long a statement waits for another connection's write lock before failing."""
_CORRUPT_CODES = {getattr(sqlite3, "SQLITE_CORRUPT", 11), getattr(sqlite3, "SQLITE_NOTADB", 26)}

P = ParamSpec("P")
R = TypeVar("R")


def is_corrupt(exc: sqlite3.Error) -> bool:
    """SQLite says the file is damaged (corrupt, not a database): what DatabaseDamaged stands for."""
    text = str(exc)
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF      # extended codes: SQLITE_CORRUPT_*
    return code in _CORRUPT_CODES or "not a database" in text or "malformed" in text


def _guarded(method: Callable[P, R]) -> Callable[P, R]:
    """Turn SQLite's "corrupt"/"not a database" errors into DatabaseDamaged."""

    @wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if is_corrupt(exc):
                catalog = args[0]
                raise DatabaseDamaged(catalog.path, str(exc)) from exc  # type: ignore[attr-defined]
            raise

    return wrapper


@dataclass(frozen=True, slots=True)
class FileState:
    """What the catalog knows about one file without its text."""

    file_id: int
    path: str
    section: str
    size: int
    mtime_ns: int
    checked_ns: int
    """Wall-clock ns taken before the stat this row was based on (racy-mtime detection)."""
    content_hash: str
    generation: int
    chunker: str = ""
    """Fingerprint of the chunker version and settings that produced the row ('' before schema v2)."""


@dataclass(frozen=True, slots=True)
class SkipState:
    """A file that discovery found but parsing declined (binary, minified, ...), remembered so an
    unchanged one is not read again by every sync."""

    path: str
    section: str
    size: int
    mtime_ns: int
    checked_ns: int
    reason: str
    chunker: str = ""
    content_hash: str = ""
    """sha256 of the declined bytes ('' when they could not be read)."""


class Catalog:
    """The catalog database; one connection per thread, created on first use."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise IndexerError(f"no index at {self.path}: run `shutka index` on the workspace first")
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self.connection()  # open now so corruption and version problems surface at construction

    @classmethod
    def open(cls, workspace: Workspace, *, create: bool = True) -> Catalog:
        """The catalog of `workspace` (creating `.shutka/` when `create`)."""
        if create:
            workspace.ensure_state_dir()
        return cls(workspace.state_dir / CATALOG_FILE, create=create)

    # --- connections ------------------------------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode; use `read()`/`write()` for transactions)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise CatalogCorrupt(f"cannot open the index at {self.path}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")  # a re-masked file's old text is zeroed, not left in free pages
            self._migrate(conn)
            conn.executescript(SYNC_TEMP_TABLES)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if is_corrupt(exc):
                raise DatabaseDamaged(self.path, str(exc)) from exc
            raise
        except CatalogCorrupt:
            conn.close()
            raise
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        enable_wal(conn, BUSY_TIMEOUT_MS / 1000)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        try:
            migrations.migrate(conn, [CATALOG.name])
        except migrations.SchemaTooNew as exc:
            raise CatalogCorrupt(
                f"{self.path} has catalog schema v{exc.found}, newer than this Shutka understands "
                f"(v{exc.known}): upgrade Shutka, or delete {self.path.parent} and re-index") from exc

    def close(self) -> None:
        """Close every connection this catalog opened (call when no thread uses it any more)."""
        with self._all_lock:
            for conn in self._all:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transactions -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same committed generation. Inside this
        thread's open transaction (a sync hook's `write`) it simply joins that transaction."""
        conn = self.connection()
        if conn.in_transaction:
            yield conn
            return
        try:
            conn.execute("BEGIN")
        except sqlite3.DatabaseError as exc:
            if is_corrupt(exc):
                raise DatabaseDamaged(self.path, str(exc)) from exc
            raise
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    @contextlib.contextmanager
    def write(self) -> Iterator[CatalogWriter]:
        """One write transaction that bumps the generation; commits on success, rolls back on error.

        The caller must hold the workspace's WriterLock (two Shutka writers would otherwise race
        between planning and writing)."""
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            if is_corrupt(exc):
                raise DatabaseDamaged(self.path, str(exc)) from exc
            raise
        try:
            for name in TEMP_TABLE_NAMES:
                conn.execute(f"DELETE FROM temp.{name}")
            generation = int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]) + 1
            conn.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (str(generation),))
            yield CatalogWriter(conn, generation)
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    # --- reads ------------------------------------------------------------------------------------

    @_guarded
    def generation(self) -> int:
        """The number of commits so far (0: never synced)."""
        row = self.connection().execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0])

    @_guarded
    def meta(self, key: str) -> str | None:
        row = self.connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    _STATE_COLUMNS = "id, path, section, size, mtime_ns, checked_ns, content_hash, generation, chunker"

    @_guarded
    def file_state(self, path: str) -> FileState | None:
        row = self.connection().execute(
            f"SELECT {self._STATE_COLUMNS} FROM files WHERE path = ?", (path,)).fetchone()
        return None if row is None else FileState(*row)

    @_guarded
    def file_states(self, prefix: str | None = None) -> dict[str, FileState]:
        """Every file (or those under the folder `prefix`), by path."""
        conn = self.connection()
        if prefix is None:
            rows = conn.execute(f"SELECT {self._STATE_COLUMNS} FROM files").fetchall()
        else:
            folder = prefix.rstrip("/") + "/"
            rows = conn.execute(f"SELECT {self._STATE_COLUMNS} FROM files WHERE path >= ? AND path < ?",
                                (folder, folder[:-1] + "0")).fetchall()
        return {row[1]: FileState(*row) for row in rows}

    @_guarded
    def skip_states(self, paths: Iterable[str] | None = None, prefix: str | None = None) -> dict[str, SkipState]:
        """Remembered parse-time skips: all, those at `paths`, or those under the folder `prefix`."""
        conn = self.connection()
        columns = "path, section, size, mtime_ns, checked_ns, reason, chunker, content_hash"
        if prefix is not None:
            folder = prefix.rstrip("/") + "/"
            rows = conn.execute(f"SELECT {columns} FROM skips WHERE path >= ? AND path < ?",
                                (folder, folder[:-1] + "0")).fetchall()
        elif paths is not None:
            rows = [row for p in paths
                    for row in conn.execute(f"SELECT {columns} FROM skips WHERE path = ?", (p,)).fetchall()]
        else:
            rows = conn.execute(f"SELECT {columns} FROM skips").fetchall()
        return {row[0]: SkipState(*row) for row in rows}

    @_guarded
    def file_text(self, path: str) -> str | None:
        """The file's full text as indexed (completion reads lines from here, not from the disk)."""
        row = self.connection().execute("SELECT text FROM files WHERE path = ?", (path,)).fetchone()
        return None if row is None else str(row[0])

    def lines(self, path: str, start: int = 0, end: int | None = None) -> list[str]:
        """Lines [start, end) of the indexed text (0-based, no newlines); [] for an unknown path."""
        text = self.file_text(path)
        if text is None:
            return []
        lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
        return lines[start:end]

    @_guarded
    def warnings(self, path: str) -> tuple[str, ...]:
        row = self.connection().execute("SELECT warnings FROM files WHERE path = ?", (path,)).fetchone()
        return tuple(w for w in (row[0].split("\n") if row else []) if w)

    _CHUNK_SQL = ("SELECT f.path, c.kind, c.symbol, c.start_line, c.end_line, c.start_byte, c.end_byte, "
                  "c.content_hash, c.parent, c.exported, f.text, c.id FROM chunks c JOIN files f ON f.id = c.file_id")

    @staticmethod
    def _chunk(row: tuple[object, ...], encoded: dict[str, bytes]) -> Chunk:
        path, kind, symbol, l0, l1, b0, b1, digest, parent, exported, text, _ = row
        source = encoded.get(str(path))
        if source is None:
            source = encoded[str(path)] = str(text).encode("utf-8")
        return Chunk(str(path), kind, str(symbol), Span(int(l0), int(l1), int(b0), int(b1)),  # type: ignore[arg-type]
                     source[int(b0):int(b1)].decode("utf-8"), str(digest),
                     None if parent is None else str(parent), bool(exported))

    @_guarded
    def chunks(self, path: str) -> list[Chunk]:
        """The chunks of one file, in source order, with their text."""
        rows = self.connection().execute(self._CHUNK_SQL + " WHERE f.path = ? ORDER BY c.start_byte, c.id",
                                         (path,)).fetchall()
        encoded: dict[str, bytes] = {}
        return [self._chunk(row, encoded) for row in rows]

    @_guarded
    def chunk(self, chunk_id: str) -> Chunk | None:
        """One chunk by `Chunk.chunk_id`, with its text."""
        row = self.connection().execute(self._CHUNK_SQL + " WHERE c.chunk_key = ?", (chunk_id,)).fetchone()
        return None if row is None else self._chunk(row, {})

    @_guarded
    def chunk_row_id(self, chunk_id: str) -> int | None:
        """The stable integer id (`chunks.id`) of a chunk, for tables that reference it."""
        row = self.connection().execute("SELECT id FROM chunks WHERE chunk_key = ?", (chunk_id,)).fetchone()
        return None if row is None else int(row[0])

    @_guarded
    def chunk_keys(self) -> dict[str, list[tuple[str, str]]]:
        """(chunk_id, content_hash) of every chunk, grouped by path (for verification)."""
        found: dict[str, list[tuple[str, str]]] = {}
        for path, key, digest in self.connection().execute(
                "SELECT f.path, c.chunk_key, c.content_hash FROM chunks c JOIN files f ON f.id = c.file_id"):
            found.setdefault(path, []).append((key, digest))
        return found

    @_guarded
    def secret_counts(self) -> dict[str, int]:
        """Secrets masked in each file's stored text, for the files that had any (counts, never what)."""
        rows = self.connection().execute("SELECT path, secrets FROM files WHERE secrets > 0").fetchall()
        return {str(path): int(n) for path, n in rows}

    @_guarded
    def counts(self) -> dict[str, int]:
        """files, library_files, chunks, skips, generation, secrets (masked) and secret_files."""
        conn = self.connection()
        with self.read():
            files = conn.execute("SELECT section, COUNT(*) FROM files GROUP BY section").fetchall()
            by_section = dict(files)
            secrets, secret_files = conn.execute(
                "SELECT COALESCE(SUM(secrets), 0), COUNT(*) FROM files WHERE secrets > 0").fetchone()
            return {
                "files": int(by_section.get("workspace", 0)),
                "library_files": int(by_section.get("library", 0)),
                "chunks": int(conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]),
                "skips": int(conn.execute("SELECT COUNT(*) FROM skips").fetchone()[0]),
                "generation": self.generation(),
                "secrets": int(secrets),
                "secret_files": int(secret_files),
            }

    def integrity_check(self) -> list[str]:
        """SQLite's `quick_check` plus a foreign-key check; [] when the database is sound."""
        try:
            conn = self.connection()
            problems = [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall() if r[0] != "ok"]
            problems += [f"foreign key violation in {r[0]} row {r[1]}"
                         for r in conn.execute("PRAGMA foreign_key_check").fetchall()]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        return problems


def now_ns() -> int:
    """Wall-clock nanoseconds (the clock file mtimes are measured on)."""
    return time.time_ns()
