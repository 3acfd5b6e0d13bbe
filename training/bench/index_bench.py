"""`shutka bench index`: the index's figures on a real workspace (the bench's train corpus).

1. full index from scratch: files, lines and chunks per second with the given model (encoding included)
2. save -> bank commit latency: a file is rewritten N times with the watcher running; each sync's
   latency is measured from the first filesystem event to the commit (debounce included). Timing
   starts once the background work after opening (workspace adaptation) is done, as in a settled
   editor session: while that runs it shares the two cores and a save takes about twice as long
3. a folder of 100 files moved: how many entries had to be encoded (target: none)
4. a 1M-vector bank memory-mapped: resident memory while searching vs size on disk (fresh process)
"""

from __future__ import annotations

import logging
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.runtime import INITIAL_BATCH_FILES, open_runtime
from assistant.types import SyncReport

log = logging.getLogger(__name__)


@dataclass
class IndexBenchReport:
    workspace: str
    full_index: dict[str, float] = field(default_factory=dict)
    save_to_commit: dict[str, float] = field(default_factory=dict)
    folder_move: dict[str, float] = field(default_factory=dict)
    mmap: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def bench_full_index(workspace: Path, checkpoint: Path | None) -> dict[str, float]:
    state = workspace / ".shutka"
    if state.exists():
        shutil.rmtree(state)
    t0 = time.monotonic()
    with open_runtime(workspace, checkpoint=checkpoint, sync=False) as rt:
        report = rt.assistant.sync(batch_files=INITIAL_BATCH_FILES)
        seconds = time.monotonic() - t0
        counts = rt.parts.indexer.catalog.counts()
        lines = sum(len((rt.parts.indexer.catalog.file_text(p) or "").split("\n"))
                    for p in rt.parts.indexer.catalog.file_states())
        stats = rt.assistant.bank_stats()
    return {"seconds": seconds, "files": counts.get("files", 0), "lines": lines, "chunks": counts.get("chunks", 0),
            "bank_entries": stats.entries, "encoded": report.encoded, "reused": report.reused,
            "lines_per_s": lines / seconds, "chunks_per_s": counts.get("chunks", 0) / seconds,
            "entries_per_s": stats.entries / seconds}


def bench_saves(workspace: Path, checkpoint: Path | None, saves: int, gap_s: float) -> dict[str, float]:
    """Rewrite one mid-sized file `saves` times with the watcher on; latency event -> commit."""
    reports: list[SyncReport] = []
    done = threading.Event()

    with open_runtime(workspace, checkpoint=checkpoint, sync=True, watch=True) as rt:
        target = _pick_file(rt.parts.indexer.catalog.file_states(), workspace)
        original = target.read_text(encoding="utf-8")
        rel = target.relative_to(workspace).as_posix()

        def on_sync(report: SyncReport) -> None:
            if rel in report.paths:
                reports.append(report)
                done.set()

        t0 = time.monotonic()
        for thread in rt.background:
            thread.join()
        settle_s = time.monotonic() - t0
        rt.assistant.add_listener(on_sync)
        time.sleep(1.0)  # the watcher's start-up sync
        try:
            for i in range(saves):
                done.clear()
                target.write_text(original + f"\nexport const benchSave{i} = {i};\n", encoding="utf-8")
                done.wait(10.0)
                time.sleep(gap_s)
        finally:
            target.write_text(original, encoding="utf-8")
            time.sleep(1.0)
        debounce = rt.indexer_config.debounce_ms
    latencies = [r.latency_ms for r in reports]
    return {"saves": saves, "synced": len(latencies), "file": rel, "debounce_ms": debounce, "settle_s": settle_s,
            "p50_ms": statistics.median(latencies) if latencies else float("nan"),
            "p95_ms": _p(latencies, 0.95) if latencies else float("nan"),
            "max_ms": max(latencies) if latencies else float("nan")}


