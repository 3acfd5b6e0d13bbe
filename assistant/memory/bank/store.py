"""The bank's SQLite side: `bank_*` tables, numbered migrations, and the SQL of every change.

The tables live in a database shared with the indexer's catalog and the Titans store, so every
function here runs on a connection it is given and never commits: the caller owns the transaction.
Every change bumps `bank_meta.version`, which readers compare to know when to refresh.

Tables:
- `bank_meta`: one row: dim, model digest, committed generation (and its file's size/count/hash),
  commit counter `version`, and `next_id` (ids are allocated here and never reused).
- `bank_entries`: one row per memory (text + metadata); its vector is in the generation file or in
- `bank_delta`: vectors (float32 blobs) added since the generation, and
- `bank_tombstones`: ids deleted since the generation, with the version that deleted them; their
  vectors stay (in the file or the delta) until the next generation folds them away. Between two
  generations the delta and the tombstones only grow, so readers catch up incrementally.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.errors import BankCorrupt, BankDatabaseDamaged, BankError, BankLocked
from assistant.memory.bank.types import SECTIONS, Entry, EntryMeta, content_hash
from indexer import migrations
from indexer.dbutil import enable_wal

log = logging.getLogger(__name__)

COMPONENT = "bank"

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: entries, vectors since the generation, tombstones, the meta row
        """CREATE TABLE bank_meta (
            singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
            dim INTEGER NOT NULL,
            model_digest TEXT,
            generation INTEGER NOT NULL DEFAULT 0,
            gen_index TEXT,
            gen_count INTEGER NOT NULL DEFAULT 0,
            gen_bytes INTEGER NOT NULL DEFAULT 0,
            gen_quick_hash TEXT,
            gen_sha256 TEXT,
            version INTEGER NOT NULL DEFAULT 0,
            next_id INTEGER NOT NULL DEFAULT 1
        )""",
        f"""CREATE TABLE bank_entries (
            id INTEGER PRIMARY KEY,
            section TEXT NOT NULL CHECK (section IN {SECTIONS!r}),
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            file TEXT,
            start_line INTEGER,
            end_line INTEGER,
            symbol TEXT,
            content_hash TEXT NOT NULL,
            added_at REAL NOT NULL
        )""",
        "CREATE INDEX bank_entries_file ON bank_entries (file)",
        "CREATE INDEX bank_entries_hash ON bank_entries (content_hash)",
        "CREATE INDEX bank_entries_kind ON bank_entries (kind, section)",
        "CREATE TABLE bank_delta (id INTEGER PRIMARY KEY, vector BLOB NOT NULL)",
        "CREATE TABLE bank_tombstones (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)",
        "CREATE INDEX bank_tombstones_version ON bank_tombstones (version)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
BANK = migrations.register(migrations.Component(COMPONENT, MIGRATIONS))

_ENTRY_COLUMNS = "id, text, kind, section, file, start_line, end_line, symbol, content_hash, added_at"


@dataclass(frozen=True, slots=True)
class Meta:
    """The `bank_meta` row."""

    dim: int
    model_digest: str | None
    generation: int
    gen_index: str | None
    gen_count: int
    gen_bytes: int
    gen_quick_hash: str | None
    gen_sha256: str | None
    version: int
    next_id: int


# -- connection and schema ---------------------------------------------------------------------


def connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    """Open `path` in autocommit mode (transactions are explicit), WAL, usable from several threads
    (the bank serialises access). Raise BankCorrupt when the file is not a readable database."""
    if read_only and not path.exists():
        raise BankError(f"no memory bank at {path}; run `shutka index` to create one")
    try:
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            if not read_only:
                enable_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            if read_only:
                conn.execute("PRAGMA query_only=1")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except BaseException:
            conn.close()
            raise
    except sqlite3.Error as exc:
        raise translate(path, exc) from exc
    return conn


def translate(path: Path, exc: sqlite3.Error) -> BankError:
    """The bank's error for an SQLite failure: BankDatabaseDamaged for a damaged file (the message
    the catalog gives too), BankLocked when another connection kept the database busy past the timeout."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "not a database" in text or "malformed" in text:
        return BankDatabaseDamaged(path, text)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return BankLocked(f"the bank's database {path} stayed locked by another connection ({text}); "
                          "another process writes without releasing it: wait or stop it")
    return BankError(f"the bank's database {path} failed: {text}")


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error). `durable` fsyncs the commit (synchronous=FULL)."""
    if durable:
        conn.execute("PRAGMA synchronous=FULL")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        if durable:
            conn.execute("PRAGMA synchronous=NORMAL")


@contextlib.contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A read transaction: every SELECT inside sees the same committed state (WAL snapshot).
    Inside an already open transaction (uncommitted own writes) it just yields."""
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


def schema_version(conn: sqlite3.Connection) -> int:
    """The bank's registered schema version; 0 when the bank's tables do not exist yet."""
    return migrations.version(conn, COMPONENT)


