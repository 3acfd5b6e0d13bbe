"""The delta: vectors added since the generation, held in RAM for exact numpy search.

Between two generations the delta only grows (deleting an entry whose vector is in the delta
marks the row dead instead of removing it), so a reader catches up by appending the rows with
ids past the ones it has and marking the newly tombstoned ones dead: no full reload per commit.

Notation: M rows, Q queries, D = dim, K results.
"""

from __future__ import annotations

import numpy as np

from assistant.memory.bank.types import SECTIONS


class Delta:
    """Rows in id order in growable buffers: ids (M,), vectors (M, D) normalised, kind and section
    codes (M,), alive (M,) bool."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._n = 0
        self._ids = np.empty(0, dtype=np.int64)
        self._vectors = np.empty((0, dim), dtype=np.float32)
        self._kinds = np.empty(0, dtype=np.int32)
        self._sections = np.empty(0, dtype=np.int8)
        self._alive = np.empty(0, dtype=bool)
        self._kind_codes: dict[str, int] = {}
        self.dead = 0

    def __len__(self) -> int:
        """Rows stored, dead ones included."""
        return self._n

    @property
    def ids(self) -> np.ndarray:
        return self._ids[: self._n]

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors[: self._n]

    @property
    def alive(self) -> np.ndarray:
        return self._alive[: self._n]

    @property
    def live(self) -> int:
        return self._n - self.dead

    def append(self, ids: np.ndarray, vectors: np.ndarray, kinds: list[str], sections: list[str]) -> None:
        """Add rows whose ids are all greater than the stored ones."""
        m = len(ids)
        if m == 0:
            return
        if self._n + m > len(self._ids):
            self._grow(max(self._n + m, 2 * len(self._ids), 256))
        end = self._n + m
        self._ids[self._n:end] = ids
        self._vectors[self._n:end] = vectors
        self._kinds[self._n:end] = [self._kind_codes.setdefault(k, len(self._kind_codes)) for k in kinds]
        self._sections[self._n:end] = [SECTIONS.index(s) for s in sections]  # type: ignore[arg-type]
        self._alive[self._n:end] = True
        self._n = end

    def _grow(self, capacity: int) -> None:
        def grown(a: np.ndarray) -> np.ndarray:
            out = np.empty((capacity, *a.shape[1:]), dtype=a.dtype)
            out[: self._n] = a[: self._n]
            return out

        self._ids, self._vectors = grown(self._ids), grown(self._vectors)
        self._kinds, self._sections, self._alive = grown(self._kinds), grown(self._sections), grown(self._alive)

    def kill(self, ids: np.ndarray) -> None:
        """Mark the rows of `ids` (tombstoned entries) dead; ids not in the delta are ignored."""
        hit = np.isin(self.ids, ids) & self.alive
        self._alive[: self._n][hit] = False
        self.dead += int(hit.sum())

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Row of each id among the live rows, -1 where it is not there: (n,) int64."""
        if self._n == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.ids, ids), self._n - 1)
        found = (self.ids[pos] == ids) & self.alive[pos]
        return np.where(found, pos, -1)

    def mask(self, kinds: frozenset[str] | None, section: str | None) -> np.ndarray:
        """Live rows passing the filter: (M,) bool."""
        mask = self.alive.copy()
        if kinds is not None:
            codes = [self._kind_codes[k] for k in kinds if k in self._kind_codes]
            mask &= np.isin(self._kinds[: self._n], codes)
        if section is not None:
            mask &= self._sections[: self._n] == SECTIONS.index(section)  # type: ignore[arg-type]
        return mask

    def search(self, queries: np.ndarray, k: int, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k by inner product over the rows in `mask`:
        queries (Q, D) -> scores (Q, K'), ids (Q, K'), K' = min(k, rows), best first."""
        rows = np.flatnonzero(mask)
        k = min(k, len(rows))
        if k == 0:
            return np.empty((len(queries), 0), np.float32), np.empty((len(queries), 0), np.int64)
        vectors = self.vectors if len(rows) == self._n else self.vectors[rows]
        scores = queries @ vectors.T                                         # (Q, M')
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]                 # (Q, K) unordered
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        best = np.take_along_axis(top, order, axis=1)
        return np.take_along_axis(top_scores, order, axis=1), self.ids[rows][best]
