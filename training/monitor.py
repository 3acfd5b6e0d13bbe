"""The live figures users watch while training — on a tqdm bar (stderr, rank 0) and as JSON lines in
`metrics.jsonl` — under the Kaggle guide's names first:

    Peak Memory: 1200MB | Throughput: 250 tok/s | Complexity: 0.65 | Block Skips: 15% | loss … lr …

| guide name | JSON key | what |
|---|---|---|
| Peak Memory (MB) | `peak_memory_mb` | CUDA max allocated, or the process's peak resident set on CPU |
| Throughput (tokens/sec) | `throughput_tokens_per_s` | non-pad tokens per second over the last ≥ 2 s |
| Complexity (EAU, 0..1) | `complexity` | the EAU's mean complexity score of the step's rows |
| Block Skips (%) | `block_skips` | rows the EAU sends down the block-skipping path (complexity < skip_threshold) |

then the losses, JEPA accuracy, embedding spread (collapse watch), layer drop and the learning rate.
`metrics.jsonl` gets a `train` line every `log_every` steps and for the first and last step of a run,
a `val` line per validation and one `end` line when the run stops (so even a one-step run leaves it).
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

log = logging.getLogger(__name__)


def peak_memory_mb(device: torch.device) -> float:
    """CUDA: max allocated since the last reset; CPU: the process's peak resident set (ru_maxrss)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


class Monitor:
    """Progress bar + metrics file; every method is a no-op on ranks other than 0."""

    def __init__(self, out_dir: Path, total: int, initial: int, device: torch.device, enabled: bool,
                 progress: bool, desc: str) -> None:
        self.enabled, self.device = enabled, device
        self.path = out_dir / "metrics.jsonl"
        self.bar = tqdm(total=total, initial=initial, desc=desc, file=sys.stderr, dynamic_ncols=True,
                        disable=not (enabled and progress), unit="step")
        self.started = time.monotonic()
        self.window_start = self.started
        self.window_tokens = 0
        self.tokens_per_s = 0.0
        self.total_tokens = 0
        self.steps = 0
        self.val: dict[str, float] = {}
        self.unlogged: dict[str, Any] | None = None
        """The last step's record when it was not written yet (monitor.finish writes it)."""

    def step(self, step: int, figures: dict[str, float], tokens: int, log_now: bool) -> dict[str, float]:
        """Record one optimizer step's figures (already averaged over ranks); returns what was shown."""
        self.window_tokens += tokens
        self.total_tokens += tokens
        self.steps += 1
        now = time.monotonic()
        if now - self.window_start >= 2.0 or log_now:
            self.tokens_per_s = self.window_tokens / max(now - self.window_start, 1e-9)
            self.window_start, self.window_tokens = now, 0
        shown = {"peak_memory_mb": peak_memory_mb(self.device), "throughput_tokens_per_s": self.tokens_per_s,
                 "complexity": figures.get("complexity", 0.0),
                 "block_skips": 100.0 * figures.get("eau_skip", 0.0), **figures}
        if not self.enabled:
            return shown
        self.bar.update(1)
        self.bar.set_postfix_str(self._postfix(shown), refresh=False)
        record = {"step": step, "kind": "train", **shown}
        if log_now:
            self.write(record)
            self.unlogged = None
        else:
            self.unlogged = record
        return shown

    def validation(self, step: int, figures: dict[str, float]) -> None:
        self.val = figures
        if self.enabled:
            if self.unlogged is not None and self.unlogged["step"] == step:  # the step before its validation
                self.write(self.unlogged)
                self.unlogged = None
            self.write({"step": step, "kind": "val", **figures})
            log.info("step %d validation: %s", step, ", ".join(f"{k} {v:.4g}" for k, v in figures.items()))

    def finish(self, step: int, extra: dict[str, Any]) -> None:
        """The end of a run: the last step's line if it was not written, then an `end` line with the run's
        totals (written even when the run took no step)."""
        if not self.enabled:
            return
        if self.unlogged is not None:
            self.write(self.unlogged)
            self.unlogged = None
        elapsed = time.monotonic() - self.started
        self.write({"step": step, "kind": "end", "steps": self.steps, "elapsed_s": elapsed,
                    "tokens": self.total_tokens, "peak_memory_mb": peak_memory_mb(self.device),
                    "throughput_tokens_per_s": self.total_tokens / max(elapsed, 1e-9), **extra})

    def _postfix(self, f: dict[str, float]) -> str:
        guide = (f"Peak Memory: {f['peak_memory_mb']:.0f}MB | Throughput: {f['throughput_tokens_per_s']:.0f} tok/s"
                 f" | Complexity: {f['complexity']:.2f} | Block Skips: {f['block_skips']:.0f}%")
        parts = [f"loss {f['loss']:.3f}", f"tok {f['token']:.3f}", f"jepa {f['jepa']:.3f}",
                 f"cos {f['cosine']:.3f}", f"eau {f['eau']:.3f}", f"acc {f.get('jepa_acc', float('nan')):.2f}",
                 f"std {f.get('emb_std', float('nan')):.3f}", f"rank {f.get('eff_rank', float('nan')):.1f}",
                 f"drop {f.get('skipped', 0.0):.2f}"]
        if "val_skip_rate" in self.val:
            parts.append(f"val skips {100 * self.val['val_skip_rate']:.0f}%")
        if "val_token_loss" in self.val:
            parts.append(f"val {self.val['val_token_loss']:.3f}")
        parts.append(f"lr {f.get('lr', 0.0):.2e}")
        return f"{guide} | {' '.join(parts)}"

    def write(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=float) + "\n")

    def close(self) -> None:
        self.bar.close()
