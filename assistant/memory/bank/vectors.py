"""The bank's vector side: immutable FAISS generation files, the in-RAM delta, and exact search over both.

A generation is `gen-NNNNNN.faiss` in the bank directory: an `IndexIDMap2` (external int64 ids)
over `IndexFlatIP` (exact cosine on normalised vectors) or, for large banks configured `ivf`,
over `IndexIVFFlat` with a direct map (so `reconstruct` works). It is written once
(`.tmp`, fsync, rename) and never modified: deletions since are tombstones, additions the delta.

Memory mapping (checked on faiss-cpu 1.15.1): `IO_FLAG_MMAP_IFC` maps the codes of flat, IVF,
HNSW, SQ and PQ indexes, also inside an `IndexIDMap2`; `IO_FLAG_MMAP` maps only IVF lists. The
IDMap2's id list (8 B/vector) and its reverse map (~45 B/vector) stay in RAM either way. A mapped
index must never be modified (`add`/`remove_ids` kill the process): compaction rebuilds a new
index in memory from reconstructed vectors.

Checksums: every commit records the file's size, a quick hash (size + first and last MiB) and its full
sha256. Opening checks all three, the sha256 only the first time a process opens that file (a later
open of the same unchanged inode is trusted), so a file damaged in place, even one keeping its size
and mtime, is refused by the next process that opens it. Cost: one sequential read of the file, about
1 GB/s with SHA-NI (a 2.06 GB generation: first open 1.7-2.1 s warm, 2.7 s cold, against 0.2/0.5 s
unhashed, on a busy 2-core VM; blake2b hashed at about half sha256's speed there).

Notation: N vectors in a generation, Q queries, D = dim, K results.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from assistant.errors import BankVectorsDamaged

log = logging.getLogger(__name__)

MMAP_FLAGS = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY
"""Flags used to open a generation at least `mmap_min_bytes` large."""
FILE_MAGIC = b"IxM2"
"""First four bytes of a serialised `IndexIDMap2`."""
GEN_PATTERN = re.compile(r"^gen-(\d{6,})\.faiss(\.tmp)?$")
QUICK_HASH_BYTES = 1 << 20
HASH_BLOCK_BYTES = 4 << 20
"""Read size of the full hash (4 MiB measured ~20% faster than 1 MiB)."""
IVF_TRAIN_PER_LIST = 40
IVF_MIN_LISTS = 16


def gen_path(directory: Path, number: int) -> Path:
    return directory / f"gen-{number:06d}.faiss"


def normalized(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as a new C-contiguous float32 array."""
    out = np.array(x, dtype=np.float32, order="C", copy=True)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


# -- selectors ----------------------------------------------------------------------------------


