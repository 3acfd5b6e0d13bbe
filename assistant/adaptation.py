"""Adapting to the workspace: the ranker fine-tuned on completion tasks made from the user's own code.

A model trained elsewhere ranks a new repository's lines worse (its style, its names, how much it
repeats itself). Here the engine analyses self-supervised tasks drawn from the workspace (the rest of
a line hidden, the code before it visible), and the shipped ranker is fine-tuned on them with a pull
toward its shipped weights, within a time budget, in the background. The result is saved in
`.shutka/ranker.safetensors` and used from then on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.engine.candidates import normalize
from assistant.engine.pipeline import Analysis, Completer, Switches
from assistant.engine.ranker import Ranker, RankingExample
from assistant.memory.sync_hooks import is_workspace_code
from assistant.selfsup import Task, tasks_from_texts
from assistant.types import CompletionRequest
from indexer.catalog import Catalog

log = logging.getLogger(__name__)

MIN_TASKS = 40
FILES_PER_DIR = 10
"""Files sampled per folder (a workspace is often a few big folders)."""
ANCHOR_WEIGHT = 0.05
SIDECAR = "ranker.json"


@dataclass(frozen=True, slots=True)
class AdaptReport:
    tasks: int
    seconds: float
    top1_before: float
    top1_after: float
    adapted: bool


def request_for(task: Task, fill_in_middle: bool = False, gate: bool = True) -> CompletionRequest:
    """What the editor would send at the task's cursor: the file up to the cursor (in FIM mode also the
    lines after the cursor's line; the rest of the cursor's own line is never shown)."""
    text = task.prefix + task.cursor_prefix
    if fill_in_middle:
        text += "\n" + task.suffix
    return CompletionRequest(text, task.line, len(task.cursor_prefix), task.file, fill_in_middle=fill_in_middle,
                             use_gate=gate)


def gold_index(analysis: Analysis, target: str) -> int:
    key = normalize(target)
    return next((i for i, opt in enumerate(analysis.options) if opt.key == key), -1)


def ranking_example(analysis: Analysis, target: str) -> RankingExample:
    feats = np.stack([o.features for o in analysis.options]) if analysis.options else np.zeros((0, 0), np.float32)
    return RankingExample(feats.astype(np.float32), analysis.task.astype(np.float32), gold_index(analysis, target))


def top1(ranker: Ranker, examples: list[RankingExample]) -> float:
    hits = sum(int(np.argmax(ranker.probabilities(e.features, e.task)[0])) == e.gold
               for e in examples if len(e.features))
    return 100.0 * hits / max(1, len(examples))


def adapt_ranker(completer: Completer, files: Iterable[tuple[str, str]], base: Ranker, *, budget_s: float = 120.0,
                 files_per_workspace: int = 60, lines_per_file: int = 5, switches: Switches | None = None,
                 fill_in_middle: bool = False, stop: threading.Event | None = None) -> tuple[Ranker, AdaptReport]:
    """Fine-tune `base` on tasks from `files` ((path, text) pairs) within `budget_s` seconds.
    Returns `base` itself when there are too few tasks to learn from."""
    t0 = time.monotonic()
    tasks = tasks_from_texts(files, "workspace", files_per_workspace, lines_per_file, seed=1,
                             max_files_per_dir=FILES_PER_DIR)
    examples: list[RankingExample] = []
    for task in tasks:
        if time.monotonic() - t0 > 0.8 * budget_s or (stop is not None and stop.is_set()):
            break
        analysis = completer.analyse(request_for(task, fill_in_middle), switches)
        examples.append(ranking_example(analysis, task.target))
    if len(examples) < MIN_TASKS:
        return base, AdaptReport(len(examples), time.monotonic() - t0, float("nan"), float("nan"), False)
    split = int(len(examples) * 0.8)
    train, valid = examples[:split], examples[split:]
    adapted = Ranker.fit(train, valid, epochs=30, anchor=base, anchor_weight=ANCHOR_WEIGHT)
    before, after = top1(base, valid), top1(adapted, valid)
    # keep the shipped ranker when adaptation does not help on the held-out fifth
    keep = after >= before
    report = AdaptReport(len(examples), time.monotonic() - t0, before, after, keep)
    return (adapted if keep else base), report


def adapt_workspace(catalog: Catalog, completer: Completer, state_dir: Path, budget_s: float,
                    stop: threading.Event | None = None) -> AdaptReport | None:
    """Run adaptation for an open workspace and save the ranker; skipped when a recent one exists."""
    states = catalog.file_states()
    sidecar = state_dir / SIDECAR
    files = sorted(p for p, s in states.items() if s.section == "workspace" and is_workspace_code(p))
    if sidecar.is_file():
        try:
            old = json.loads(sidecar.read_text())
            if old.get("files") and abs(len(files) - old["files"]) / old["files"] < 0.2:
                return None
        except (ValueError, KeyError):
            log.warning("unreadable %s: adapting again", sidecar)
    texts = ((p, catalog.file_text(p) or "") for p in files)
    ranker, report = adapt_ranker(completer, texts, completer.ranker, budget_s=budget_s, stop=stop)
    if stop is not None and stop.is_set():
        return None
    if report.adapted:
        ranker.save(state_dir / "ranker.safetensors")
        completer.ranker = ranker
    sidecar.write_text(json.dumps({"files": len(files), "tasks": report.tasks, "seconds": report.seconds,
                                   "top1_before": report.top1_before, "top1_after": report.top1_after,
                                   "adapted": report.adapted, "created": time.time()}))
    log.info("workspace adaptation: %d tasks in %.0f s, top-1 %.1f -> %.1f (%s)", report.tasks, report.seconds,
             report.top1_before, report.top1_after, "kept" if report.adapted else "shipped ranker kept")
    return report
