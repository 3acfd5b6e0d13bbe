"""JEPA predictor: the cursor's hidden state (+ retrieved latents, + the Titans read-out) -> the latent
of what comes next. The memory bank it searches hangs off it as `memory_bank`.

Notation: N predictions, D model width, K retrieved latents, L latent width.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from assistant.memory.bank import MemoryBank

_BANK_LOCK = threading.Lock()


class JEPAPredictor(nn.Module):
    def __init__(self, d_model: int, latent_dim: int, hidden: int, bank_directory: str | None = None) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.query = nn.Linear(d_model, latent_dim)
        self.mlp = nn.Sequential(
            nn.Linear(d_model + latent_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, latent_dim),
        )
        self.bank_directory = bank_directory
        """Where a freestanding bank keeps its files (None: a temporary directory)."""
        self._bank: MemoryBank | None = None
        self._own_bank = False

    # -- the memory bank (a workspace's, attached by the runtime, or one of its own) ----------------

    @property
    def memory_bank(self) -> MemoryBank:
        """The `MemoryBank` the predictor's latents are searched in: the attached one (a workspace's),
        else a freestanding bank of `latent_dim`-wide vectors made on first use
        (`assistant.bank.freestanding_bank`) in `bank_directory`, or in a temporary directory removed
        when it is closed. The bank does the file I/O; the caller closes it (a freestanding bank that
        was closed is opened afresh on the next use: from `bank_directory`, with its entries)."""
        with _BANK_LOCK:
            if self._bank is None or (self._own_bank and self._bank.closed):
                from assistant.memory.bank.freestanding import (
                    freestanding_bank,  # faiss + SQLite only when asked
                )

                self._bank, self._own_bank = freestanding_bank(self.latent_dim, self.bank_directory), True
            return self._bank

    def attach_memory_bank(self, bank: MemoryBank | None) -> None:
        """Use `bank` from now on (None: the next use makes a freestanding one). A bank replaced here
        is not closed."""
        with _BANK_LOCK:
            self._bank, self._own_bank = bank, False

    def __getstate__(self) -> dict[str, Any]:
        """Copies (`export_int8`) and pickles leave the bank behind: it is open files, not weights."""
        return {**super().__getstate__(), "_bank": None, "_own_bank": False}

    # -- prediction ---------------------------------------------------------------------------------

    def forward(self, h: Tensor, retrieved: Tensor | None = None, retrieved_mask: Tensor | None = None,
                titans: Tensor | None = None) -> Tensor:
        """h: (N, D); retrieved: (N, K, L) with mask (N, K) bool; titans: (N, L) -> (N, L) unit norm.

        Retrieved latents and the Titans read-out are memory slots the cursor state attends to;
        with no slot at all the pooled memory is zero."""
        N = h.shape[0]
        slots, masks = [], []
        if retrieved is not None and retrieved.shape[1] > 0:
            slots.append(retrieved)
            masks.append(retrieved_mask if retrieved_mask is not None
                         else torch.ones(retrieved.shape[:2], dtype=torch.bool, device=h.device))
        if titans is not None:
            slots.append(titans.unsqueeze(1))
            masks.append(torch.ones(N, 1, dtype=torch.bool, device=h.device))
        if slots:
            mem = torch.cat(slots, dim=1)  # (N, S, L)
            mask = torch.cat(masks, dim=1)  # (N, S)
            q = self.query(h)  # (N, L)
            scores = torch.einsum("nl,nsl->ns", q, mem) / math.sqrt(self.latent_dim)
            scores = scores.masked_fill(~mask, float("-inf"))
            weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # rows with no slot -> 0
            pooled = torch.einsum("ns,nsl->nl", weights, mem)  # (N, L)
        else:
            pooled = h.new_zeros(N, self.latent_dim)
        return F.normalize(self.mlp(torch.cat([h, pooled], dim=-1)), dim=-1)
