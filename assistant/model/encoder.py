"""The causal trunk (context encoder), its EAU complexity head with block skipping, and latent pooling.

The target encoder is the same classes with slowly moving (EMA) weights.
Notation: B batch, T tokens, D model width, L latent width.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from assistant.config import ModelConfig
from assistant.model.layers import Block, KVCache, RMSNorm


@dataclass
class TrunkOutput:
    hidden: Tensor  # (B, T, D) after the final norm
    complexity: Tensor | None  # (B,) EAU score in [0, 1], None when the EAU is off
    skipped: bool  # whether the skippable blocks were skipped


class ComplexityEstimator(nn.Module):
    """EAU: scores a request's complexity from the first block's states (0 simple … 1 complex)."""

    def __init__(self, d_model: int, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, h: Tensor, mask: Tensor | None = None) -> Tensor:
        """h: (B, T, D), mask: (B, T) bool valid tokens -> (B,) in [0, 1]."""
        if mask is None:
            pooled = h.mean(dim=1)
        else:
            m = mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, D)
        return torch.sigmoid(self.net(pooled).squeeze(-1))


class Trunk(nn.Module):
    """Token ids -> hidden states. Block 0 always runs; the EAU may then skip the middle blocks."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.blocks = nn.ModuleList(
            Block(config.d_model, config.n_heads, config.mlp_ratio, config.dropout, config.quantization)
            for _ in range(config.n_layers)
        )
        self.norm = RMSNorm(config.d_model)
        self.eau = ComplexityEstimator(config.d_model) if config.use_eau else None
        self.skippable = frozenset(config.skippable)
        self.gradient_checkpointing = config.gradient_checkpointing

    def forward(self, ids: Tensor, *, cache: KVCache | None = None, skip: bool | None = None,
                attn_mask: Tensor | None = None, valid: Tensor | None = None) -> TrunkOutput:
        """ids: (B, T). skip: None = decide (EAU at inference, layer drop in training), or force.

        With a cache that already skipped blocks, the same blocks are skipped (the context decides)."""
        x = self.embed(ids)  # (B, T, D)
        complexity: Tensor | None = None
        skipped = False
        for i, block in enumerate(self.blocks):
            if i in self.skippable:
                if i == min(self.skippable):
                    skipped = self._decide_skip(x, complexity, skip, cache)
                if skipped:
                    continue
            x = self._run_block(block, x, cache, i, attn_mask)
            if i == 0 and self.eau is not None and not (cache is not None and cache.length > 0):
                # a cached context already decided: new tokens after it never change that
                complexity = self.eau(x.detach() if self.training else x, valid)
        if cache is not None:
            cache.length += ids.shape[1]
            cache.skipped = frozenset(self.skippable) if skipped else frozenset()
        return TrunkOutput(self.norm(x), complexity, skipped)

    def _decide_skip(self, x: Tensor, complexity: Tensor | None, skip: bool | None,
                     cache: KVCache | None) -> bool:
        if cache is not None and cache.length > 0:
            return bool(cache.skipped)
        if skip is not None:
            return skip
        if self.training:
            return random.random() < self.config.layer_drop
        if complexity is None:
            return False
        return bool((complexity < self.config.skip_threshold).all())

    def _run_block(self, block: Block, x: Tensor, cache: KVCache | None, index: int,
                   attn_mask: Tensor | None) -> Tensor:
        if self.gradient_checkpointing and self.training and cache is None and torch.is_grad_enabled():
            return checkpoint(block, x, None, index, attn_mask, use_reentrant=False)
        return block(x, cache, index, attn_mask)


class LatentPooler(nn.Module):
    """Hidden states of a span -> one unit-norm latent (what the bank stores)."""

    def __init__(self, d_model: int, latent_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(d_model, latent_dim)

    def forward(self, hidden: Tensor, mask: Tensor) -> Tensor:
        """hidden: (B, T, D), mask: (B, T) bool -> (B, L) unit norm."""
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, D)
        return F.normalize(self.proj(pooled), dim=-1)


class SpanEncoder(nn.Module):
    """Trunk + pooler: token ids of a span -> latent. The target encoder is an EMA copy of this."""

    def __init__(self, trunk: Trunk, pooler: LatentPooler) -> None:
        super().__init__()
        self.trunk, self.pooler = trunk, pooler

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        """ids: (B, T) right-padded, mask: (B, T) bool -> (B, L). Never skips blocks."""
        out = self.trunk(ids, skip=False, valid=mask)
        return self.pooler(out.hidden, mask)
