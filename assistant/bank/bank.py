"""`MemoryBank`: the facade over the SQLite metadata (store.py) and the FAISS generations (vectors.py).

Writers take the `WriterLock` (re-entrant, so the workspace sync that already holds it can call
in) and change the bank in one small SQLite transaction each: an add inserts entries + delta
vectors, a delete removes delta rows or writes tombstones. When the delta and the tombstones
outgrow `BankConfig.compact_after`, a compaction writes the next generation file and flips to it
in one commit. Readers never lock: before each operation they read `bank_meta.version` (one
small SQL read) and, when it moved, reload the delta, the tombstones and, if the generation
changed, reopen the file; all of it inside one read snapshot, so they never see half a write.

Search is exact over generation ∪ delta for flat generations: FAISS with an id selector that
drops tombstones, numpy over the delta, merged. Filters by kind/section over-fetch from FAISS and
post-filter; when the filter is too selective for that, they search with a selector of the
matching ids instead (cached until the next commit).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Self, TypeVar

import numpy as np

from assistant.bank import maintenance, store
from assistant.bank.types import SECTIONS, BankStats, Entry, EntryMeta, Hit
from assistant.bank.vectors import Generation, IdSelector, normalized, open_generation, remove_stale_files
from assistant.bank.view import BankView
from assistant.config import BankConfig
from assistant.errors import BankCorrupt, BankError, BankLocked, BankModelMismatch
from indexer.errors import LockBusy
from indexer.locking import WriterLock

log = logging.getLogger(__name__)

T = TypeVar("T")

OPEN_RETRIES = 5


class MemoryBank:
    """FAISS vectors with int64 ids + metadata in SQLite; see the module docstring for the protocol.

    `directory` holds the generation files; the SQLite tables live in `db_path` (default
    `<directory>/bank.sqlite`; in a workspace the shared `.shutka/index.sqlite`). `lock` is the
    workspace's `WriterLock` or its path (default `<directory>/writer.lock`). `model_digest`
    names the model whose latents the caller adds and searches with: a bank encoded by another
    model raises BankModelMismatch until `reencode()`. `read_only` opens a reader (never locks,
    never writes). Thread-safe; one instance per process is enough.
    """

    def __init__(self, directory: str | os.PathLike[str], dim: int, config: BankConfig | None = None, *,
                 db_path: str | os.PathLike[str] | None = None,
                 lock: WriterLock | str | os.PathLike[str] | None = None,
                 model_digest: str | None = None, read_only: bool = False,
                 lock_timeout: float | None = 30.0) -> None:
        self.directory = Path(directory)
        self.dim = int(dim)
        self.config = config or BankConfig()
        self.db_path = Path(db_path) if db_path is not None else self.directory / "bank.sqlite"
        self.read_only = read_only
        self.lock_timeout = lock_timeout
        self._lock: WriterLock | None = None
        if not read_only:
            self._lock = lock if isinstance(lock, WriterLock) else \
                WriterLock(Path(lock) if lock is not None else self.directory / "writer.lock")
        self._caller_digest = model_digest
        self._mutex = threading.RLock()
        self._view = BankView(Generation(0), self.dim)
        self._filter_selectors: dict[tuple[frozenset[str] | None, str | None], IdSelector] = {}
        self._meta: store.Meta | None = None
        self._version = -1
        self._mismatch: str | None = None
        self._reloaded = False
        self._pending = False
        self._closed = False
        if not read_only:
            self.directory.mkdir(parents=True, exist_ok=True)
        self._conn = store.connect(self.db_path, read_only=read_only)
        try:
            if read_only:
                store.require_schema(self._conn, self.db_path)
            else:
                with self._locked():
                    store.migrate(self._conn, self.dim)
                    self._adopt_digest()
                    remove_stale_files(self.directory, store.read_meta(self._conn).generation)
            self.refresh()
        except sqlite3.Error as exc:
            self._conn.close()
            raise store.translate(self.db_path, exc) from exc
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(cls, directory: str | os.PathLike[str], dim: int, config: BankConfig | None = None,
             **kwargs: object) -> MemoryBank:
        """Same as the constructor (reads well at call sites: `with MemoryBank.open(...) as bank`)."""
        return cls(directory, dim, config, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def rebuild(cls, directory: str | os.PathLike[str], dim: int, encode: maintenance.Encode,
                model_digest: str, config: BankConfig | None = None, *,
                db_path: str | os.PathLike[str] | None = None,
                lock: WriterLock | str | os.PathLike[str] | None = None,
                progress: maintenance.Progress | None = None) -> MemoryBank:
        """Re-encode every entry from its stored text into a fresh generation without opening the
        current one (so it repairs a bank whose vector file is damaged), then open the bank."""
        directory = Path(directory)
        config = config or BankConfig()
        db = Path(db_path) if db_path is not None else directory / "bank.sqlite"
        writer = lock if isinstance(lock, WriterLock) else \
            WriterLock(Path(lock) if lock is not None else directory / "writer.lock")
        directory.mkdir(parents=True, exist_ok=True)
        conn = store.connect(db, read_only=False)
        try:
            with _acquired(writer, 30.0):
                store.migrate(conn, dim)
                maintenance.reencode(conn, directory, config, dim=dim, encode=encode,
                                     model_digest=model_digest, progress=progress)
        except sqlite3.Error as exc:
            raise store.translate(db, exc) from exc
        finally:
            conn.close()
        return cls(directory, dim, config, db_path=db, lock=writer, model_digest=model_digest)

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Commit pending changes (auto_save off), close the database, unmap the generation."""
        with self._mutex:
            if self._closed:
                return
            if self._pending:
                self.commit()
            self._closed = True
            self._conn.close()
            self._view = BankView(Generation(0), self.dim)
            self._filter_selectors.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None and self._pending:
            self.rollback()
        self.close()

    def __repr__(self) -> str:
        return f"MemoryBank({str(self.directory)!r}, dim={self.dim}, generation={self._view.generation.number})"

    @property
    def lock(self) -> WriterLock:
        """The writer lock; hold it around a transaction that uses the `stage_*` methods."""
        if self._lock is None:
            raise BankError("a read-only bank has no writer lock")
        return self._lock

    @property
    def model_digest(self) -> str | None:
        """Digest of the model that encoded the bank's vectors (None: never recorded)."""
        return self._read(lambda: self._meta.model_digest if self._meta else None)

    @property
    def generation(self) -> int:
        """The generation in use (0: no file yet)."""
        return self._read(lambda: self._view.generation.number)

    # -- reading -------------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Pick up commits of other writers (or of a caller's staged transaction). Cheap when
        nothing changed: one small SQL read. Returns True when the state was reloaded."""
        return self._read(lambda: self._reloaded)

    def __len__(self) -> int:
        return self._read(lambda: len(self._view))

    def search(self, queries: np.ndarray, k: int = 10, *, kinds: str | Iterable[str] | None = None,
               section: str | None = None) -> list[list[Hit]]:
        """queries (Q, D) or (D,) -> for each query up to k hits, best first, scored by cosine.
        `kinds` / `section` restrict the entries searched (exactly: the filter never costs recall
        on a flat generation). Raises BankModelMismatch when the bank was encoded by another model."""
        q = self._queries(queries)
        kind_set = None if kinds is None else frozenset([kinds] if isinstance(kinds, str) else kinds)
        if section is not None and section not in SECTIONS:
            raise BankError(f"section must be one of {SECTIONS}, not {section!r}")

        def run() -> list[list[Hit]]:
            self._check_model()
            if k <= 0:
                return [[] for _ in range(len(q))]
            found = self._view.search(q, k, kind_set, section,
                                      matches=lambda ids: self._matches(ids, kind_set, section),
                                      matching_ids=lambda: self._matching_ids(kind_set, section))
            entries = store.get_entries(self._conn, {i for ids, _ in found for i in ids.tolist()})
            return [[Hit(i, float(s), entries[i]) for i, s in zip(ids.tolist(), scores.tolist(), strict=True)]
                    for ids, scores in found]

        return self._read(run)

    def get(self, ids: Iterable[int]) -> list[Entry]:
        """Entries in the order asked; unknown (or deleted) ids are left out."""
        wanted = [int(i) for i in ids]
        found = self._read(lambda: store.get_entries(self._conn, wanted))
        return [found[i] for i in wanted if i in found]

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """ids (N,) -> their stored (normalised) vectors (N, D), from the generation or the delta.
        Raises BankError naming unknown ids, BankModelMismatch as `search` does."""
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)

        def run() -> np.ndarray:
            self._check_model()
            out, missing = self._view.vectors(wanted)
            if missing:
                raise BankError(f"no vector for ids {sorted(set(missing))[:10]} (deleted or never added)")
            return out

        return self._read(run)

    def find_by_hash(self, hashes: Iterable[str]) -> dict[str, int]:
        """content hash -> id of a live entry with that content (for re-using its vector)."""
        wanted = list(hashes)
        return self._read(lambda: store.find_by_hash(self._conn, wanted))

    def entries(self, file: str | None = None, kind: str | None = None, *, section: str | None = None,
                limit: int = 1000, offset: int = 0) -> list[Entry]:
        """Entries in id order, optionally of one file, kind and section (a page: limit/offset)."""
        return self._read(lambda: store.list_entries(self._conn, file=file, kind=kind, section=section,
                                                     limit=limit, offset=offset))

    def files(self) -> list[tuple[str, str, int]]:
        """(file, section, entry count) for every file with entries, sorted by file."""
        return self._read(lambda: [tuple(r) for r in self._conn.execute(  # type: ignore[misc]
            "SELECT file, section, count(*) FROM bank_entries WHERE file IS NOT NULL "
            "GROUP BY file, section ORDER BY file, section")])

    def stats(self) -> BankStats:
        """Counts by kind/section, generation, delta and tombstones, bytes on disk, mmap, digest."""
        def run() -> BankStats:
            assert self._meta is not None
            view = self._view
            by_kind = dict(self._conn.execute("SELECT kind, count(*) FROM bank_entries GROUP BY kind"))
            by_section = dict(self._conn.execute("SELECT section, count(*) FROM bank_entries GROUP BY section"))
            (files,) = self._conn.execute("SELECT count(DISTINCT file) FROM bank_entries").fetchone()
            size = sum(p.stat().st_size for p in self.directory.glob("gen-*.faiss") if p.exists())
            return BankStats(entries=sum(by_kind.values()), by_kind=by_kind, by_section=by_section,
                             dim=self._meta.dim, generation=view.generation.number,
                             generation_vectors=view.generation.ntotal, delta=len(view.delta),
                             tombstones=len(view.tombstones), index_type=view.generation.index_type,
                             mmapped=view.generation.mmapped, index_bytes=size,
                             model_digest=self._meta.model_digest, version=self._version, files=files)
        return self._read(run)

    def check(self) -> list[str]:
        """Verify the bank's invariant (see `maintenance.check`); empty list = consistent."""
        return self._read(lambda: maintenance.check(self._conn, self.directory))

    # -- writing -------------------------------------------------------------------------------

    def add_memory(self, embeddings: np.ndarray, texts: Sequence[str],
                   metadata: Sequence[EntryMeta] | None = None) -> list[int]:
        """Add N entries: embeddings (N, D) float32 (normalised on the way in), texts (N,), optional
        metadata (N,). Returns their new ids. A large batch is written straight into a new
        generation (same commit) instead of the delta."""
        vectors, metas = self._prepare(embeddings, texts, metadata)
        if self.config.auto_save and not self._pending and \
                len(vectors) + self._delta_size() > self.config.compact_after:
            with self._locked():
                with self._mutex:
                    self._read(self._check_model)
                    ids = maintenance.compact(self._conn, self.directory, self.config, self._snapshot(),
                                              maintenance.NewEntries(list(texts), metas, vectors))
                self._after_generation()
                return ids
        with self._writing() as conn:
            self._check_model()
            return store.insert_entries(conn, list(texts), metas, vectors)

    def delete_memory(self, ids: Iterable[int]) -> int:
        """Delete entries by id; returns how many existed."""
        wanted = [int(i) for i in ids]
        with self._writing() as conn:
            return store.delete_entries(conn, wanted)

    def update_memory(self, old_id: int, embeddings: np.ndarray, texts: Sequence[str],
                      metadata: Sequence[EntryMeta] | None = None) -> list[int]:
        """Replace entry `old_id` by N new ones in one commit; without `metadata` they inherit the
        old entry's (content hash recomputed). Returns the new ids; BankError if old_id is unknown."""
        with self._writing() as conn:
            self._check_model()
            old = store.get_entries(conn, [old_id]).get(int(old_id))
            if old is None:
                raise BankError(f"no entry with id {old_id} to update")
            if metadata is None:
                inherited = EntryMeta(old.kind, old.section, old.file, old.start_line, old.end_line, old.symbol)
                metadata = [inherited] * len(texts)
            vectors, metas = self._prepare(embeddings, texts, metadata)
            store.delete_entries(conn, [old_id])
            return store.insert_entries(conn, list(texts), metas, vectors)

    def delete_file(self, path: str) -> int:
        """Delete every entry of `path`; returns the count."""
        with self._writing() as conn:
            return store.delete_entries(conn, store.file_ids(conn, path))

    def rename_file(self, old: str, new: str) -> int:
        """Entries of `old` now belong to `new`, keeping their ids and vectors; returns the count."""
        with self._writing() as conn:
            return store.rename_file(conn, old, new)

    def commit(self) -> None:
        """Commit what was written since the last commit (only needed with auto_save off)."""
        with self._mutex:
            if not self._pending:
                return
            self._conn.execute("COMMIT")
            self._pending = False
            self.lock.release()
        self.refresh()
        self.maybe_compact()

    def rollback(self) -> None:
        """Drop what was written since the last commit (auto_save off)."""
        with self._mutex:
            if not self._pending:
                return
            self._conn.execute("ROLLBACK")
            self._pending = False
            self._version = -1                      # the counter went back: reload from scratch
            self._meta = None
            self.lock.release()
        self.refresh()

    def maybe_compact(self) -> bool:
        """Compact when delta + tombstones exceed `compact_after`; returns True if it did."""
        if self._pending or self._delta_size() <= self.config.compact_after:
            return False
        self.compact()
        return True

    def compact(self) -> int:
        """Write the next generation (generation − tombstones + delta) and flip to it in one commit.
        Returns the new generation number."""
        if self._pending:
            raise BankError("commit() or rollback() the pending changes before compacting")
        with self._locked():
            with self._mutex:
                self._read(lambda: None)
                maintenance.compact(self._conn, self.directory, self.config, self._snapshot())
            self._after_generation()
        return self.generation

    def reencode(self, encode: maintenance.Encode, new_digest: str,
                 progress: maintenance.Progress | None = None, *, batch_size: int = 256) -> int:
        """Re-encode every entry's text with `encode` (texts (B,) -> (B, D) float32) in batches and
        switch all entries to the new vectors and `new_digest` in one commit. Readers keep the old
        generation until then. Returns the new generation number."""
        if self._pending:
            raise BankError("commit() or rollback() the pending changes before re-encoding")
        with self._locked():
            with self._mutex:
                self._read(lambda: None)
                maintenance.reencode(self._conn, self.directory, self.config, dim=self.dim, encode=encode,
                                     model_digest=new_digest, progress=progress, batch_size=batch_size,
                                     previous=self._view.generation)
            self._caller_digest = new_digest
            self._after_generation()
        return self.generation

    # -- staging: bank changes inside the caller's SQLite transaction ---------------------------

    def stage_add(self, conn: sqlite3.Connection, embeddings: np.ndarray, texts: Sequence[str],
                  metadata: Sequence[EntryMeta] | None = None) -> list[int]:
        """`add_memory` as SQL on the caller's connection (same database), inside its transaction.
        The caller holds `bank.lock`, commits, then calls `refresh()` and `maybe_compact()`."""
        self._check_staging()
        vectors, metas = self._prepare(embeddings, texts, metadata)
        return store.insert_entries(conn, list(texts), metas, vectors)

    def stage_delete(self, conn: sqlite3.Connection, ids: Iterable[int]) -> int:
        """`delete_memory` inside the caller's transaction (see `stage_add`)."""
        self._check_staging()
        return store.delete_entries(conn, [int(i) for i in ids])

    def stage_delete_file(self, conn: sqlite3.Connection, path: str) -> int:
        """`delete_file` inside the caller's transaction (see `stage_add`)."""
        self._check_staging()
        return store.delete_entries(conn, store.file_ids(conn, path))

    def stage_rename_file(self, conn: sqlite3.Connection, old: str, new: str) -> int:
        """`rename_file` inside the caller's transaction (see `stage_add`)."""
        self._check_staging()
        return store.rename_file(conn, old, new)

    # -- internals: reading state --------------------------------------------------------------

    def _read(self, fn: Callable[[], T]) -> T:
        """Run `fn` under the mutex inside one read snapshot, after bringing the in-memory state
        to that snapshot. Retries when a compaction removed the file the snapshot pointed to."""
        with self._mutex:
            if self._closed:
                raise BankError("the memory bank is closed")
            for attempt in range(OPEN_RETRIES):
                try:
                    with store.snapshot(self._conn):
                        self._reloaded = self._reload()
                        return fn()
                except FileNotFoundError as exc:
                    if attempt == OPEN_RETRIES - 1 or self._conn.in_transaction:
                        raise BankCorrupt(f"the bank's vector file {exc.filename} for the committed "
                                          "generation is missing; the entries' texts are intact: run "
                                          "`shutka index --rebuild` to re-encode them") from None
                except sqlite3.Error as exc:
                    raise store.translate(self.db_path, exc) from exc
        raise AssertionError("unreachable")

    def _reload(self) -> bool:
        """Bring the view to the snapshot's version: the changes since the cached version, or
        everything when the generation changed. Returns False when nothing changed."""
        version = store.read_version(self._conn)
        if version == self._version and self._meta is not None:
            return False
        meta = store.read_meta(self._conn)
        view = self._view
        if self._meta is None or meta.generation != view.generation.number or meta.dim != self._meta.dim:
            generation = open_generation(self.directory, meta.generation, size=meta.gen_bytes,
                                         quick=meta.gen_quick_hash, count=meta.gen_count, dim=meta.dim,
                                         mmap_min_bytes=self.config.mmap_min_bytes, nprobe=self.config.nprobe)
            view = BankView(generation, meta.dim)
            since_id, since_version = 0, -1
        else:
            since_id, since_version = self._meta.next_id, self._version
        try:
            view.apply(store.load_delta(self._conn, meta.dim, since_id),
                       store.load_tombstones(self._conn, since_version))
        except BaseException:
            self._meta, self._version = None, -1      # the view may be half advanced: reload it all
            raise
        self._view, self._meta, self._version = view, meta, version
        self._filter_selectors.clear()
        self._mismatch = self._mismatch_message(meta)
        return True

    def _mismatch_message(self, meta: store.Meta) -> str | None:
        if meta.dim != self.dim:
            why = f"holds {meta.dim}-d vectors and the model makes {self.dim}-d ones"
        elif self._caller_digest is not None and meta.model_digest not in (None, self._caller_digest):
            why = f"was encoded by model {meta.model_digest} and the current model is {self._caller_digest}"
        else:
            return None
        return (f"the memory bank in {self.directory} {why}; latents of two models are never mixed: "
                "re-encode it (`shutka index` does, or MemoryBank.reencode)")

    def _check_model(self) -> None:
        if self._mismatch is not None:
            raise BankModelMismatch(self._mismatch)

    def _snapshot(self) -> maintenance.Snapshot:
        assert self._meta is not None
        return maintenance.Snapshot(self._meta, self._view)

    def _delta_size(self) -> int:
        return self._view.pending

    def _queries(self, queries: np.ndarray) -> np.ndarray:
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise BankError(f"queries have shape {np.shape(queries)}, expected (Q, {self.dim}) or ({self.dim},)")
        if not np.isfinite(q).all():
            raise BankError("queries contain NaN or inf")
        return normalized(q)

    # -- internals: search ---------------------------------------------------------------------

    def _matches(self, ids: np.ndarray, kinds: frozenset[str] | None, section: str | None) -> np.ndarray:
        """ids (Q, F) -> (Q, F) bool: the entry exists and passes the filter."""
        found = store.kind_section(self._conn, np.unique(ids[ids >= 0]).tolist())
        ok = [i for i, (kind, sec) in found.items()
              if (kinds is None or kind in kinds) and (section is None or sec == section)]
        return np.isin(ids, np.asarray(ok, dtype=np.int64))

    def _matching_ids(self, kinds: frozenset[str] | None, section: str | None) -> IdSelector:
        """A selector of every live entry passing the filter; cached until the next commit."""
        key = (kinds, section)
        if key not in self._filter_selectors:
            where, params = store.filter_clause(sorted(kinds) if kinds is not None else None, section)
            ids = store.ids_array(self._conn, f"SELECT id FROM bank_entries WHERE {where}", params)
            self._filter_selectors[key] = IdSelector(ids)
        return self._filter_selectors[key]

    # -- internals: writing --------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self._lock is None:
            raise BankError("this memory bank was opened read-only")
        with _acquired(self._lock, self.lock_timeout):
            yield

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The writer lock and a write transaction on the bank's connection, committed at the end
        (auto_save) or left open for `commit()`. The in-memory state follows after the commit."""
        if self._pending:                            # auto_save off, a transaction is open already
            with self._mutex:
                self._conn.execute("SAVEPOINT bank_op")  # each call stays all-or-nothing
                try:
                    yield self._conn
                except BaseException as exc:
                    self._conn.execute("ROLLBACK TO bank_op")
                    self._conn.execute("RELEASE bank_op")
                    if isinstance(exc, sqlite3.Error):
                        raise store.translate(self.db_path, exc) from exc
                    raise
                self._conn.execute("RELEASE bank_op")
                self._read(lambda: None)
            return
        with self._locked(), self._mutex:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._read(lambda: None)
                yield self._conn
                if self.config.auto_save:
                    self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:        # the cached view was read before any write:
                    self._conn.execute("ROLLBACK")   # it still matches the database
                if isinstance(exc, sqlite3.Error):
                    raise store.translate(self.db_path, exc) from exc
                raise
            if not self.config.auto_save:
                self._pending = True
                self.lock.acquire(self.lock_timeout)  # held until commit()/rollback()
            self._read(lambda: None)
        if self.config.auto_save:
            self.maybe_compact()

    def _after_generation(self) -> None:
        """After a new generation was committed: load it, delete files no reader needs."""
        self.refresh()
        remove_stale_files(self.directory, self._view.generation.number)

    def _check_staging(self) -> None:
        if self._lock is None or not self._lock.held:
            raise BankError("stage_* methods need the writer lock: hold bank.lock (the workspace's "
                            "WriterLock) around the transaction")
        self._read(self._check_model)

    def _prepare(self, embeddings: np.ndarray, texts: Sequence[str], metadata: Sequence[EntryMeta] | None
                 ) -> tuple[np.ndarray, list[EntryMeta]]:
        """Validate an add: (N, D) finite embeddings, N texts, N metadata -> normalised vectors, metas."""
        if isinstance(texts, str):
            raise BankError("texts must be a sequence of strings, not one string")
        x = np.asarray(embeddings, dtype=np.float32)
        if x.ndim == 1 and len(texts) == 1:
            x = x[None, :]
        if x.shape != (len(texts), self.dim):
            raise BankError(f"embeddings have shape {x.shape}, expected ({len(texts)}, {self.dim})")
        if not np.isfinite(x).all():
            raise BankError("embeddings contain NaN or inf")
        metas = list(metadata) if metadata is not None else [EntryMeta()] * len(texts)
        if len(metas) != len(texts):
            raise BankError(f"{len(metas)} metadata for {len(texts)} texts")
        for m in metas:
            if m.section not in SECTIONS:
                raise BankError(f"section must be one of {SECTIONS}, not {m.section!r}")
        return normalized(x), metas

    def _adopt_digest(self) -> None:
        """Writer open: record the caller's model digest on a bank that has none, or that is empty."""
        meta = store.read_meta(self._conn)
        digest = self._caller_digest
        (count,) = self._conn.execute("SELECT count(*) FROM bank_entries").fetchone()
        if count == 0 and meta.gen_count == 0 and (meta.dim != self.dim or
                                                   (digest and digest != meta.model_digest)):
            with store.transaction(self._conn):
                self._conn.execute("UPDATE bank_meta SET dim = ?, model_digest = ?, version = version + 1",
                                   (self.dim, digest or meta.model_digest))
        elif digest and meta.model_digest is None:
            log.warning("memory bank %s has no model digest; recording %s", self.directory, digest)
            with store.transaction(self._conn):
                self._conn.execute("UPDATE bank_meta SET model_digest = ?, version = version + 1", (digest,))


@contextlib.contextmanager
def _acquired(lock: WriterLock, timeout: float | None) -> Iterator[None]:
    """Hold `lock`, translating a timeout into BankLocked."""
    try:
        lock.acquire(timeout)
    except LockBusy as exc:
        raise BankLocked(f"{exc} (the memory bank has one writer at a time)") from exc
    try:
        yield
    finally:
        lock.release()
