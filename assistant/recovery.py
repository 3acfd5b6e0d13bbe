"""Recovering a workspace whose state under `.shutka/` is damaged, the same way for every surface.

`assistant.runtime.build_runtime` (the CLI, the API server, the LSP and the TUI all open a workspace
through it) calls in here when opening fails on damage; each recovery logs ONE warning, the same
text whoever opened the workspace, and the progress of the re-encoding goes to the caller's callback.

- A bank generation file (`.shutka/bank/gen-N.faiss`) that fails its size or checksum, or that FAISS
  cannot read (BankVectorsDamaged, or another BankCorrupt of the bank's own data): the entries' texts
  are intact in the database, so `MemoryBank.rebuild` re-encodes them into a fresh generation.
- `.shutka/index.sqlite` that SQLite finds corrupt or not a database (DatabaseDamaged, from the catalog,
  the bank or the Titans store): under the writer lock the file (with its `-wal`/`-shm`) is moved aside
  as `index.sqlite.damaged-<time>` (never deleted), what cannot be rebuilt from the workspace files,
  the Titans episodes (with the model they belong to) and the user's suppressions, is copied from it
  into a fresh database as far as SQLite can still read it, and the catalog, chunks and bank are
  rebuilt by the next sync (re-chunked and re-encoded from the disk). The Titans memory weights live in
  `.shutka/titans/`, outside the database, and are not touched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.config import BankConfig
from assistant.errors import BankCorrupt, BankVectorsDamaged
from assistant.memory.bank import MemoryBank
from indexer.catalog import is_corrupt
from indexer.errors import DatabaseDamaged
from indexer.locking import WriterLock
from indexer.schema import SCHEMA_VERSIONS_SQL

log = logging.getLogger(__name__)

KEPT_TABLES = ("titans_model", "titans_episodes", "assistant_suppressed")
"""What a damaged database holds that the workspace files cannot give back, copied when readable."""
KEPT_COMPONENTS = ("titans", "suppressions")
"""`schema_versions` rows that go with KEPT_TABLES."""
DAMAGED_INFIX = ".damaged-"
LOCK_TIMEOUT_S = 60.0

FileIdentity = tuple[int, int] | None


def file_identity(path: Path) -> FileIdentity:
    """(device, inode) of `path`, None when absent: tells whether another process replaced the file."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def damage_in(exc: BaseException, db: Path) -> DatabaseDamaged | None:
    """The database damage behind `exc` (itself, or its cause): DatabaseDamaged as the catalog and the
    bank raise it, or a raw SQLite corruption error (the Titans store, the suppression table)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DatabaseDamaged):
            return current
        if isinstance(current, sqlite3.DatabaseError) and is_corrupt(current):
            return DatabaseDamaged(db, str(current))
        current = current.__cause__ or current.__context__
    return None


# -- the database -------------------------------------------------------------------------------------


@dataclass
class _Kept:
    """One table copied out of the damaged database."""

    name: str
    schema: list[str]
    """CREATE TABLE then its CREATE INDEX statements, as the damaged file recorded them."""
    rows: list[tuple[object, ...]] = field(default_factory=list)
    complete: bool = True


@dataclass
class _Salvage:
    tables: dict[str, _Kept] = field(default_factory=dict)
    versions: list[tuple[str, int]] = field(default_factory=list)
    readable: bool = True
    """False when not even the damaged file's schema could be read."""


def recover_database(db: Path, lock: WriterLock, damage: DatabaseDamaged, seen: FileIdentity) -> str | None:
    """Under the writer lock: move the damaged `db` aside, keep what it still holds of KEPT_TABLES in a
    fresh database at `db`, log the one warning and return it. `seen` is the file's identity when it
    was opened: when `db` is another file by now, another process recovered it first (None is returned)."""
    with lock(timeout=LOCK_TIMEOUT_S):
        if file_identity(db) != seen:
            log.info("%s was replaced meanwhile (recovered by another process): opening it again", db)
            return None
        aside = _aside_name(db)
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.replace(f"{db}{suffix}", f"{aside}{suffix}")
        salvage = _salvage(aside)
        _write_fresh(db, salvage)
    message = database_message(db, damage.why, aside, salvage)
    log.warning("%s", message)
    return message


def check_database(db: Path, lock: WriterLock) -> str | None:
    """SQLite's `PRAGMA quick_check` over `db` (every page of every b-tree: ~0.65 s for 500 MB with a
    warm cache), and when it finds damage, `recover_database`. `shutka index` runs it, so damage the
    opening does not touch (a table only some commands read) is recovered too. -> the warning, if any."""
    seen = file_identity(db)
    if seen is None:
        return None
    problem = quick_check(db)
    if problem is None:
        return None
    return recover_database(db, lock, DatabaseDamaged(db, problem), seen)


def quick_check(db: Path) -> str | None:
    """The first problem `PRAGMA quick_check` reports (or the error it raises); None when sound."""
    try:
        conn = sqlite3.connect(db, timeout=30.0)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        conn.execute("PRAGMA query_only = ON")
        rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc) if is_corrupt(exc) else None        # busy or locked: not damage
    finally:
        conn.close()
    first = str(rows[0][0]) if rows else "ok"
    if first == "ok":
        return None
    log.info("quick_check of %s: %s", db, " ".join(first.split())[:500])
    return "database disk image is malformed"      # SQLite's words for it, whoever finds it


