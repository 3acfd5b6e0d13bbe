"""The Titans memory's episodes in memory: a bounded store of surprising associations, mirrored from the
`titans_episodes` table by `assistant.memory.titans.TitansStore` (source id = row id)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


class EpisodicStore:
    """Bounded store of surprising associations (key, value, surprise, access count, source id).

    Used for `forget(n)`; when full, the least-accessed (then oldest) entry goes.
    Source ids tie an episode to the bank entry it came from, so deleting code deletes its episodes."""

    def __init__(self, dim: int, capacity: int) -> None:
        self.dim, self.capacity = dim, capacity
        self.keys = torch.zeros(0, dim)
        self.values = torch.zeros(0, dim)
        self.surprise = torch.zeros(0)
        self.access = torch.zeros(0, dtype=torch.long)
        self.source_ids = torch.zeros(0, dtype=torch.long)
        self.order = torch.zeros(0, dtype=torch.long)  # insertion counter, for tie-breaking
        self._counter = 0

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def add(self, keys: Tensor, values: Tensor, surprise: Tensor, source_ids: Tensor | None = None) -> None:
        """keys, values: (N, D); surprise: (N,); evicts least-accessed entries beyond capacity."""
        n = keys.shape[0]
        if n == 0:
            return
        ids = source_ids if source_ids is not None else torch.full((n,), -1, dtype=torch.long)
        order = torch.arange(self._counter, self._counter + n)
        self._counter += n
        self.keys = torch.cat([self.keys, keys.detach().float()])
        self.values = torch.cat([self.values, values.detach().float()])
        self.surprise = torch.cat([self.surprise, surprise.detach().float()])
        self.access = torch.cat([self.access, torch.zeros(n, dtype=torch.long)])
        self.source_ids = torch.cat([self.source_ids, ids.long()])
        self.order = torch.cat([self.order, order])
        overflow = len(self) - self.capacity
        if overflow > 0:
            self.forget(overflow)

    def _keep(self, mask: Tensor) -> None:
        self.keys, self.values = self.keys[mask], self.values[mask]
        self.surprise, self.access = self.surprise[mask], self.access[mask]
        self.source_ids, self.order = self.source_ids[mask], self.order[mask]

    def forget(self, n: int) -> int:
        """Drop the n least-accessed entries (oldest first among equals); returns how many went."""
        n = max(0, min(n, len(self)))
        if n == 0:
            return 0
        # lexicographic (access, order): scale access above any order value
        rank = self.access * (self._counter + 1) + self.order
        drop = torch.topk(rank, n, largest=False).indices
        mask = torch.ones(len(self), dtype=torch.bool)
        mask[drop] = False
        self._keep(mask)
        return n

    def nearest(self, query: Tensor, k: int = 1, touch: bool = True) -> tuple[Tensor, Tensor]:
        """query: (D,) -> (similarities (k,), indices (k,)); counts an access for each hit."""
        if len(self) == 0:
            return torch.zeros(0), torch.zeros(0, dtype=torch.long)
        sims = F.normalize(self.keys, dim=-1) @ F.normalize(query.float(), dim=-1)
        top = torch.topk(sims, min(k, len(self)))
        if touch:
            self.access[top.indices] += 1
        return top.values, top.indices

    def tensors(self) -> dict[str, Tensor]:
        return {"keys": self.keys, "values": self.values, "surprise": self.surprise, "access": self.access,
                "source_ids": self.source_ids, "order": self.order,
                "counter": torch.tensor([self._counter], dtype=torch.long)}

    def load_tensors(self, data: dict[str, Tensor]) -> None:
        keys = data["keys"]
        if keys.ndim != 2 or keys.shape[1] != self.dim:
            raise ValueError(f"episodic keys have shape {tuple(keys.shape)}, expected (N, {self.dim})")
        self.keys, self.values = keys.float(), data["values"].float()
        self.surprise, self.access = data["surprise"].float(), data["access"].long()
        self.source_ids, self.order = data["source_ids"].long(), data["order"].long()
        self._counter = int(data["counter"][0])
