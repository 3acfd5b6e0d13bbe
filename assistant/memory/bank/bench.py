"""Benchmarks of the memory bank (not tests: they build banks of 100k–1M vectors on disk).

- `bench_mmap`: a 1M-vector bank written as one generation, opened memory-mapped in a fresh
  process: size on disk, resident memory before/after opening and searching, search latency.
- `bench_reindex`: the cost of re-indexing one saved file (delete ~50 entries, add ~50) on a
  100k-entry bank, through the public methods and through one staged transaction.

Run from a shell, e.g.
`python -c "import json; from assistant.memory.bank.bench import bench_mmap; print(json.dumps(bench_mmap('/tmp/b')))"`.
Both delete nothing; remove `directory` afterwards.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.config import BankConfig
from assistant.memory.bank.bank import MemoryBank
from assistant.memory.bank.types import EntryMeta

log = logging.getLogger(__name__)

_STATUS_KEYS = ("VmRSS", "VmHWM", "RssAnon", "RssFile")


def memory_status() -> dict[str, float]:
    """This process's resident memory in MiB from /proc/self/status (Linux): VmRSS (all resident
    pages), VmHWM (peak), RssAnon (private memory) and RssFile (mapped file pages: page cache
    the kernel can drop under pressure)."""
    out: dict[str, float] = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in _STATUS_KEYS:
                out[key] = int(value.split()[0]) / 1024
    return out


def _percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    ms = np.asarray(samples_s) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3),
            "max_ms": round(float(ms.max()), 3), "n": len(ms)}


def clustered_vectors(n: int, dim: int, seed: int, clusters: int = 1024) -> np.ndarray:
    """n (n, dim) float32 vectors around `clusters` random centres: closer to real latents than
    uniform noise, so IVF recall means something."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        stop = min(n, start + step)
        out[start:stop] = centres[rng.integers(0, clusters, stop - start)]
        out[start:stop] += 0.6 * rng.standard_normal((stop - start, dim), dtype=np.float32)
    return out


def build_bank(directory: Path, n: int, dim: int, config: BankConfig, seed: int = 0,
               entries_per_file: int = 50) -> None:
    """A bank of n entries written straight into one generation (a bulk add), not n single adds."""
    vectors = clustered_vectors(n, dim, seed)
    texts = [f"line {i}" for i in range(n)]
    metas = [EntryMeta(kind="line" if i % 10 else "function", file=f"src/f{i // entries_per_file}.ts")
             for i in range(n)]
    with MemoryBank(directory, dim, config) as bank:
        bank.add_memory(vectors, texts, metas)


def bench_mmap(directory: str | os.PathLike[str], n: int = 1_000_000, dim: int = 128, *,
               index_types: Sequence[str] = ("flat", "ivf"), queries: int = 100, k: int = 10,
               seed: int = 0) -> dict[str, object]:
    """Build an n-vector bank per index type under `directory`, then in a fresh subprocess open it
    memory-mapped and search: returns size on disk, resident memory (MiB) before/after opening and
    searching, open time, search latency p50/p95 (single queries), and IVF recall@k against flat."""
    root = Path(directory)
    report: dict[str, object] = {"n": n, "dim": dim, "k": k, "cpu_count": os.cpu_count(),
                                 "loadavg_start": os.getloadavg()}
    for index_type in index_types:
        path = root / index_type
        config = BankConfig(index_type=index_type, ivf_min_vectors=1000, compact_after=1000)  # type: ignore[arg-type]
        started = time.perf_counter()
        build_bank(path, n, dim, config, seed)
        build_s = time.perf_counter() - started
        out = root / f"{index_type}.json"
        subprocess.run(
            [sys.executable, "-c", "import sys; from assistant.memory.bank.bench import _search_child; "
             "_search_child(*sys.argv[1:])", str(path), str(dim), index_type, str(queries), str(k), str(seed),
             str(out)], check=True)
        result = json.loads(out.read_text())
        result["build_s"] = round(build_s, 1)
        report[index_type] = result
    if "flat" in report and "ivf" in report:
        flat, ivf = report["flat"], report["ivf"]
        assert isinstance(flat, dict) and isinstance(ivf, dict)
        overlap = [len(set(a) & set(b)) / k for a, b in zip(flat.pop("top"), ivf.pop("top"), strict=True)]
        report["ivf_recall_at_k"] = round(float(np.mean(overlap)), 3)
    return report


