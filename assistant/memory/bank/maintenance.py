"""Writing generations and checking the bank: compaction, bulk loads, re-encoding, `check()`.

Every function that writes follows the same order, which is what makes a SIGKILL at any moment
harmless: build the new index in memory (never by modifying a mapped one), write
`gen-N+1.faiss.tmp`, fsync, rename, then ONE SQLite transaction flips `bank_meta.generation` and
drops what the new file folded in. Killed
before the commit, the old generation stays current and the new file is an orphan that the next
writer deletes. The caller holds the writer lock throughout.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.config import BankConfig
from assistant.errors import BankCorrupt, BankError
from assistant.memory.bank import store
from assistant.memory.bank.types import EntryMeta
from assistant.memory.bank.vectors import (
    WrittenFile,
    build_index,
    file_sha256,
    gen_path,
    normalized,
    open_generation,
    write_generation,
)
from assistant.memory.bank.view import BankView

log = logging.getLogger(__name__)

Encode = Callable[[list[str], list[str]], np.ndarray]
"""(texts (B,), kinds (B,)) -> embeddings (B, D) float32. The kind lets the encoder treat
completion lines and definitions differently."""
Progress = Callable[[int, int], None]
"""(done, total)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a writer folds into the next generation: the view as of `meta.version` (refreshed
    under the writer lock, so nothing changes underneath)."""

    meta: store.Meta
    view: BankView


@dataclass(frozen=True, slots=True)
class NewEntries:
    """Entries to insert in the same commit as a generation that already holds their vectors."""

    texts: Sequence[str]
    metas: Sequence[EntryMeta]
    vectors: np.ndarray  # (N, D) normalised


def _use_ivf(config: BankConfig, n: int) -> bool:
    return config.index_type == "ivf" and n >= config.ivf_min_vectors


@dataclass(frozen=True, slots=True)
class NextGeneration:
    """A generation file written and fsynced but not committed yet."""

    number: int
    written: WrittenFile
    count: int
    index_type: str
    new_ids: list[int]


def build_next(directory: Path, config: BankConfig, snap: Snapshot, extra: NewEntries | None = None
               ) -> NextGeneration:
    """Write generation N+1 = generation − tombstones + live delta (+ `extra`, a bulk add).
    The slow half of a compaction: no SQL, so searches go on meanwhile."""
    view, dim = snap.view, snap.meta.dim
    gen_ids, gen_vectors = view.generation.all_vectors()
    keep = ~np.isin(gen_ids, view.tombstones)
    alive = view.delta.alive
    parts_ids = [gen_ids[keep], view.delta.ids[alive]]
    parts_vectors = [gen_vectors[keep].reshape(-1, dim), view.delta.vectors[alive]]
    new_ids: list[int] = []
    if extra is not None:
        new_ids = list(range(snap.meta.next_id, snap.meta.next_id + len(extra.texts)))
        parts_ids.append(np.asarray(new_ids, dtype=np.int64))
        parts_vectors.append(extra.vectors)
    ids, vectors = _concat(parts_ids), _concat(parts_vectors)
    del gen_vectors, parts_vectors
    if len(ids) > 1 and not bool((np.diff(ids) > 0).all()):   # usually sorted already: skip the copy
        order = np.argsort(ids, kind="stable")
        ids, vectors = ids[order], vectors[order]
    ivf = _use_ivf(config, len(ids))
    index = build_index(ids, vectors, ivf=ivf, previous=view.generation)
    del vectors
    number = snap.meta.generation + 1
    return NextGeneration(number, write_generation(index, directory, number), len(ids),
                          "ivf" if ivf else "flat", new_ids)


def commit_next(conn: sqlite3.Connection, snap: Snapshot, nxt: NextGeneration,
                extra: NewEntries | None = None) -> list[int]:
    """The one transaction that makes `nxt` current (inserting `extra`'s entries) and drops the
    delta rows and tombstones it folded in. Returns the ids given to `extra`."""
    with store.transaction(conn, durable=True):
        if store.read_version(conn) != snap.meta.version:
            raise BankError("the bank changed while a compaction held the writer lock; "
                            "another process writes without the lock")
        if extra is not None:
            given = store.insert_entries(conn, extra.texts, extra.metas, None)
            assert given == nxt.new_ids, "ids moved while the writer lock was held"
        w = nxt.written
        store.set_generation(conn, number=nxt.number, index_type=nxt.index_type, count=nxt.count,
                             size=w.size, quick_hash=w.quick_hash, sha256=w.sha256,
                             model_digest=snap.meta.model_digest, dim=snap.meta.dim)
        store.clear_folded(conn, snap.meta)
    log.info("bank generation %d: %d vectors (%d tombstones and %d delta rows folded, %d added)",
             nxt.number, nxt.count, len(snap.view.tombstones), len(snap.view.delta), len(nxt.new_ids))
    return nxt.new_ids


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    """np.concatenate without copying when only one part is non-empty (a bulk load of 1M vectors)."""
    full = [p for p in parts if len(p)]
    return full[0] if len(full) == 1 else np.concatenate(parts)


def reencode(conn: sqlite3.Connection, directory: Path, config: BankConfig, *, dim: int,
             encode: Encode, model_digest: str, progress: Progress | None = None,
             batch_size: int = 256) -> int:
    """Encode every entry's text again with `encode` and commit a generation holding all of them,
    with the new digest and dim, in one transaction (delta and tombstones are emptied).
    Does not need the old vectors, so it also repairs a bank whose generation file is damaged.
    Returns the new generation number."""
    meta = store.read_meta(conn)
    (total,) = conn.execute("SELECT count(*) FROM bank_entries").fetchone()
    ids = np.empty(total, dtype=np.int64)
    vectors = np.empty((total, dim), dtype=np.float32)
    done = 0
    cursor = conn.execute("SELECT id, text, kind FROM bank_entries ORDER BY id")
    while rows := cursor.fetchmany(batch_size):
        if done + len(rows) > total:
            raise BankError("the bank changed during re-encoding; another process writes without the lock")
        embeddings = np.asarray(encode([r[1] for r in rows], [r[2] for r in rows]), dtype=np.float32)
        if embeddings.shape != (len(rows), dim) or not np.isfinite(embeddings).all():
            raise BankError(f"encode() returned {embeddings.shape} (or non-finite values) for "
                            f"{len(rows)} texts; expected ({len(rows)}, {dim}) finite floats")
        ids[done:done + len(rows)] = [r[0] for r in rows]
        vectors[done:done + len(rows)] = normalized(embeddings)
        done += len(rows)
        if progress is not None:
            progress(done, total)
    ids, vectors = ids[:done], vectors[:done]
    number = meta.generation + 1
    index = build_index(ids, vectors, ivf=_use_ivf(config, done))    # IVF: centroids of the new model
    written = write_generation(index, directory, number)
    with store.transaction(conn, durable=True):
        if store.read_version(conn) != meta.version:
            raise BankError("the bank changed during re-encoding; another process writes without the lock")
        store.set_generation(conn, number=number, index_type="ivf" if _use_ivf(config, done) else "flat",
                             count=done, size=written.size, quick_hash=written.quick_hash,
                             sha256=written.sha256, model_digest=model_digest, dim=dim)
        conn.execute("DELETE FROM bank_delta")
        conn.execute("DELETE FROM bank_tombstones")
    log.info("bank re-encoded: %d entries, model %s, generation %d", done, model_digest, number)
    return number


def check(conn: sqlite3.Connection, directory: Path) -> list[str]:
    """Problems that break the bank's invariant, as sentences (empty: consistent). The invariant:
    every entry has exactly one vector, in the generation file or in the delta (whose ids are all
    above the file's), and is not tombstoned; every other stored vector is tombstoned. Reads the
    whole file (sha256). Call inside a read snapshot."""
    problems: list[str] = []
    meta = store.read_meta(conn)
    if store.schema_version(conn) != store.SCHEMA_VERSION:
        problems.append(f"schema version {store.schema_version(conn)}, expected {store.SCHEMA_VERSION}")
    gen_ids = np.empty(0, dtype=np.int64)
    if meta.generation:
        path = gen_path(directory, meta.generation)
        try:
            if meta.gen_sha256 and file_sha256(path) != meta.gen_sha256:
                problems.append(f"{path.name}: content does not match the committed sha256")
            else:
                gen = open_generation(directory, meta.generation, size=meta.gen_bytes,
                                      quick=meta.gen_quick_hash, count=meta.gen_count, dim=meta.dim,
                                      mmap_min_bytes=0, nprobe=1)
                gen_ids = np.sort(gen.ids())
                if len(np.unique(gen_ids)) != len(gen_ids):
                    problems.append(f"{path.name}: an id appears twice")
        except FileNotFoundError:
            # a compaction replaced the file after this snapshot began: the caller (BankState.read)
            # retries on a fresh snapshot, and reports the file missing only if it stays missing
            raise
        except BankCorrupt as exc:
            problems.append(str(exc))
    entries = store.ids_array(conn, "SELECT id FROM bank_entries")
    delta = store.ids_array(conn, "SELECT id FROM bank_delta")
    tombstones = store.ids_array(conn, "SELECT id FROM bank_tombstones")
    bad_blobs = conn.execute("SELECT count(*) FROM bank_delta WHERE length(vector) != ?",
                             (meta.dim * 4,)).fetchone()[0]
    if bad_blobs:
        problems.append(f"{bad_blobs} delta vectors are not {meta.dim}-d float32")
    stored = np.union1d(gen_ids, delta)
    _report(problems, np.intersect1d(delta, gen_ids), "ids with a vector both in the generation and the delta")
    if len(delta) and len(gen_ids) and delta[0] <= gen_ids[-1]:
        problems.append(f"delta id {delta[0]} is not above the generation's ids (up to {gen_ids[-1]})")
    _report(problems, np.setdiff1d(tombstones, stored), "tombstones for ids without a vector")
    _report(problems, np.intersect1d(tombstones, entries), "entries whose vector is tombstoned")
    live = np.setdiff1d(stored, tombstones)
    _report(problems, np.setdiff1d(entries, live), "entries without a vector")
    _report(problems, np.setdiff1d(live, entries), "vectors without an entry or a tombstone")
    if len(entries) and entries[-1] >= meta.next_id:
        problems.append(f"entry id {entries[-1]} is not below next_id {meta.next_id}: ids could be reused")
    return problems


def _report(problems: list[str], ids: np.ndarray, what: str) -> None:
    if len(ids):
        sample = ", ".join(str(i) for i in ids[:5].tolist())
        problems.append(f"{len(ids)} {what} (e.g. {sample})")
