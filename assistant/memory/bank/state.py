"""`BankState`: one `MemoryBank`'s connection, mutex and in-memory view, kept in step with the
database: snapshot reads that first catch the view up, and write transactions under the lock.

Reading: every operation runs inside one SQLite read snapshot (WAL). It reads
`bank_meta.version`; when that moved, it appends the delta rows and tombstones committed since
(or, when the generation changed, opens the new file and loads its delta afresh). So a reader
costs one small SQL read when nothing changed and never sees half a commit.

Writing: the writer lock, then BEGIN IMMEDIATE, the change, COMMIT (auto_save) or a transaction
left open for `commit()` (auto_save off, each call inside a savepoint), then a catch-up read.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np

from assistant.config import BankConfig
from assistant.errors import BankError, BankLocked, BankModelMismatch
from assistant.memory.bank import maintenance, store
from assistant.memory.bank.vectors import (
    Generation,
    corrupt_generation,
    open_generation,
    remove_stale_files,
)
from assistant.memory.bank.view import BankView
from indexer.errors import LockBusy
from indexer.locking import WriterLock

log = logging.getLogger(__name__)

T = TypeVar("T")
P = TypeVar("P")

OPEN_RETRIES = 5
"""Fresh snapshots tried when the generation file a snapshot names was removed meanwhile."""


class BankState:
    """See the module docstring. `lock` is None for a read-only bank."""

    def __init__(self, directory: Path, dim: int, config: BankConfig, db_path: Path,
                 lock: WriterLock | None, caller_digest: str | None, lock_timeout: float | None) -> None:
        self.directory, self.dim, self.config, self.db_path = directory, dim, config, db_path
        self.lock, self.caller_digest, self.lock_timeout = lock, caller_digest, lock_timeout
        self.mutex = threading.RLock()
        self.view = BankView(Generation(0), dim)
        self.meta: store.Meta | None = None
        self.version = -1
        self.pending = False
        """auto_save off: a write transaction is open, holding the writer lock until commit()."""
        self.closed = False
        self._mismatch: str | None = None
        if lock is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self.conn = store.connect(db_path, read_only=lock is None)
        try:
            if lock is None:
                store.require_schema(self.conn, db_path)
            else:
                with self.locked():
                    store.migrate(self.conn, dim)
                    self._adopt_digest()
                    remove_stale_files(directory, store.read_meta(self.conn).generation)
            self.read(lambda: None)
        except sqlite3.Error as exc:
            self.conn.close()
            raise store.translate(db_path, exc) from exc
        except BaseException:
            self.conn.close()
            raise

    def close(self) -> None:
        with self.mutex:
            if not self.closed:
                self.closed = True
                self.conn.close()
                self.view = BankView(Generation(0), self.dim)   # drops (unmaps) the generation

    # -- reading --------------------------------------------------------------------------------

    def read(self, fn: Callable[[], T]) -> T:
        """Run `fn` under the mutex inside one read snapshot, after catching the view up to it.
        Retries when a compaction removed the file the snapshot pointed to."""
        with self.mutex:
            if self.closed:
                raise BankError("the memory bank is closed")
            for attempt in range(OPEN_RETRIES):
                try:
                    with store.snapshot(self.conn):
                        self.catch_up()
                        return fn()
                except FileNotFoundError as exc:
                    if attempt == OPEN_RETRIES - 1 or self.conn.in_transaction:
                        raise corrupt_generation(Path(exc.filename or self.directory),
                                                 "missing for the committed generation") from None
                except sqlite3.Error as exc:
                    raise store.translate(self.db_path, exc) from exc
        raise AssertionError("unreachable")

    def catch_up(self) -> bool:
        """Bring the view to the snapshot's version: the changes since the cached version, or
        everything when the generation changed. Returns False when nothing changed."""
        version = store.read_version(self.conn)
        if version == self.version and self.meta is not None:
            return False
        meta = store.read_meta(self.conn)
        view = self.view
        if self.meta is None or meta.generation != view.generation.number or meta.dim != self.meta.dim:
            generation = open_generation(self.directory, meta.generation, size=meta.gen_bytes,
                                         quick=meta.gen_quick_hash, count=meta.gen_count, dim=meta.dim,
                                         mmap_min_bytes=self.config.mmap_min_bytes, nprobe=self.config.nprobe,
                                         sha256=meta.gen_sha256)
            view = BankView(generation, meta.dim)
            since_id, since_version = 0, -1
        else:
            since_id, since_version = self.meta.next_id, self.version
        try:
            view.apply(store.load_delta(self.conn, meta.dim, since_id),
                       store.load_tombstones(self.conn, since_version))
        except BaseException:
            self.forget()                                 # the view may be half advanced
            raise
        self.view, self.meta, self.version = view, meta, version
        self._mismatch = self._mismatch_message(meta)
        return True

    def forget(self) -> None:
        """Make the next read reload everything (after a rollback moved the version back)."""
        self.meta, self.version = None, -1

    def check_model(self) -> None:
        """Raise BankModelMismatch when the bank's vectors come from another model (or dim)."""
        if self._mismatch is not None:
            raise BankModelMismatch(self._mismatch)

    def _mismatch_message(self, meta: store.Meta) -> str | None:
        if meta.dim != self.dim:
            why = f"holds {meta.dim}-d vectors and the model makes {self.dim}-d ones"
        elif self.caller_digest is not None and meta.model_digest not in (None, self.caller_digest):
            why = f"was encoded by model {meta.model_digest} and the current model is {self.caller_digest}"
        else:
            return None
        return (f"the memory bank in {self.directory} {why}; latents of two models are never mixed: "
                "re-encode it (`shutka index` does, or MemoryBank.reencode)")

    def matching_ids(self, kinds: frozenset[str] | None, section: str | None, max_id: int) -> np.ndarray:
        """Ids up to `max_id` of every live entry passing the filter (later deletes: the tombstones)."""
        where, params = store.filter_clause(sorted(kinds) if kinds is not None else None, section)
        return store.ids_array(self.conn, f"SELECT id FROM bank_entries WHERE {where} AND id <= ?",
                               [*params, max_id])

    def snapshot(self) -> maintenance.Snapshot:
        assert self.meta is not None
        return maintenance.Snapshot(self.meta, self.view)

    # -- writing --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the writer lock (BankLocked after `lock_timeout`)."""
        if self.lock is None:
            raise BankError("this memory bank was opened read-only")
        with acquired(self.lock, self.lock_timeout):
            yield

    @contextlib.contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """The writer lock and a write transaction on the bank's connection, committed at the end
        (auto_save) or left open for `commit()`. The view catches up after the commit."""
        if self.pending:
            with self.mutex, self._savepoint():
                yield self.conn
            self.read(lambda: None)
            return
        with self.locked(), self.mutex:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                self.read(lambda: None)
                yield self.conn
                if self.config.auto_save:
                    self.conn.execute("COMMIT")
            except BaseException as exc:
                if self.conn.in_transaction:              # the view was read before any write:
                    self.conn.execute("ROLLBACK")         # it still matches the database
                if isinstance(exc, sqlite3.Error):
                    raise store.translate(self.db_path, exc) from exc
                raise
            if not self.config.auto_save:
                self.pending = True
                self.lock.acquire(self.lock_timeout)      # type: ignore[union-attr]  # until commit()
            self.read(lambda: None)

    @contextlib.contextmanager
    def _savepoint(self) -> Iterator[None]:
        """Inside the open transaction (auto_save off), keep each call all-or-nothing."""
        self.conn.execute("SAVEPOINT bank_op")
        try:
            yield
        except BaseException as exc:
            self.conn.execute("ROLLBACK TO bank_op")
            self.conn.execute("RELEASE bank_op")
            if isinstance(exc, sqlite3.Error):
                raise store.translate(self.db_path, exc) from exc
            raise
        self.conn.execute("RELEASE bank_op")

    def end_pending(self, *, commit: bool) -> bool:
        """COMMIT or ROLLBACK the open transaction of auto_save off; False if none was open."""
        with self.mutex:
            if not self.pending:
                return False
            try:
                self.conn.execute("COMMIT" if commit else "ROLLBACK")
            except sqlite3.Error as exc:
                raise store.translate(self.db_path, exc) from exc
            finally:
                if not self.conn.in_transaction:
                    self.pending = False
                    self.lock.release()                   # type: ignore[union-attr]
            if not commit:
                self.forget()                             # the version went back: reload it all
        self.read(lambda: None)
        return True

    def new_generation(self, build: Callable[[maintenance.Snapshot], P],
                       commit: Callable[[maintenance.Snapshot, P], T]) -> T:
        """Under the writer lock, with the view current: `build` writes the next generation file
        (without the mutex: nobody else can commit meanwhile, so the view stays as it is and
        searches go on), then `commit` flips to it in one transaction. Afterwards the view loads
        it and files no reader needs any more are deleted."""
        if self.pending:
            raise BankError("commit() or rollback() the pending changes first")
        with self.locked():
            with self.mutex:
                self.read(lambda: None)
                snap = self.snapshot()
            built = build(snap)
            with self.mutex:
                try:
                    result = commit(snap, built)
                except sqlite3.Error as exc:
                    raise store.translate(self.db_path, exc) from exc
                self.read(lambda: None)
            remove_stale_files(self.directory, self.view.generation.number)
        return result

    def _adopt_digest(self) -> None:
        """Writer open: record the caller's model digest (and dim) on a bank that is empty, or
        that has no digest yet."""
        meta = store.read_meta(self.conn)
        digest = self.caller_digest
        (count,) = self.conn.execute("SELECT count(*) FROM bank_entries").fetchone()
        if count == 0 and meta.gen_count == 0 and (meta.dim != self.dim or
                                                   (digest and digest != meta.model_digest)):
            with store.transaction(self.conn):
                self.conn.execute("UPDATE bank_meta SET dim = ?, model_digest = ?, version = version + 1",
                                  (self.dim, digest or meta.model_digest))
        elif digest and meta.model_digest is None:
            log.warning("memory bank %s has no model digest; recording %s", self.directory, digest)
            with store.transaction(self.conn):
                self.conn.execute("UPDATE bank_meta SET model_digest = ?, version = version + 1", (digest,))


@contextlib.contextmanager
def acquired(lock: WriterLock, timeout: float | None) -> Iterator[None]:
    """Hold `lock`, translating a timeout into BankLocked."""
    try:
        lock.acquire(timeout)
    except LockBusy as exc:
        raise BankLocked(f"{exc} (the memory bank has one writer at a time)") from exc
    try:
        yield
    finally:
        lock.release()
