"""Is the gate's confidence calibrated? Among suggestions made at confidence c, about c should be right.

Notation
    point     (confidence, right): one suggestion's calibrated probability and whether it was exactly right
              (one-shot: the top candidate's EM; replay: the suggestion is exactly the rest of the line)
    bins      BINS equal-width confidence bins [0, 0.1), [0.1, 0.2), … [0.9, 1.0]; 1.0 falls in the last
    row       per bin: count, mean confidence, accuracy (share right)
    ECE       expected calibration error: sum over bins of count/N * |mean confidence - accuracy|
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

BINS = 10


@dataclass(frozen=True, slots=True)
class Bin:
    lo: float
    hi: float
    count: int
    confidence: float
    """Mean confidence of the bin's points (nan when empty)."""
    accuracy: float
    """Share of the bin's points that are right (nan when empty)."""


@dataclass(frozen=True, slots=True)
class Reliability:
    bins: tuple[Bin, ...]
    n: int
    ece: float
    """Count-weighted mean |confidence - accuracy| over the bins (nan without points)."""
    confidence: float
    """Mean confidence over all points."""
    accuracy: float
    """Share right over all points."""

    def to_json(self) -> dict[str, object]:
        return {"n": self.n, "ece": self.ece, "mean_confidence": self.confidence, "accuracy": self.accuracy,
                "bins": [{"lo": b.lo, "hi": b.hi, "count": b.count, "mean_confidence": b.confidence,
                          "em_rate": b.accuracy} for b in self.bins]}


def bin_index(confidence: float, bins: int = BINS) -> int:
    """Equal-width bin of `confidence` (clamped to [0, 1]; 1.0 in the last bin)."""
    return min(bins - 1, max(0, math.floor(confidence * bins)))


def reliability(points: Iterable[tuple[float, bool]], bins: int = BINS) -> Reliability:
    """The reliability table and ECE of (confidence, right) points."""
    count = [0] * bins
    conf = [0.0] * bins
    right = [0] * bins
    for c, ok in points:
        i = bin_index(c, bins)
        count[i] += 1
        conf[i] += c
        right[i] += bool(ok)
    n = sum(count)
    rows = tuple(Bin(i / bins, (i + 1) / bins, count[i], conf[i] / count[i] if count[i] else math.nan,
                     right[i] / count[i] if count[i] else math.nan) for i in range(bins))
    if not n:
        return Reliability(rows, 0, math.nan, math.nan, math.nan)
    ece = sum(b.count / n * abs(b.confidence - b.accuracy) for b in rows if b.count)
    return Reliability(rows, n, ece, sum(conf) / n, sum(right) / n)


def format_reliability(rel: Reliability, title: str) -> str:
    """The table as text: one row per non-empty bin, then N and ECE (percent points)."""
    head = f"{title[:24]:24s}{'n':>7s}{'conf %':>8s}{'EM %':>8s}{'gap':>7s}"
    lines = [head, "-" * len(head)]
    for b in rel.bins:
        if b.count:
            lines.append(f"{f'[{b.lo:.1f}, {b.hi:.1f}' + (']' if b.hi >= 1 else ')'):24s}{b.count:7d}"
                         f"{100 * b.confidence:8.1f}{100 * b.accuracy:8.1f}{100 * (b.accuracy - b.confidence):+7.1f}")
    lines.append("-" * len(head))
    lines.append(f"{'all':24s}{rel.n:7d}{100 * rel.confidence:8.1f}{100 * rel.accuracy:8.1f}   "
                 f"ECE {100 * rel.ece:.1f} pts")
    return "\n".join(lines)
