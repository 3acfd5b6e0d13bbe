"""Latency of re-indexing one saved file in a generated ~1000-file workspace (indexer side only:
stat, hash, parse, one transaction). Used by test_latency.py; run it directly for the numbers:

    .venv/bin/python -m tests.indexer.bench_resync [FILES] [REPEATS]
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from indexer.sync import Indexer
from indexer.workspace import Workspace

from .workspace_gen import generate_workspace, module_source

TYPICAL_METHODS = 20
"""Extra methods per generated module: ~200 lines, a typical source file."""


def measure(root: Path, files: int = 1000, repeats: int = 60, seed: int = 0,
            methods: int = TYPICAL_METHODS) -> dict[str, float]:
    """Index `files` generated modules, then time `repeats` one-file syncs (ms, from after the write
    to after the commit). Returns p50, p95, max, mean, plus the full-index seconds."""
    paths = generate_workspace(root, files, methods)
    rng = random.Random(seed)
    with Indexer(Workspace(root)) as indexer:
        start = time.perf_counter()
        indexer.sync()
        full_s = time.perf_counter() - start
        latencies = []
        for version in range(1, repeats + 1):
            rel = rng.choice(paths)
            i = int(Path(rel).stem[3:])
            (root / rel).write_text(module_source(i, files, version=version, methods=methods), encoding="utf-8")
            saved = time.monotonic()
            event = indexer.sync([rel], started_at=saved)
            assert event.added == (rel,), event
            latencies.append(event.latency_ms)
    latencies.sort()
    return {"p50_ms": statistics.median(latencies), "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
            "max_ms": latencies[-1], "mean_ms": statistics.fmean(latencies), "full_index_s": full_s,
            "files": float(files), "lines_per_file": float(len(module_source(0, files, 0, methods).splitlines()))}


def main() -> None:
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(Path(tmp) / "ws", files, repeats)
    print(" ".join(f"{k}={v:.1f}" if k != "full_index_s" else f"{k}={v:.2f}" for k, v in result.items()))


if __name__ == "__main__":
    main()