def migrate(conn: sqlite3.Connection, dim: int) -> None:
    """Create or upgrade the bank's tables (indexer.migrations) and its meta row (the caller holds the
    writer lock). Raise BankError when the database was written by a newer Shutka."""
    try:
        migrations.migrate(conn, [COMPONENT])
    except migrations.SchemaTooNew as exc:
        raise BankError(f"the bank's tables are at schema version {exc.found}, newer than this "
                        f"Shutka understands ({exc.known}); upgrade Shutka") from exc
    with transaction(conn):
        conn.execute("INSERT OR IGNORE INTO bank_meta (singleton, dim) VALUES (1, ?)", (dim,))


def require_schema(conn: sqlite3.Connection, path: Path) -> None:
    """For read-only use: raise BankError unless the bank's tables exist at this version."""
    current = schema_version(conn)
    if current == 0:
        raise BankError(f"no memory bank in {path}; run `shutka index` to create one")
    if current != SCHEMA_VERSION:
        raise BankError(f"the bank in {path} is at schema version {current}, this Shutka reads "
                        f"{SCHEMA_VERSION}; run `shutka index` (as the writer) to migrate it")


# -- reads --------------------------------------------------------------------------------------


def read_meta(conn: sqlite3.Connection) -> Meta:
    """The meta row; BankCorrupt if it is missing."""
    row = conn.execute("SELECT dim, model_digest, generation, gen_index, gen_count, gen_bytes, "
                       "gen_quick_hash, gen_sha256, version, next_id FROM bank_meta").fetchone()
    if row is None:
        raise BankCorrupt("the bank's meta row is missing; run `shutka index --rebuild`")
    return Meta(*row)


def read_version(conn: sqlite3.Connection) -> int:
    """The commit counter alone: the cheap read a reader does before every search."""
    row = conn.execute("SELECT version FROM bank_meta").fetchone()
    return int(row[0]) if row else -1


def _id_json(ids: Iterable[int]) -> str:
    return json.dumps([int(i) for i in ids])


def ids_array(conn: sqlite3.Connection, sql: str, params: Sequence[object] = ()) -> np.ndarray:
    """The single integer column of `sql` as a sorted int64 array."""
    rows = conn.execute(sql, params).fetchall()
    out = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    out.sort()
    return out


def entry_from_row(row: Sequence[object]) -> Entry:
    return Entry(*row)  # type: ignore[arg-type]


def get_entries(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, Entry]:
    """Entries by id; missing ids are absent from the result."""
    rows = conn.execute(f"SELECT {_ENTRY_COLUMNS} FROM bank_entries WHERE id IN "
                        "(SELECT value FROM json_each(?))", (_id_json(ids),)).fetchall()
    return {row[0]: entry_from_row(row) for row in rows}


def filter_clause(kinds: Sequence[str] | None, section: str | None) -> tuple[str, list[object]]:
    """SQL condition (and parameters) selecting entries of `kinds` in `section` (None: any)."""
    parts: list[str] = []
    params: list[object] = []
    if kinds is not None:
        parts.append(f"kind IN ({','.join('?' * len(kinds))})")
        params += list(kinds)
    if section is not None:
        parts.append("section = ?")
        params.append(section)
    return (" AND ".join(parts) or "1"), params


def list_entries(conn: sqlite3.Connection, *, file: str | None, kind: str | None, section: str | None,
                 limit: int, offset: int) -> list[Entry]:
    """Entries in id order, optionally of one file / kind / section."""
    where, params = filter_clause([kind] if kind is not None else None, section)
    if file is not None:
        where += " AND file = ?"
        params.append(file)
    rows = conn.execute(f"SELECT {_ENTRY_COLUMNS} FROM bank_entries WHERE {where} "
                        "ORDER BY id LIMIT ? OFFSET ?", (*params, limit, offset)).fetchall()
    return [entry_from_row(row) for row in rows]


