"""Measure training speed and memory for a config: tokens/s and the peak memory of one optimizer step,
on synthetic batches of the config's shape (batch_size × max_seq_len, full target slots) through the
real `Trainer.train_step`.

Peak memory of a step: on CUDA `max_memory_allocated` (reset before the step); on CPU the rise of the
resident set during the step — the kernel's high-water mark is reset (`/proc/self/clear_refs`) and
glibc's free lists are returned (`malloc_trim`) just before, so the figure is what the step itself needs.
`python -m training.profile` is the worker `compare_checkpointing` starts (one fresh process per setting).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.tokenizer import SPECIAL_TOKENS
from training.config import Settings, load_settings
from training.data.loaders import RowDataset, TrainData
from training.data.rows import Row, collate
from training.distributed import DistContext, resolve_device
from training.trainer import Trainer

PROC_SELF = Path("/proc/self")
"""Linux's view of this process (resident set, high-water mark): an OS interface, not a data path."""


class SyntheticRows:
    """Rows of random ordinary tokens with every target slot used (the heaviest batch of that shape)."""

    def __init__(self, settings: Settings, vocab: int, count: int) -> None:
        self.settings, self.vocab, self.count = settings, vocab, count

    def __len__(self) -> int:
        return self.count

    def row(self, index: int, rng: random.Random) -> Row:
        T, d = self.settings.train.max_seq_len, self.settings.data
        low = len(SPECIAL_TOKENS)
        tokens = [rng.randrange(low, self.vocab) for _ in range(T)]
        cursors = sorted(rng.sample(range(T // 4, T - 1), d.targets_per_sequence))
        targets = [[rng.randrange(low, self.vocab) for _ in range(d.max_target_tokens)] for _ in cursors]
        return Row(tokens, 0, cursors, targets, [rng.getrandbits(62) for _ in cursors])


def _rss_kib(field: str) -> int:
    for line in (PROC_SELF / "status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_cpu_peak() -> int:
    """Return freed memory to the OS, reset the high-water mark; -> resident KiB now."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with contextlib.suppress(OSError):
        (PROC_SELF / "clear_refs").write_text("5")
    return _rss_kib("VmRSS")


def profile_steps(config: str, steps: int, overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Time `steps` optimizer steps after one warm-up; memory of the last step. Returns the figures."""
    settings = load_settings(config, {**(overrides or {}), "run": {**(overrides or {}).get("run", {}),
                                                                   "progress": False}})
    device = resolve_device(settings.run.device)
    if device.type == "cpu":
        torch.set_num_threads(settings.run.num_threads)
    torch.manual_seed(settings.run.seed)
    vocab = settings.tokenizer_vocab
    model = UltraEfficientTextJEPA(settings.train, vocab_size=vocab)
    B = settings.train.batch_size
    rows = RowDataset(SyntheticRows(settings, vocab, B * (steps + 1)), None, settings.run.seed)  # type: ignore[arg-type]
    data = TrainData(rows, RowDataset(None, None, 0), 0, "synthetic", {})
    trainer = Trainer(model, None, data, settings, DistContext(device=device), "phase1")  # type: ignore[arg-type]
    batches = [collate([rows[(0, s * B + b)] for b in range(B)], 0) for s in range(steps + 1)]
    trainer.train_step([batches[0]])  # warm-up: allocator, AdamW state
    elapsed, peak_kib = 0.0, 0
    for batch in batches[1:]:
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats(device)
        before = _reset_cpu_peak() if device.type == "cpu" else 0
        start = time.perf_counter()
        trainer.train_step([batch])
        if device.type == "cuda":
            torch.cuda.synchronize()
        elapsed += time.perf_counter() - start
        if device.type == "cpu":
            peak_kib = max(peak_kib, _rss_kib("VmHWM") - before)
    tokens = steps * B * settings.train.max_seq_len
    step_mb = (torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else peak_kib / 1024)
    return {
        "config": config, "model_size": settings.train.model_size, "parameters": model.num_parameters(),
        "device": str(device), "precision": "fp16" if trainer.fp16 else "fp32",
        "num_threads": torch.get_num_threads() if device.type == "cpu" else None,
        "batch_size": B, "max_seq_len": settings.train.max_seq_len,
        "gradient_checkpointing": settings.train.gradient_checkpointing,
        "steps": steps, "seconds_per_step": elapsed / steps, "tokens_per_s": tokens / elapsed,
        "step_peak_memory_mb": step_mb,
        "memory_measure": "cuda max_memory_allocated" if device.type == "cuda" else "RSS rise during the step",
    }


def compare_checkpointing(config: str, steps: int, overrides: dict[str, dict[str, Any]] | None = None
                          ) -> dict[str, Any]:
    """Profile with and without gradient checkpointing, each in a fresh process; memory and time ratios."""
    results = {}
    for flag in (False, True):
        merged = {k: dict(v) for k, v in (overrides or {}).items()}
        merged.setdefault("train", {})["gradient_checkpointing"] = flag
        cmd = [sys.executable, "-m", "training.profile", config, str(steps), json.dumps(merged)]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        results["with" if flag else "without"] = json.loads(done.stdout.strip().splitlines()[-1])
    w, wo = results["with"], results["without"]
    return {**results, "memory_ratio_with_over_without": w["step_peak_memory_mb"] / wo["step_peak_memory_mb"],
            "time_ratio_with_over_without": w["seconds_per_step"] / wo["seconds_per_step"]}


if __name__ == "__main__":
    _config, _steps, _overrides = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    sys.stdout.write(json.dumps(profile_steps(_config, _steps, _overrides)) + "\n")
