"""Schedules: tiny objects whose `step()` returns the value for the step about to happen.

Each holds only a step counter, so resuming is `schedule.count = step` (nothing else to store).
"""

from __future__ import annotations

import math

from torch.optim import Optimizer


class WarmupCosine:
    """Linear warmup from 0 to `peak`, then a cosine down to `peak * min_ratio` at `total` steps.

    `step()` also writes the value into every param group's `lr` when an optimizer is given."""

    def __init__(self, peak: float, warmup: int, total: int, min_ratio: float = 0.1,
                 optimizer: Optimizer | None = None) -> None:
        self.peak, self.warmup, self.total, self.min_ratio = peak, warmup, max(total, 1), min_ratio
        self.optimizer = optimizer
        self.count = 0

    def value(self, step: int) -> float:
        if step < self.warmup:
            return self.peak * (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        floor = self.peak * self.min_ratio
        return floor + (self.peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def step(self) -> float:
        lr = self.value(self.count)
        self.count += 1
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        return lr


class LinearMomentum:
    """EMA momentum of the target encoder, rising linearly from `start` to `end` over `total` steps."""

    def __init__(self, start: float, end: float, total: int) -> None:
        self.start, self.end, self.total = start, end, max(total, 1)
        self.count = 0

    def value(self, step: int) -> float:
        return self.start + (self.end - self.start) * min(1.0, step / self.total)

    def step(self) -> float:
        m = self.value(self.count)
        self.count += 1
        return m