def _search_child(path: str, dim: str, index_type: str, queries: str, k: str, seed: str, out: str) -> None:
    """Runs in the fresh subprocess of `bench_mmap`; writes its measurements as JSON to `out`."""
    before = memory_status()
    started = time.perf_counter()
    bank = MemoryBank(path, int(dim), BankConfig(mmap_min_bytes=0, nprobe=16), read_only=True)
    open_s = time.perf_counter() - started
    opened = memory_status()
    rng = np.random.default_rng(int(seed) + 1)
    q = clustered_vectors(int(queries), int(dim), int(seed))[rng.permutation(int(queries))]
    q += 0.3 * rng.standard_normal(q.shape, dtype=np.float32)
    cold, warm, faiss_only, tops = [], [], [], []
    for row in q:                                    # first touch of the pages each query needs
        t = time.perf_counter()
        hits = bank.search(row, int(k))[0]
        cold.append(time.perf_counter() - t)
        tops.append([h.id for h in hits])
    after_cold = memory_status()
    generation = bank._state.view.generation
    for row in q:                                    # the same queries again: pages resident
        t = time.perf_counter()
        bank.search(row, int(k))
        warm.append(time.perf_counter() - t)
        t = time.perf_counter()
        generation.search(row[None] / np.linalg.norm(row), int(k), None)
        faiss_only.append(time.perf_counter() - t)
    filtered = []
    for row in q[:20]:
        t = time.perf_counter()
        bank.search(row, int(k), kinds="function")
        filtered.append(time.perf_counter() - t)
    stats = bank.stats()
    Path(out).write_text(json.dumps({
        "index_type": stats.index_type, "mmapped": stats.mmapped, "entries": stats.entries,
        "index_mib": round(stats.index_bytes / 2**20, 1),
        "db_mib": round(Path(bank.db_path).stat().st_size / 2**20, 1),
        "open_s": round(open_s, 3), "mem_before_open": before, "mem_after_open": opened,
        "mem_after_first_searches": after_cold, "mem_after_all_searches": memory_status(),
        "search_first_touch": _percentiles(cold), "search_warm": _percentiles(warm),
        "faiss_only_warm": _percentiles(faiss_only), "search_kinds_function": _percentiles(filtered),
        "loadavg": os.getloadavg(), "top": tops}))
    bank.close()


def bench_reindex(directory: str | os.PathLike[str], n: int = 100_000, dim: int = 128, *,
                  rounds: int = 300, per_file: int = 50, seed: int = 0) -> dict[str, object]:
    """On an n-entry bank (files of `per_file` entries), time re-indexing one file: delete its
    entries and add `per_file` new ones, (a) with `delete_file` + `add_memory` (two commits) and
    (b) staged in one transaction (+ refresh + maybe_compact). Compactions included as they come."""
    path = Path(directory)
    config = BankConfig()
    build_bank(path, n, dim, config, seed, per_file)
    rng = np.random.default_rng(seed + 2)
    files = n // per_file
    public, staged, search = [], [], []
    with MemoryBank(path, dim, config) as bank:
        conn = sqlite3.connect(bank.db_path, isolation_level=None, timeout=30)
        generation = bank.generation
        for r in range(rounds):
            name = f"src/f{rng.integers(0, files)}.ts"
            vectors = rng.standard_normal((per_file, dim)).astype(np.float32)
            texts = [f"round {r} line {i}" for i in range(per_file)]
            metas = [EntryMeta(file=name)] * per_file
            t = time.perf_counter()
            if r % 2 == 0:
                bank.delete_file(name)
                bank.add_memory(vectors, texts, metas)
                public.append(time.perf_counter() - t)
            else:
                with bank.lock:
                    conn.execute("BEGIN IMMEDIATE")
                    bank.stage_delete_file(conn, name)
                    bank.stage_add(conn, vectors, texts, metas)
                    conn.execute("COMMIT")
                    bank.refresh()
                    bank.maybe_compact()
                staged.append(time.perf_counter() - t)
            t = time.perf_counter()
            bank.search(vectors[0], 10)
            search.append(time.perf_counter() - t)
        stats = bank.stats()
        conn.close()
    return {"n": n, "dim": dim, "per_file": per_file, "rounds": rounds,
            "public_delete_file_plus_add": _percentiles(public), "staged_one_transaction": _percentiles(staged),
            "search_k10_after_each": _percentiles(search), "compactions": stats.generation - generation,
            "final_delta": stats.delta, "final_tombstones": stats.tombstones, "mmapped": stats.mmapped}