class IdSelector:
    """A FAISS id selector over a bitmap of external ids. It owns the bitmap FAISS points into;
    `add` sets more bits in place (growing the bitmap, and so a new FAISS object, when an id is
    past its end). `exclude=True` selects every id *not* in the set (tombstones)."""

    def __init__(self, ids: np.ndarray, *, exclude: bool = False) -> None:
        self.exclude = exclude
        self.count = 0
        self._bitmap = np.zeros(0, dtype=np.uint8)
        self.selector: faiss.IDSelector | None = None
        self._inner: faiss.IDSelector | None = None
        self.add(ids)

    def add(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        needed = (int(ids.max()) >> 3) + 1 if len(ids) else 1
        if needed > len(self._bitmap) or self.selector is None:
            grown = np.zeros(max(needed, 2 * len(self._bitmap)), dtype=np.uint8)
            grown[: len(self._bitmap)] = self._bitmap
            self._bitmap = grown
            self._inner = faiss.IDSelectorBitmap(len(self._bitmap), faiss.swig_ptr(self._bitmap))
            self.selector = faiss.IDSelectorNot(self._inner) if self.exclude else self._inner
        np.bitwise_or.at(self._bitmap, ids >> 3, (1 << (ids & 7)).astype(np.uint8))
        self.count += len(ids)


# -- generations --------------------------------------------------------------------------------


@dataclass
class Generation:
    """One opened generation (number 0: none written yet, so `index` is None)."""

    number: int
    index: faiss.Index | None = None
    mmapped: bool = False
    nprobe: int = 16
    max_id: int = -1
    """Largest id in the file: every id above it belongs to the delta."""

    @property
    def ntotal(self) -> int:
        return 0 if self.index is None else int(self.index.ntotal)

    @property
    def index_type(self) -> str:
        if self.index is None:
            return "none"
        return "ivf" if isinstance(_inner(self.index), faiss.IndexIVF) else "flat"

    def ids(self) -> np.ndarray:
        """External ids in storage order, (N,) int64."""
        if self.index is None:
            return np.empty(0, dtype=np.int64)
        return faiss.vector_to_array(self.index.id_map).astype(np.int64, copy=False)

    def search(self, queries: np.ndarray, k: int, selector: IdSelector | None,
               also_excluding: IdSelector | None = None) -> tuple[np.ndarray, np.ndarray]:
        """queries (Q, D) -> scores (Q, K), ids (Q, K); missing results are id -1.
        `selector` limits the search to the ids it selects (tombstones excluded, or a filter);
        `also_excluding` (an exclude selector: the tombstones) takes its ids out of a filter's."""
        k = min(k, self.ntotal)
        sel = None
        if selector is not None and selector.count:
            sel = selector.selector
        elif selector is not None and not selector.exclude:
            k = 0                                    # a filter that matches nothing
        if sel is not None and also_excluding is not None and also_excluding.count:
            sel = faiss.IDSelectorAnd(sel, also_excluding.selector)  # both stay referenced while it runs
        if self.index is None or k <= 0:
            return (np.empty((len(queries), 0), np.float32), np.empty((len(queries), 0), np.int64))
        if self.index_type == "ivf":
            params: faiss.SearchParameters = faiss.SearchParametersIVF(nprobe=self.nprobe, sel=sel)
        else:
            params = faiss.SearchParameters(sel=sel)
        scores, ids = self.index.search(queries, k, params=params)
        return scores, ids

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """ids (n,) present in this generation -> vectors (n, D)."""
        assert self.index is not None
        out = np.empty((len(ids), self.index.d), dtype=np.float32)
        for row, i in enumerate(ids.tolist()):
            out[row] = self.index.reconstruct(i)
        return out

    def all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Every stored (id, vector): ids (N,), vectors (N, D); a copy, never a view of a mapping."""
        if self.index is None:
            return np.empty(0, np.int64), np.empty((0, 0), np.float32)
        inner = _inner(self.index)
        vectors = inner.reconstruct_n(0, inner.ntotal) if inner.ntotal else \
            np.empty((0, inner.d), np.float32)
        return self.ids(), np.ascontiguousarray(vectors, dtype=np.float32)


def _inner(index: faiss.Index) -> faiss.Index:
    return faiss.downcast_index(index.index)


def build_index(ids: np.ndarray, vectors: np.ndarray, *, ivf: bool,
                previous: Generation | None = None) -> faiss.Index:
    """ids (N,) + normalised vectors (N, D) -> a new in-memory IndexIDMap2 (flat, or IVF when `ivf`).
    An IVF index re-uses the previous generation's trained centroids when the list count fits."""
    dim = vectors.shape[1]
    if not ivf:
        inner: faiss.Index = faiss.IndexFlatIP(dim)
    else:
        nlist = ivf_lists(len(ids))
        trained = previous is not None and previous.index_type == "ivf" and \
            _inner(previous.index).nlist == nlist and previous.index.d == dim
        quantizer = faiss.clone_index(_inner(previous.index).quantizer) if trained else faiss.IndexFlatIP(dim)
        inner = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        if trained:
            inner.is_trained = True
        else:
            sample = vectors
            if len(vectors) > nlist * IVF_TRAIN_PER_LIST:
                pick = np.random.default_rng(0).choice(len(vectors), nlist * IVF_TRAIN_PER_LIST,
                                                       replace=False)
                sample = vectors[np.sort(pick)]
            log.info("training IVF: %d lists on %d vectors", nlist, len(sample))
            inner.train(sample)
    index = faiss.IndexIDMap2(inner)        # the Python wrapper keeps `inner` (and its quantizer) alive
    if len(ids):
        index.add_with_ids(vectors, ids)
    if ivf:
        inner.make_direct_map()             # reconstruct(id) on an IVF needs it; it is saved with the file
    return index


def ivf_lists(n: int) -> int:
    """IVF list count for n vectors: the power of two nearest sqrt(n), so similar sizes share centroids."""
    return max(IVF_MIN_LISTS, 2 ** round(math.log2(max(math.sqrt(n), 1.0))))


@dataclass(frozen=True, slots=True)
class WrittenFile:
    path: Path
    size: int
    quick_hash: str
    sha256: str


def write_generation(index: faiss.Index, directory: Path, number: int) -> WrittenFile:
    """Write `index` as generation `number`: `.tmp`, fsync, rename, fsync the directory.
    The caller then commits the flip in SQLite; until then the file is an orphan."""
    final = gen_path(directory, number)
    tmp = final.with_name(final.name + ".tmp")
    faiss.write_index(index, str(tmp))
    with open(tmp, "rb") as f:
        sha = hashlib.sha256()
        while chunk := f.read(1 << 22):
            sha.update(chunk)
        os.fsync(f.fileno())
    os.replace(tmp, final)
    _fsync_dir(directory)
    size = final.stat().st_size
    _remember_verified(final, sha.hexdigest())           # this process just hashed what it wrote
    return WrittenFile(final, size, quick_hash(final, size), sha.hexdigest())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def quick_hash(path: Path, size: int) -> str:
    """sha256 over the size, the first and the last MiB: checked on every open (cheap), it catches
    truncation and a damaged header or id list before FAISS parses (or maps) the file."""
    sha = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        sha.update(f.read(QUICK_HASH_BYTES))
        if size > QUICK_HASH_BYTES:
            f.seek(max(QUICK_HASH_BYTES, size - QUICK_HASH_BYTES))
            sha.update(f.read())
    return sha.hexdigest()


def file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    buffer = bytearray(HASH_BLOCK_BYTES)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(view):
            sha.update(view[:n])
    return sha.hexdigest()


_verified: dict[tuple[int, int], tuple[int, int, str]] = {}
"""(st_dev, st_ino) -> (size, mtime_ns, sha256) of generation files this process hashed."""
_verified_lock = threading.Lock()


def _remember_verified(path: Path, sha256: str) -> None:
    st = path.stat()
    with _verified_lock:
        _verified[(st.st_dev, st.st_ino)] = (st.st_size, st.st_mtime_ns, sha256)


def matches_sha256(path: Path, expected: str) -> bool:
    """Whether `path`'s content has sha256 `expected`: hashed the first time this process sees the
    file (inode, size, mtime), trusted afterwards."""
    st = path.stat()
    with _verified_lock:
        if _verified.get((st.st_dev, st.st_ino)) == (st.st_size, st.st_mtime_ns, expected):
            return True
    started = time.perf_counter()
    actual = file_sha256(path)
    log.info("checked %s: sha256 of %.1f MB in %.2f s", path.name, st.st_size / 1e6,
             time.perf_counter() - started)
    if actual != expected:
        return False
    _remember_verified(path, actual)
    return True


def corrupt_generation(path: Path, why: str) -> BankVectorsDamaged:
    return BankVectorsDamaged(path, why)


def open_generation(directory: Path, number: int, *, size: int, quick: str | None, count: int,
                    dim: int, mmap_min_bytes: int, nprobe: int, sha256: str | None = None) -> Generation:
    """Open committed generation `number`, memory-mapped when at least `mmap_min_bytes`.
    Raise FileNotFoundError if the file is gone (a reader raced a compaction: refresh again) and
    BankVectorsDamaged when it does not match what the commit recorded (size, quick hash, and
    `sha256` when given: see the module docstring) or FAISS cannot read it."""
    if number == 0:
        return Generation(0, nprobe=nprobe)
    path = gen_path(directory, number)
    actual = path.stat().st_size
    if actual != size:
        raise corrupt_generation(path, f"{actual} bytes, {size} were committed")
    with open(path, "rb") as f:
        if f.read(4) != FILE_MAGIC:
            raise corrupt_generation(path, "not a FAISS IndexIDMap2 file")
    if quick is not None and quick_hash(path, size) != quick:
        raise corrupt_generation(path, "checksum mismatch")
    if sha256 is not None and not matches_sha256(path, sha256):
        raise corrupt_generation(path, "checksum mismatch")
    mmapped = size >= mmap_min_bytes
    try:
        index = faiss.read_index(str(path), MMAP_FLAGS if mmapped else 0)
    except (RuntimeError, MemoryError) as exc:
        raise corrupt_generation(path, f"FAISS cannot read it: {str(exc).splitlines()[-1][:200]}") from exc
    if index.ntotal != count or index.d != dim or not isinstance(index, faiss.IndexIDMap2):
        raise corrupt_generation(path, f"{index.ntotal} vectors of dim {index.d}, "
                                       f"expected {count} of dim {dim}")
    log.debug("opened %s (%d vectors, %s)", path.name, count, "mmap" if mmapped else "in RAM")
    generation = Generation(number, index, mmapped, nprobe)
    generation.max_id = int(generation.ids().max()) if count else -1
    return generation


def remove_stale_files(directory: Path, committed: int, *, keep_previous: bool = True) -> list[str]:
    """Delete generation files a crash or a compaction left behind: `.tmp` files, generations newer
    than the committed one (never committed), and those older than the previous one (a reader may
    still be opening the previous one; an already mapped file survives unlinking on Linux).
    The caller holds the writer lock. Returns the names removed."""
    removed: list[str] = []
    for path in directory.glob("gen-*.faiss*"):
        match = GEN_PATTERN.match(path.name)
        if not match:
            continue
        number = int(match.group(1))
        oldest_kept = committed - 1 if keep_previous else committed
        if match.group(2) or number > committed or number < oldest_kept:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            removed.append(path.name)
    if removed:
        log.info("removed stale bank files: %s", ", ".join(sorted(removed)))
    return removed
