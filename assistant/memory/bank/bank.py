"""`MemoryBank`: FAISS vectors with int64 ids + metadata in SQLite (DESIGN §3), the public API.

Writers take the `WriterLock` (re-entrant, so the workspace sync that already holds it can call
in) and change the bank in one small SQLite transaction each: an add inserts entries + delta
vectors, a delete writes tombstones. When delta + tombstones outgrow `BankConfig.compact_after`,
a compaction writes the next immutable generation file and flips to it in one commit. Readers
never lock: every operation first catches up with the last commit (state.py). Search is exact
over generation ∪ delta minus tombstones on a flat generation (view.py).

The pieces: store.py (SQL), vectors.py (generation files, mmap), delta.py, view.py (search),
state.py (snapshots and transactions), maintenance.py (compaction, re-encoding, check).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Self

import numpy as np

from assistant.config import BankConfig
from assistant.errors import BankCorrupt, BankError
from assistant.memory.bank import maintenance, store
from assistant.memory.bank.state import BankState, acquired
from assistant.memory.bank.types import SECTIONS, Entry, EntryMeta, ScoredEntry, StorageStats
from assistant.memory.bank.vectors import normalized
from indexer.locking import WriterLock

LockLike = WriterLock | str | os.PathLike[str] | None


class MemoryBank:
    """The memory bank. `directory` holds the generation files; the SQLite tables live in `db_path`
    (default `<directory>/bank.sqlite`; in a workspace the shared `.shutka/index.sqlite`). `lock`
    is the workspace's `WriterLock` or its path (default `<directory>/writer.lock`).
    `model_digest` names the model whose latents the caller adds and searches with: a bank encoded
    by another model raises BankModelMismatch until `reencode()`. `read_only` opens a reader (never
    locks, never writes). Thread-safe; one instance per process is enough.
    Raises BankCorrupt (saying what to do) when the database or the generation file is damaged.
    """

    def __init__(self, directory: str | os.PathLike[str], dim: int, config: BankConfig | None = None, *,
                 db_path: str | os.PathLike[str] | None = None, lock: LockLike = None,
                 model_digest: str | None = None, read_only: bool = False,
                 lock_timeout: float | None = 30.0) -> None:
        self.directory = Path(directory)
        self.dim = int(dim)
        self.config = config or BankConfig()
        self.db_path = Path(db_path) if db_path is not None else self.directory / "bank.sqlite"
        self.read_only = read_only
        writer = None if read_only else _writer_lock(lock, self.directory)
        self._state = BankState(self.directory, self.dim, self.config, self.db_path, writer, model_digest,
                                lock_timeout)

    @classmethod
    def open(cls, directory: str | os.PathLike[str], dim: int, config: BankConfig | None = None,
             **kwargs: object) -> MemoryBank:
        """Same as the constructor (reads well at call sites: `with MemoryBank.open(...) as bank`)."""
        return cls(directory, dim, config, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def rebuild(cls, directory: str | os.PathLike[str], dim: int, encode: maintenance.Encode,
                model_digest: str, config: BankConfig | None = None, *,
                db_path: str | os.PathLike[str] | None = None, lock: LockLike = None,
                progress: maintenance.Progress | None = None) -> MemoryBank:
        """Re-encode every entry from its stored text into a fresh generation without opening the
        current one (so it repairs a bank whose vector file is damaged), then open the bank."""
        directory = Path(directory)
        config = config or BankConfig()
        db = Path(db_path) if db_path is not None else directory / "bank.sqlite"
        writer = _writer_lock(lock, directory)
        directory.mkdir(parents=True, exist_ok=True)
        conn = store.connect(db, read_only=False)
        try:
            with acquired(writer, 30.0):
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
        if not self._state.closed:
            self._state.end_pending(commit=True)
        self._state.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None and not self._state.closed:
            self._state.end_pending(commit=False)
        self.close()

    def __repr__(self) -> str:
        return f"MemoryBank({str(self.directory)!r}, dim={self.dim}, " \
               f"generation={self._state.view.generation.number})"

    @property
    def lock(self) -> WriterLock:
        """The writer lock; hold it around a transaction that uses the `stage_*` methods."""
        if self._state.lock is None:
            raise BankError("a read-only bank has no writer lock")
        return self._state.lock

    @property
    def closed(self) -> bool:
        """True after `close()`."""
        return self._state.closed

    @property
    def auto_save(self) -> bool:
        """Commit every add/delete to `directory` as it happens (`BankConfig.auto_save`). Set False,
        writes stay pending (holding the writer lock) until `commit()`; set True again, what is pending
        is committed at once."""
        return self.config.auto_save

    @auto_save.setter
    def auto_save(self, on: bool) -> None:
        with self._state.mutex:                           # not in the middle of another thread's write
            self.config = self.config.model_copy(update={"auto_save": bool(on)})
            self._state.config = self.config
        if on:
            self.commit()

    @property
    def model_digest(self) -> str | None:
        """Digest of the model that encoded the bank's vectors (None: never recorded)."""
        return self._state.read(lambda: self._state.meta.model_digest if self._state.meta else None)

    @property
    def generation(self) -> int:
        """The generation in use (0: no file yet)."""
        return self._state.read(lambda: self._state.view.generation.number)

    # -- reading -------------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Pick up commits of other writers (or of a caller's staged transaction). Cheap when
        nothing changed: one small SQL read. Every other method does it first anyway.
        Returns True when something changed."""
        with self._state.mutex:
            before = self._state.version
            self._state.read(lambda: None)
            return self._state.version != before

    def __len__(self) -> int:
        return self._state.read(lambda: len(self._state.view))

    def search(self, queries: np.ndarray, k: int = 10, *, kinds: str | Iterable[str] | None = None,
               section: str | None = None) -> list[list[ScoredEntry]]:
        """queries (Q, D) or (D,), numpy or torch -> for each query up to k hits, best first, by cosine.
        `kinds` / `section` restrict the entries searched (exactly: on a flat generation a filter
        never costs recall). Raises BankModelMismatch when the bank was encoded by another model."""
        q = self._queries(queries)
        kind_set = None if kinds is None else frozenset([kinds] if isinstance(kinds, str) else kinds)
        if section is not None and section not in SECTIONS:
            raise BankError(f"section must be one of {SECTIONS}, not {section!r}")
        state = self._state

        def run() -> list[list[ScoredEntry]]:
            state.check_model()
            if k <= 0:
                return [[] for _ in range(len(q))]
            found = state.view.search(q, k, kind_set, section,
                                      matching_ids=lambda max_id: state.matching_ids(kind_set, section, max_id))
            entries = store.get_entries(state.conn, {i for ids, _ in found for i in ids.tolist()})
            return [[ScoredEntry(i, float(s), entries[i]) for i, s in zip(ids.tolist(), scores.tolist(), strict=True)]
                    for ids, scores in found]

        return state.read(run)

    def get(self, ids: Iterable[int]) -> list[Entry]:
        """Entries in the order asked; unknown (or deleted) ids are left out."""
        wanted = [int(i) for i in ids]
        found = self._state.read(lambda: store.get_entries(self._state.conn, wanted))
        return [found[i] for i in wanted if i in found]

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """ids (N,) -> their stored (normalised) vectors (N, D), from the generation or the delta.
        Raises BankError naming unknown ids, BankModelMismatch as `search` does."""
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)

        def run() -> np.ndarray:
            self._state.check_model()
            out, missing = self._state.view.vectors(wanted)
            if missing:
                raise BankError(f"no vector for ids {sorted(set(missing))[:10]} (deleted or never added)")
            return out

        return self._state.read(run)

    def find_by_hash(self, hashes: Iterable[str]) -> dict[str, int]:
        """content hash -> id of a live entry with that content (for re-using its vector)."""
        wanted = list(hashes)
        return self._state.read(lambda: store.find_by_hash(self._state.conn, wanted))

    def entries(self, file: str | None = None, kind: str | None = None, *, section: str | None = None,
                limit: int = 1000, offset: int = 0) -> list[Entry]:
        """Entries in id order, optionally of one file, kind and section (a page: limit/offset)."""
        return self._state.read(lambda: store.list_entries(self._state.conn, file=file, kind=kind,
                                                           section=section, limit=limit, offset=offset))

    def text_search(self, query: str, k: int, kinds: Sequence[str] | None = None) -> list[Entry]:
        """Entries whose text or symbol contains `query` (a plain substring), definitions first."""
        ids = self._state.read(lambda: store.text_search(self._state.conn, query, k, kinds))
        return self.get(ids)

    def files(self) -> list[tuple[str, str, int]]:
        """(file, section, entry count) for every file with entries, sorted by file."""
        return self._state.read(lambda: store.files(self._state.conn))

    def stats(self) -> StorageStats:
        """Counts by kind/section, generation, delta and tombstones, bytes on disk, mmap, digest."""
        state = self._state

        def run() -> StorageStats:
            assert state.meta is not None
            view, conn = state.view, state.conn
            by_kind = dict(conn.execute("SELECT kind, count(*) FROM bank_entries GROUP BY kind"))
            by_section = dict(conn.execute("SELECT section, count(*) FROM bank_entries GROUP BY section"))
            (files,) = conn.execute("SELECT count(DISTINCT file) FROM bank_entries").fetchone()
            size = sum(p.stat().st_size for p in self.directory.glob("gen-*.faiss") if p.exists())
            return StorageStats(entries=sum(by_kind.values()), by_kind=by_kind, by_section=by_section,
                             dim=state.meta.dim, generation=view.generation.number,
                             generation_vectors=view.generation.ntotal, delta=len(view.delta),
                             tombstones=len(view.tombstones), index_type=view.generation.index_type,
                             mmapped=view.generation.mmapped, index_bytes=size,
                             model_digest=state.meta.model_digest, version=state.version, files=files)

        return state.read(run)

    def check(self) -> list[str]:
        """Verify the bank's invariant (see `maintenance.check`): every entry has exactly one vector,
        no vector lacks an entry, the file matches its committed checksum. Empty list = consistent."""
        try:
            return self._state.read(lambda: maintenance.check(self._state.conn, self.directory))
        except BankCorrupt as exc:  # the committed generation file is really gone
            return [str(exc)]

    # -- writing -------------------------------------------------------------------------------

    def add_memory(self, embeddings: np.ndarray, texts: Sequence[str],
                   metadata: Sequence[EntryMeta] | None = None) -> list[int]:
        """Add N entries: embeddings (N, D) float32, numpy or a torch tensor (normalised on the way in),
        texts (N,), optional metadata (N,). Returns their new ids. A batch that would push the delta past
        `compact_after` is written straight into a new generation (same commit) instead."""
        vectors, metas = _prepare(embeddings, texts, metadata, self.dim)
        state = self._state
        if self.config.auto_save and not state.pending and \
                len(vectors) + state.view.pending > self.config.compact_after:
            extra = maintenance.NewEntries(list(texts), metas, vectors)

            def build(snap: maintenance.Snapshot) -> maintenance.NextGeneration:
                state.check_model()
                return maintenance.build_next(self.directory, self.config, snap, extra)

            return state.new_generation(build, lambda snap, nxt: maintenance.commit_next(state.conn, snap, nxt,
                                                                                         extra))
        with state.writing() as conn:
            state.check_model()
            ids = store.insert_entries(conn, list(texts), metas, vectors)
        self._auto_compact()
        return ids

    def delete_memory(self, ids: Iterable[int]) -> int:
        """Delete entries by id; returns how many existed."""
        wanted = [int(i) for i in ids]
        with self._state.writing() as conn:
            removed = store.delete_entries(conn, wanted)
        self._auto_compact()
        return removed

    def update_memory(self, old_id: int, embeddings: np.ndarray, texts: Sequence[str],
                      metadata: Sequence[EntryMeta] | None = None) -> list[int]:
        """Replace entry `old_id` by N new ones in one commit; without `metadata` they inherit the
        old entry's (content hash recomputed). Returns the new ids; BankError if old_id is unknown."""
        with self._state.writing() as conn:
            self._state.check_model()
            old = store.get_entries(conn, [old_id]).get(int(old_id))
            if old is None:
                raise BankError(f"no entry with id {old_id} to update")
            if metadata is None:
                inherited = EntryMeta(old.kind, old.section, old.file, old.start_line, old.end_line, old.symbol)
                metadata = [inherited] * len(texts)
            vectors, metas = _prepare(embeddings, texts, metadata, self.dim)
            store.delete_entries(conn, [old_id])
            ids = store.insert_entries(conn, list(texts), metas, vectors)
        self._auto_compact()
        return ids

    def delete_file(self, path: str) -> int:
        """Delete every entry of `path`; returns the count."""
        with self._state.writing() as conn:
            removed = store.delete_entries(conn, store.file_ids(conn, path))
        self._auto_compact()
        return removed

    def rename_file(self, old: str, new: str) -> int:
        """Entries of `old` now belong to `new`, keeping their ids and vectors; returns the count."""
        with self._state.writing() as conn:
            return store.rename_file(conn, old, new)

    def commit(self) -> None:
        """Commit what was written since the last commit (auto_save off; a no-op otherwise)."""
        if self._state.end_pending(commit=True):
            self.maybe_compact()

    def rollback(self) -> None:
        """Drop what was written since the last commit (auto_save off; a no-op otherwise)."""
        self._state.end_pending(commit=False)

    def maybe_compact(self) -> bool:
        """Compact when delta + tombstones exceed `compact_after` (checked again under the lock);
        returns True if it did. Cheap otherwise: the sync may call it after every commit, or when idle."""
        state = self._state
        if state.pending or state.view.pending <= self.config.compact_after:
            return False

        def build(snap: maintenance.Snapshot) -> maintenance.NextGeneration | None:
            if snap.view.pending <= self.config.compact_after:
                return None                       # another writer compacted meanwhile
            return maintenance.build_next(self.directory, self.config, snap)

        def commit(snap: maintenance.Snapshot, nxt: maintenance.NextGeneration | None) -> bool:
            if nxt is not None:
                maintenance.commit_next(state.conn, snap, nxt)
            return nxt is not None

        return state.new_generation(build, commit)

    def compact(self) -> int:
        """Write the next generation (generation − tombstones + delta) and flip to it in one commit.
        Searches from other threads go on while the file is written. Returns the new generation."""
        state = self._state
        state.new_generation(lambda snap: maintenance.build_next(self.directory, self.config, snap),
                             lambda snap, nxt: maintenance.commit_next(state.conn, snap, nxt))
        return self.generation

    def reencode(self, encode: maintenance.Encode, new_digest: str,
                 progress: maintenance.Progress | None = None, *, batch_size: int = 256) -> int:
        """Re-encode every entry's text with `encode` (texts (B,) -> (B, D) float32) in batches and
        switch all entries to the new vectors and `new_digest` in one commit. Readers keep the old
        generation until then. Returns the new generation number."""
        state = self._state

        def write(snap: maintenance.Snapshot, _: None) -> int:
            number = maintenance.reencode(state.conn, self.directory, self.config, dim=self.dim, encode=encode,
                                          model_digest=new_digest, progress=progress, batch_size=batch_size)
            state.caller_digest = new_digest
            return number

        return state.new_generation(lambda snap: None, write)

    # -- staging: bank changes inside the caller's SQLite transaction ---------------------------

    def stage_add(self, conn: sqlite3.Connection, embeddings: np.ndarray, texts: Sequence[str],
                  metadata: Sequence[EntryMeta] | None = None) -> list[int]:
        """`add_memory` as SQL on the caller's connection (same database), inside its transaction.
        The caller holds `bank.lock`, commits, then calls `refresh()` and `maybe_compact()`.
        Nothing is visible (to this bank either) before that commit; a rollback leaves no trace."""
        self._check_staging()
        vectors, metas = _prepare(embeddings, texts, metadata, self.dim)
        return store.insert_entries(conn, list(texts), metas, vectors)

    def stage_delete_file(self, conn: sqlite3.Connection, path: str) -> int:
        """`delete_file` inside the caller's transaction (see `stage_add`)."""
        self._check_staging()
        return store.delete_entries(conn, store.file_ids(conn, path))

    def stage_rename_file(self, conn: sqlite3.Connection, old: str, new: str) -> int:
        """`rename_file` inside the caller's transaction (see `stage_add`)."""
        self._check_staging()
        return store.rename_file(conn, old, new)

    # -- internals -----------------------------------------------------------------------------

    def _check_staging(self) -> None:
        if self._state.lock is None or not self._state.lock.held:
            raise BankError("stage_* methods need the writer lock: hold bank.lock (the workspace's "
                            "WriterLock) around the transaction")
        self._state.read(self._state.check_model)

    def _auto_compact(self) -> None:
        if self.config.auto_save:
            self.maybe_compact()

    def _queries(self, queries: np.ndarray) -> np.ndarray:
        q = as_array(queries)
        shape = q.shape
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise BankError(f"queries have shape {shape}, expected (Q, {self.dim}) or ({self.dim},)")
        if not np.isfinite(q).all():
            raise BankError("queries contain NaN or inf")
        return normalized(q)