def files(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """(file, section, entry count) for every file with entries, sorted by file."""
    return [(r[0], r[1], r[2]) for r in conn.execute(
        "SELECT file, section, count(*) FROM bank_entries WHERE file IS NOT NULL "
        "GROUP BY file, section ORDER BY file, section")]


def find_by_hash(conn: sqlite3.Connection, hashes: Iterable[str]) -> dict[str, int]:
    """content hash → the lowest live id with that hash."""
    rows = conn.execute("SELECT content_hash, min(id) FROM bank_entries WHERE content_hash IN "
                        "(SELECT value FROM json_each(?)) GROUP BY content_hash",
                        (json.dumps(list(hashes)),)).fetchall()
    return {row[0]: int(row[1]) for row in rows}


def load_delta(conn: sqlite3.Connection, dim: int, min_id: int = 0
               ) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Live delta rows with id >= min_id: ids (n,), vectors (n, dim), kinds, sections, in id order
    (rows of deleted entries are skipped: they have a tombstone). Raise BankCorrupt on a vector
    blob of the wrong size."""
    rows = conn.execute("SELECT d.id, d.vector, e.kind, e.section FROM bank_delta d "
                        "JOIN bank_entries e ON e.id = d.id WHERE d.id >= ? ORDER BY d.id",
                        (min_id,)).fetchall()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    blob = b"".join(r[1] for r in rows)
    if len(blob) != len(rows) * dim * 4:
        raise BankCorrupt(f"the bank's delta holds vectors that are not {dim}-d float32; "
                          "run `shutka index --rebuild`")
    vectors = np.frombuffer(blob, dtype=np.float32).reshape(len(rows), dim)
    return ids, vectors, [r[2] for r in rows], [r[3] for r in rows]


def load_tombstones(conn: sqlite3.Connection, after_version: int) -> np.ndarray:
    """Ids tombstoned by commits after `after_version` (all of them for -1), (n,) int64."""
    return ids_array(conn, "SELECT id FROM bank_tombstones WHERE version > ?", (after_version,))


# -- writes (the caller holds the writer lock and owns the transaction) -------------------------


def bump_version(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE bank_meta SET version = version + 1")


def insert_entries(conn: sqlite3.Connection, texts: Sequence[str], metas: Sequence[EntryMeta],
                   vectors: np.ndarray | None) -> list[int]:
    """Allocate ids, insert the entries and (unless `vectors` is None: the caller writes a
    generation) their delta vectors (N, dim) float32. Returns the new ids in input order."""
    (next_id,) = conn.execute("SELECT next_id FROM bank_meta").fetchone()
    ids = list(range(next_id, next_id + len(texts)))
    now = time.time()
    conn.executemany(
        f"INSERT INTO bank_entries ({_ENTRY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
        ((i, text, m.kind, m.section, m.file, m.start_line, m.end_line, m.symbol,
          m.content_hash or content_hash(text), now) for i, text, m in zip(ids, texts, metas, strict=True)))
    if vectors is not None:
        conn.executemany("INSERT INTO bank_delta (id, vector) VALUES (?, ?)",
                         zip(ids, (row.tobytes() for row in vectors), strict=True))
    conn.execute("UPDATE bank_meta SET next_id = ?, version = version + 1", (next_id + len(texts),))
    return ids


def delete_entries(conn: sqlite3.Connection, ids: Iterable[int]) -> int:
    """Delete entries and tombstone their vectors (in the file or the delta) with the new version.
    Returns how many entries existed."""
    bump_version(conn)
    js = _id_json(ids)
    conn.execute("INSERT OR IGNORE INTO bank_tombstones (id, version) "
                 "SELECT e.id, (SELECT version FROM bank_meta) FROM bank_entries e "
                 "WHERE e.id IN (SELECT value FROM json_each(?))", (js,))
    return conn.execute("DELETE FROM bank_entries WHERE id IN (SELECT value FROM json_each(?))",
                        (js,)).rowcount


def file_ids(conn: sqlite3.Connection, path: str) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM bank_entries WHERE file = ?", (path,))]


def rename_file(conn: sqlite3.Connection, old: str, new: str) -> int:
    """Point `old`'s entries at `new` (their vectors stay where they are). Returns the count."""
    moved = conn.execute("UPDATE bank_entries SET file = ? WHERE file = ?", (new, old)).rowcount
    bump_version(conn)
    return moved


def set_generation(conn: sqlite3.Connection, *, number: int, index_type: str, count: int, size: int,
                   quick_hash: str, sha256: str, model_digest: str | None, dim: int) -> None:
    """Point the bank at generation `number` (whose file is already written and fsynced)."""
    conn.execute("UPDATE bank_meta SET generation=?, gen_index=?, gen_count=?, gen_bytes=?, "
                 "gen_quick_hash=?, gen_sha256=?, model_digest=?, dim=?, version = version + 1",
                 (number, index_type, count, size, quick_hash, sha256, model_digest, dim))


def clear_folded(conn: sqlite3.Connection, meta: Meta) -> None:
    """Drop the delta rows and tombstones that existed at `meta` (a new generation folded them)."""
    conn.execute("DELETE FROM bank_delta WHERE id < ?", (meta.next_id,))
    conn.execute("DELETE FROM bank_tombstones WHERE version <= ?", (meta.version,))


def text_search(conn: sqlite3.Connection, query: str, k: int, kinds: Sequence[str] | None = None) -> list[int]:
    """Ids of entries whose text or symbol contains `query` (a plain substring, case-insensitive for
    ASCII), definitions before lines, then by id."""
    sql = "SELECT id FROM bank_entries WHERE (text LIKE ? ESCAPE '\\' OR symbol LIKE ? ESCAPE '\\')"
    like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    args: list[object] = [like, like]
    if kinds:
        sql += f" AND kind IN ({','.join('?' * len(kinds))})"
        args += list(kinds)
    return [r[0] for r in conn.execute(sql + " ORDER BY kind != 'line', id LIMIT ?", [*args, k])]