def _pick_file(states: dict[str, Any], root: Path) -> Path:
    sized = sorted((s.size, p) for p, s in states.items() if s.section == "workspace" and 4_000 <= s.size <= 20_000)
    return root / (sized[len(sized) // 2][1] if sized else next(iter(states)))


def bench_folder_move(workspace: Path, checkpoint: Path | None, files: int = 100) -> dict[str, float]:
    """Copy `files` indexed files into a new folder, sync, move the folder, sync: count encodings."""
    with open_runtime(workspace, checkpoint=checkpoint, sync=True) as rt:
        states = rt.parts.indexer.catalog.file_states()
        sources = sorted(p for p, s in states.items() if s.section == "workspace")[:files]
        folder = workspace / "shutka-bench-move"
        moved = workspace / "shutka-bench-moved"
        for d in (folder, moved):
            shutil.rmtree(d, ignore_errors=True)
        try:
            for i, rel in enumerate(sources):
                dst = folder / f"f{i:03d}" / Path(rel).name
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(workspace / rel, dst)
            first = rt.assistant.sync()
            folder.rename(moved)
            t0 = time.monotonic()
            second = rt.assistant.sync()
            seconds = time.monotonic() - t0
        finally:
            for d in (folder, moved):
                shutil.rmtree(d, ignore_errors=True)
            rt.assistant.sync()
    return {"files": len(sources), "copy_encoded": first.encoded, "copy_reused": first.reused,
            "move_encoded": second.encoded, "move_moved": second.moved, "move_reused": second.reused,
            "move_seconds": seconds}


def bench_mmap_search(n: int, dim: int) -> dict[str, Any]:
    from assistant.memory.bank.bench import bench_mmap

    with tempfile.TemporaryDirectory(prefix="shutka-mmap-") as tmp:
        return bench_mmap(Path(tmp) / "bank", n=n, dim=dim)


def run_index_bench(workspace: Path, checkpoint: Path | None, saves: int, gap_s: float, mmap_vectors: int,
                    dim: int, skip_full: bool) -> IndexBenchReport:
    report = IndexBenchReport(str(workspace))
    if not skip_full:
        log.info("full index of %s", workspace)
        report.full_index = bench_full_index(workspace, checkpoint)
    log.info("save -> commit latency")
    report.save_to_commit = bench_saves(workspace, checkpoint, saves, gap_s)
    log.info("folder move")
    report.folder_move = bench_folder_move(workspace, checkpoint)
    if mmap_vectors:
        log.info("memory-mapped search over %d vectors", mmap_vectors)
        report.mmap = bench_mmap_search(mmap_vectors, dim)
    return report


def format_index_report(r: IndexBenchReport) -> str:
    out = [f"shutka bench index — {r.workspace}"]
    f = r.full_index
    if f:
        out += ["", "full index (catalog + bank, encoding included)",
                f"  {f['files']:.0f} files, {f['lines']:.0f} lines, {f['chunks']:.0f} chunks, "
                f"{f['bank_entries']:.0f} bank entries ({f['encoded']:.0f} encoded, {f['reused']:.0f} re-used) "
                f"in {f['seconds']:.1f} s",
                f"  {f['lines_per_s']:.0f} lines/s, {f['chunks_per_s']:.0f} chunks/s, {f['entries_per_s']:.0f} entries/s"]
    s = r.save_to_commit
    out += ["", f"save -> bank commit ({s['synced']:.0f}/{s['saves']:.0f} saves of {s['file']}, watcher debounce "
                f"{s['debounce_ms']:.0f} ms included; timed after {s['settle_s']:.0f} s of background work)",
            f"  p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms, max {s['max_ms']:.1f} ms"]
    m = r.folder_move
    out += ["", f"folder of {m['files']:.0f} files moved: {m['move_encoded']:.0f} entries encoded, "
                f"{m['move_moved']:.0f} files recognised as moved, {m['move_reused']:.0f} vectors re-used, "
                f"{m['move_seconds'] * 1000:.0f} ms"]
    if r.mmap:
        out += ["", "memory-mapped bank search (fresh process)", "  " + _mmap_line(r.mmap)]
    return "\n".join(out)


def _mmap_line(m: dict[str, Any]) -> str:
    parts = []
    for key, value in m.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items()
                              if not isinstance(v, (dict, list)))
            parts.append(f"{key}: {inner}")
        elif not isinstance(value, list):
            parts.append(f"{key} {value:.1f}" if isinstance(value, float) else f"{key} {value}")
    return "\n  ".join(parts)
