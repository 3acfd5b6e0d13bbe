"""Scores of one prediction against the target: EM, edit similarity, identifier F1."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from assistant.engine.candidates import identifiers, normalize


@dataclass(frozen=True, slots=True)
class Score:
    em: float
    """Exact match after whitespace normalisation."""
    es: float
    """Edit similarity 1 - Levenshtein / max(len) on the normalised strings (CrossCodeEval)."""
    idf1: float
    """F1 over the multiset of identifiers, keywords excluded."""


def identifier_f1(pred: str, target: str) -> float:
    p, t = Counter(identifiers(pred)), Counter(identifiers(target))
    if not p and not t:
        return 1.0
    common = sum((p & t).values())
    if not p or not t or not common:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(t.values())
    return 2 * precision * recall / (precision + recall)


def score(pred: str, target: str) -> Score:
    a, b = normalize(pred), normalize(target)
    return Score(float(a == b), Levenshtein.normalized_similarity(a, b), identifier_f1(pred, target))


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 1])."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]
