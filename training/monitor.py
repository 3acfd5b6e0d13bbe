"""The live figures users watch while training: losses, JEPA accuracy, embedding spread (collapse watch),
EAU complexity and block skipping, tokens/s and peak memory — on a tqdm bar (stderr, rank 0) and as
JSON lines in `metrics.jsonl`.
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
        self.val: dict[str, float] = {}

    def step(self, step: int, figures: dict[str, float], tokens: int, log_now: bool) -> dict[str, float]:
        """Record one optimizer step's figures (already averaged over ranks); returns what was shown."""
        self.window_tokens += tokens
        now = time.monotonic()
        if now - self.window_start >= 2.0 or log_now:
            self.tokens_per_s = self.window_tokens / max(now - self.window_start, 1e-9)
            self.window_start, self.window_tokens = now, 0
        shown = {**figures, "tok_s": self.tokens_per_s, "mem_mb": peak_memory_mb(self.device)}
        if not self.enabled:
            return shown
        self.bar.update(1)
        self.bar.set_postfix_str(self._postfix(shown), refresh=False)
        if log_now:
            self.write({"step": step, "kind": "train", **shown})
        return shown

    def validation(self, step: int, figures: dict[str, float]) -> None:
        self.val = figures
        if self.enabled:
            self.write({"step": step, "kind": "val", **figures})
            log.info("step %d validation: %s", step, ", ".join(f"{k} {v:.4g}" for k, v in figures.items()))

    def _postfix(self, f: dict[str, float]) -> str:
        parts = [f"loss {f['loss']:.3f}", f"tok {f['token']:.3f}", f"jepa {f['jepa']:.3f}",
                 f"cos {f['cosine']:.3f}", f"eau {f['eau']:.3f}", f"acc {f.get('jepa_acc', float('nan')):.2f}",
                 f"std {f.get('emb_std', float('nan')):.3f}", f"rank {f.get('eff_rank', float('nan')):.1f}",
                 f"cx {f.get('complexity', float('nan')):.2f}", f"drop {f.get('skipped', 0.0):.2f}"]
        if "val_skip_rate" in self.val:
            parts.append(f"skip {self.val['val_skip_rate']:.2f}")
        if "val_token_loss" in self.val:
            parts.append(f"val {self.val['val_token_loss']:.3f}")
        parts += [f"{f['tok_s']:.0f} tok/s", f"mem {f['mem_mb']:.0f}MB", f"lr {f.get('lr', 0.0):.2e}"]
        return " ".join(parts)

    def write(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=float) + "\n")

    def close(self) -> None:
        self.bar.close()