def as_array(x: object) -> np.ndarray:
    """Vectors as float32 numpy: an array (or nested lists) as it is, a torch tensor (anything with
    `detach`) through the CPU, without importing torch."""
    if callable(getattr(x, "detach", None)):
        x = x.detach().cpu().float().numpy()              # type: ignore[attr-defined]
    return np.asarray(x, dtype=np.float32)


def _writer_lock(lock: LockLike, directory: Path) -> WriterLock:
    if isinstance(lock, WriterLock):
        return lock
    return WriterLock(Path(lock) if lock is not None else directory / "writer.lock")


def _prepare(embeddings: np.ndarray, texts: Sequence[str], metadata: Sequence[EntryMeta] | None,
             dim: int) -> tuple[np.ndarray, list[EntryMeta]]:
    """Validate an add: (N, D) finite embeddings, N texts, N metadata -> normalised vectors, metas."""
    if isinstance(texts, str):
        raise BankError("texts must be a sequence of strings, not one string")
    x = as_array(embeddings)
    if x.ndim == 1 and len(texts) == 1:
        x = x[None, :]
    if x.shape != (len(texts), dim):
        raise BankError(f"embeddings have shape {x.shape}, expected ({len(texts)}, {dim})")
    if not np.isfinite(x).all():
        raise BankError("embeddings contain NaN or inf")
    metas = list(metadata) if metadata is not None else [EntryMeta()] * len(texts)
    if len(metas) != len(texts):
        raise BankError(f"{len(metas)} metadata for {len(texts)} texts")
    for m in metas:
        if m.section not in SECTIONS:
            raise BankError(f"section must be one of {SECTIONS}, not {m.section!r}")
    return normalized(x), metas
