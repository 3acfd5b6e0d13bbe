"""Latency of re-indexing one saved file in a generated ~1000-file workspace, indexer side only
(no encoding hook). Two figures:

- `direct`: `Indexer.sync([path])` right after the write: stat, hash, parse, one transaction;
- `watched`: through the watcher, from the first inotify event to the commit, so it includes
  `debounce_ms` (the save is an editor-style atomic save: temp file, then rename over the target).

Used by test_latency.py; run it directly for the numbers:

    .venv/bin/python -m tests.indexer.bench_resync [FILES] [REPEATS]
"""

from __future__ import annotations

import queue
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from indexer.config import IndexerConfig
from indexer.sync import Indexer
from indexer.types import IndexEvent
from indexer.watcher import SyncingWatcher
from indexer.workspace import Workspace

from .workspace_gen import generate_workspace, module_source

TYPICAL_METHODS = 20
"""Extra methods per generated module: ~170 lines, a typical source file."""
EVENT_TIMEOUT_S = 30.0


def _summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"p50_ms": statistics.median(ordered), "p95_ms": ordered[round(0.95 * (len(ordered) - 1))],
            "max_ms": ordered[-1]}


def _rewrite(root: Path, rel: str, files: int, version: int, methods: int, atomic: bool) -> None:
    i = int(re.search(r"mod(\d+)", rel).group(1))  # type: ignore[union-attr]
    text = module_source(i, files, version=version, methods=methods)
    if not atomic:
        (root / rel).write_text(text, encoding="utf-8")
        return
    tmp = root / (rel + ".tmp~")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(root / rel)


def measure(root: Path, files: int = 1000, repeats: int = 60, seed: int = 0, methods: int = TYPICAL_METHODS,
            watched: bool = False) -> dict[str, float]:
    """Index `files` generated modules, then time `repeats` one-file re-syncs (ms). Returns p50, p95 and
    max of `direct` syncs (and of `watched` ones when asked), plus the full-index seconds."""
    paths = generate_workspace(root, files, methods)
    rng = random.Random(seed)
    result: dict[str, float] = {"files": float(files),
                                "lines_per_file": float(len(module_source(0, files, 0, methods).splitlines()))}
    with Indexer(Workspace(root), IndexerConfig()) as indexer:
        start = time.perf_counter()
        indexer.sync()
        result["full_index_s"] = time.perf_counter() - start
        direct = []
        for version in range(1, repeats + 1):
            rel = rng.choice(paths)
            _rewrite(root, rel, files, version, methods, atomic=False)
            event = indexer.sync([rel], started_at=time.monotonic())
            assert event.added == (rel,), event
            direct.append(event.latency_ms)
        result |= {f"direct_{k}": v for k, v in _summary(direct).items()}
        if watched:
            events: queue.Queue[IndexEvent] = queue.Queue()
            watcher = SyncingWatcher(indexer, on_event=events.put)
            watcher.start(initial_sync=False)
            try:
                latencies = []
                for version in range(repeats + 1, 2 * repeats + 1):
                    rel = rng.choice(paths)
                    _rewrite(root, rel, files, version, methods, atomic=True)
                    event = events.get(timeout=EVENT_TIMEOUT_S)
                    assert rel in event.added, event
                    latencies.append(event.latency_ms)
            finally:
                watcher.stop()
            result |= {f"watched_{k}": v for k, v in _summary(latencies).items()}
            result["debounce_ms"] = float(indexer.config.debounce_ms)
    return result


def main() -> None:
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(Path(tmp) / "ws", files, repeats, watched=True)
    print(" ".join(f"{k}={v:.2f}" if k == "full_index_s" else f"{k}={v:.1f}" for k, v in result.items()))


if __name__ == "__main__":
    main()
