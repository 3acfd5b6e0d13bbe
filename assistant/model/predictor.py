"""JEPA predictor: the cursor's hidden state (+ retrieved latents, + the Titans read-out) -> the latent
of what comes next. The memory bank it searches hangs off it as `memory_bank`.

Notation: N predictions, D model width, K retrieved latents, L latent width.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from assistant.errors import BankNotAttached


class JEPAPredictor(nn.Module):
    def __init__(self, d_model: int, latent_dim: int, hidden: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.query = nn.Linear(d_model, latent_dim)
        self.mlp = nn.Sequential(
            nn.Linear(d_model + latent_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, latent_dim),
        )
        self._bank: Any = None

    # -- the memory bank (attached by the runtime; the bank itself is numpy + FAISS) ----------------

    @property
    def memory_bank(self) -> Any:
        """The attached `MemoryBank`; raises BankNotAttached until `attach_memory_bank` is called."""
        if self._bank is None:
            raise BankNotAttached("no memory bank is attached to this model: open a workspace "
                                  "(assistant.runtime.open_runtime) or call model.attach_memory_bank(bank)")
        return self._bank

    def attach_memory_bank(self, bank: Any) -> None:
        self._bank = bank

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