def database_message(db: Path, why: str, aside: Path, salvage: _Salvage) -> str:
    """The one warning of a database recovery."""
    if not salvage.readable:
        kept = "nothing could be read from it (any Titans episodes and suppressions it held are lost)"
    else:
        parts = []
        for table, label in (("titans_episodes", "Titans episodes"), ("assistant_suppressed", "suppressions")):
            kept_table = salvage.tables.get(table)
            count = len(kept_table.rows) if kept_table else 0
            partly = "" if kept_table is None or kept_table.complete else " (the rest could not be read)"
            parts.append(f"{count} {label}{partly}")
        kept = "kept " + " and ".join(parts)
    return (f"the database {db} was damaged ({why}): moved it to {aside}; {kept}; rebuilding the catalog, "
            "chunks and memory bank from the workspace files (the Titans memory weights in "
            f"{db.parent / 'titans'} are untouched)")


def _aside_name(db: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = db.with_name(f"{db.name}{DAMAGED_INFIX}{stamp}")
    number = 1
    while aside.exists():
        number += 1
        aside = db.with_name(f"{db.name}{DAMAGED_INFIX}{stamp}-{number}")
    return aside


def _salvage(path: Path) -> _Salvage:
    """KEPT_TABLES and their schema rows from the damaged file, each as far as it can be read (rows up
    to the first unreadable page). Never writes to the file."""
    salvage = _Salvage()
    if not path.exists():
        salvage.readable = False
        return salvage
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=5.0)
    except sqlite3.Error:
        salvage.readable = False
        return salvage
    try:
        # a truncated file is refused as a whole (its header counts more pages than the file has)
        # unless the schema is "writable": then every page still there can be read
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA writable_schema = ON")
        marks = ",".join("?" * len(KEPT_TABLES))
        try:
            schema = conn.execute(f"SELECT type, tbl_name, sql FROM sqlite_master WHERE tbl_name IN ({marks}) "
                                  "AND sql IS NOT NULL ORDER BY type DESC", KEPT_TABLES).fetchall()
        except sqlite3.Error as exc:
            log.info("cannot read the schema of %s: %s", path, exc)
            salvage.readable = False
            return salvage
        for kind, table, sql in schema:          # 'table' rows first (ORDER BY type DESC)
            if kind == "table":
                salvage.tables[table] = _Kept(table, [sql])
            elif table in salvage.tables:
                salvage.tables[table].schema.append(sql)
        for kept in salvage.tables.values():
            try:
                cursor = conn.execute(f'SELECT * FROM "{kept.name}"')
                while batch := cursor.fetchmany(512):
                    kept.rows.extend(batch)
            except sqlite3.Error as exc:
                log.info("%s: %d rows of %s read before: %s", path, len(kept.rows), kept.name, exc)
                kept.complete = False
        with contextlib.suppress(sqlite3.Error):
            marks = ",".join("?" * len(KEPT_COMPONENTS))
            salvage.versions = conn.execute(f"SELECT component, version FROM schema_versions WHERE component "
                                            f"IN ({marks})", KEPT_COMPONENTS).fetchall()
    finally:
        conn.close()
    return salvage


def _write_fresh(db: Path, salvage: _Salvage) -> None:
    """A new database at `db` holding the salvaged tables (the other components add theirs when they
    open it): written beside, then renamed into place."""
    tmp = db.with_name(db.name + ".recovering")
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.execute(SCHEMA_VERSIONS_SQL)
        for kept in salvage.tables.values():
            for statement in kept.schema:
                conn.execute(statement)
            if kept.rows:
                marks = ",".join("?" * len(kept.rows[0]))
                conn.executemany(f'INSERT OR IGNORE INTO "{kept.name}" VALUES ({marks})', kept.rows)
        conn.executemany("INSERT OR REPLACE INTO schema_versions (component, version) VALUES (?, ?)",
                         salvage.versions)
        conn.execute("COMMIT")
    finally:
        conn.close()
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, db)
    fd = os.open(db.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the bank's vector file ---------------------------------------------------------------------------


def open_bank(directory: Path, dim: int, config: BankConfig, *, db_path: Path, lock: WriterLock,
              model_digest: str, encode: Callable[[list[str], list[str]], object],
              progress: Callable[[int, int], None] | None = None,
              notices: list[str] | None = None) -> MemoryBank:
    """Open the workspace's bank; when its vector file is damaged (or its own data inconsistent), log
    the one warning (appended to `notices`) and re-encode every entry from its stored text first.
    Database damage is not handled here: it propagates as DatabaseDamaged."""

    def opened() -> MemoryBank:
        return MemoryBank(directory, dim, config, db_path=db_path, lock=lock, model_digest=model_digest)

    try:
        return opened()
    except DatabaseDamaged:
        raise
    except BankCorrupt as exc:
        first = exc
    with lock(timeout=LOCK_TIMEOUT_S):
        try:
            return opened()               # another process repaired it while this one waited
        except DatabaseDamaged:
            raise
        except BankCorrupt:
            pass
        message = vectors_message(first)
        log.warning("%s", message)
        if notices is not None:
            notices.append(message)
        return MemoryBank.rebuild(directory, dim, encode, model_digest, config,  # type: ignore[arg-type]
                                  db_path=db_path, lock=lock, progress=progress)


def vectors_message(exc: BankCorrupt) -> str:
    """The one warning of a bank re-encoding after damage."""
    if isinstance(exc, BankVectorsDamaged):
        what = f"the memory bank's vector file {exc.path} is damaged ({exc.why})"
    else:
        what = f"the memory bank is inconsistent ({exc})"
    return (f"{what}: re-encoding its entries from their stored texts into a fresh file (the catalog, the "
            "Titans memory and the suppressions are intact)")
