"""Baselines A and B of the bench, on our own line store.

A ("copy from most similar context"): among the candidates, the one whose context window scores
best under BM25 against the cursor's window. B ("most frequent completion"): the most frequent
whitespace-normalised continuation. Ties go to preference order (same file nearest first).
"""

from __future__ import annotations

from collections import Counter

from assistant.engine.candidates import Candidate, normalize


def predict_a(cands: list[Candidate]) -> str:
    best, best_score = "", -1.0
    for c in cands:
        if c.bm25 > best_score:
            best, best_score = c.continuation, c.bm25
    return best


def predict_b(cands: list[Candidate]) -> str:
    if not cands:
        return ""
    counts = Counter(normalize(c.continuation) for c in cands)
    top = max(counts.values())
    return next(c.continuation for c in cands if counts[normalize(c.continuation)] == top)
