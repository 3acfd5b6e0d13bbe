"""`BankView`: the in-memory state a `MemoryBank` searches — one generation, its delta and its
tombstones as of one committed version — and exact search over it.

Ids are allocated in commit order and a generation folds in everything before it, so every delta
id is greater than every generation id: a tombstone at or below `generation.max_id` hides a
generation vector (through a FAISS id selector), one above it kills a delta row.

Notation: Q queries, D = dim, K results, F fetched candidates.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from assistant.memory.bank.delta import Delta
from assistant.memory.bank.vectors import Generation, IdSelector

MatchingIds = Callable[[int], np.ndarray]
"""max_id -> the ids up to it of every live entry passing the search's filter (from SQL); entries deleted
afterwards are the tombstones'."""
Found = list[tuple[np.ndarray, np.ndarray]]
"""Per query (ids, scores), best first."""


class BankView:
    """Generation + delta + tombstones, advanced commit by commit with `apply`."""

    def __init__(self, generation: Generation, dim: int) -> None:
        self.generation = generation
        self.delta = Delta(dim)
        self.tombstones = np.empty(0, dtype=np.int64)
        self.selector = IdSelector(self.tombstones, exclude=True)
        self.generation_dead = 0
        self._filters: dict[tuple[frozenset[str] | None, str | None], IdSelector] = {}
        """Per filter, the generation's ids passing it (an entry's kind and section never change)."""

    def apply(self, delta: tuple[np.ndarray, np.ndarray, list[str], list[str]], tombstones: np.ndarray) -> None:
        """Append new delta rows (ids past the stored ones) and new tombstones."""
        self.delta.append(*delta)
        if len(tombstones):
            in_generation = tombstones <= self.generation.max_id
            self.selector.add(tombstones[in_generation])
            self.generation_dead += int(in_generation.sum())
            self.delta.kill(tombstones[~in_generation])
            self.tombstones = np.concatenate([self.tombstones, tombstones])

    def __len__(self) -> int:
        """Live vectors (= live entries)."""
        return self.generation.ntotal - self.generation_dead + self.delta.live

    @property
    def pending(self) -> int:
        """Work the next compaction folds: delta rows plus tombstones."""
        return len(self.delta) + len(self.tombstones)

    def vectors(self, ids: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """ids (n,) -> (vectors (n, D), ids that have no live vector)."""
        out = np.zeros((len(ids), self.delta.dim), dtype=np.float32)
        pos = self.delta.positions(ids)
        out[pos >= 0] = self.delta.vectors[pos[pos >= 0]]
        dead = set(self.tombstones[np.isin(self.tombstones, ids)].tolist())
        missing = []
        for row in np.flatnonzero(pos < 0).tolist():
            i = int(ids[row])
            if i in dead or self.generation.index is None or i > self.generation.max_id:
                missing.append(i)
                continue
            try:
                out[row] = self.generation.index.reconstruct(i)
            except RuntimeError:                     # not in the generation either
                missing.append(i)
        return out, missing

    def search(self, q: np.ndarray, k: int, kinds: frozenset[str] | None, section: str | None,
               matching_ids: MatchingIds) -> Found:
        """Exact top-k (on a flat generation) over live vectors passing the filter: queries (Q, D)."""
        d_scores, d_ids = self.delta.search(q, k, self.delta.mask(kinds, section))
        found = []
        for row, (g_ids, g_scores) in enumerate(self._search_generation(q, k, kinds, section, matching_ids)):
            ids = np.concatenate([g_ids, d_ids[row]])
            scores = np.concatenate([g_scores, d_scores[row]])
            order = np.argsort(-scores, kind="stable")[:k]
            found.append((ids[order], scores[order]))
        return found

    def _search_generation(self, q: np.ndarray, k: int, kinds: frozenset[str] | None,
                           section: str | None, matching_ids: MatchingIds) -> Found:
        """One FAISS search without the tombstones; filtered, also restricted to the generation's ids
        that pass the filter. That selector is built once per generation (the delta has its own mask):
        over-fetching and asking SQL for the kind and section of the hits cost a query per search, two
        thirds of a completion's bank search, and rebuilding it at every commit would stall the first
        keystroke after each save on a large bank."""
        gen = self.generation
        if gen.ntotal == 0:
            return [(np.empty(0, np.int64), np.empty(0, np.float32)) for _ in range(len(q))]
        if kinds is None and section is None:
            return _rows(*gen.search(q, k, self.selector))
        key = (kinds, section)
        if key not in self._filters:
            self._filters[key] = IdSelector(matching_ids(gen.max_id))
        return _rows(*gen.search(q, k, self._filters[key], also_excluding=self.selector))


def _rows(scores: np.ndarray, ids: np.ndarray) -> Found:
    """FAISS output (Q, K) -> per query (ids, scores) without the -1 padding."""
    return [(i[i >= 0], s[i >= 0]) for s, i in zip(scores, ids, strict=True)]
