"""Building blocks of the trunk: RMSNorm, rotary attention with a KV cache, MLP, and the block.

Notation: B batch, T new tokens, S cached + new tokens, D model width, H heads, E head width (D / H).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from assistant.model.quant import BitLinear


def make_linear(in_features: int, out_features: int, quantization: str, bias: bool = False) -> nn.Linear:
    """nn.Linear, or BitLinear when training with BitNet b1.58."""
    cls = BitLinear if quantization == "bitnet" else nn.Linear
    return cls(in_features, out_features, bias=bias)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


class Rotary(nn.Module):
    """Rotary position embeddings as one complex multiply; tables grow on demand and are not saved."""

    def __init__(self, head_dim: int, base: float = 10_000.0) -> None:
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2).float() / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self._cis: Tensor | None = None

    def table(self, length: int, device: torch.device) -> Tensor:
        if self._cis is None or self._cis.shape[0] < length or self._cis.device != device:
            t = torch.arange(max(length, 512), device=device, dtype=torch.float32)
            self._cis = torch.polar(torch.ones((), device=device), torch.outer(t, self.inv_freq.to(device)))  # (L, E/2)
        return self._cis

    def forward(self, x: Tensor, start: int) -> Tensor:
        """x: (B, T, ..., E) at positions start..start+T-1 (time on dim 1) -> rotated, same shape."""
        T = x.shape[1]
        cis = self.table(start + T, x.device)[start : start + T]  # (T, E/2)
        cis = cis.view(1, T, *([1] * (x.ndim - 3)), cis.shape[-1])
        pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))  # (B, T, ..., E/2)
        return torch.view_as_real(pairs * cis).flatten(-2).type_as(x)


@dataclass
class KVCache:
    """Keys/values per block for a context, plus which blocks the context skipped."""

    keys: dict[int, Tensor] = field(default_factory=dict)  # block -> (B, H, S, E)
    values: dict[int, Tensor] = field(default_factory=dict)
    length: int = 0
    skipped: frozenset[int] = frozenset()

    shared: bool = False
    """`keys`/`values` hold one context (batch 1) that a batch of continuations reads in place, and the
    continuations' own keys grow in `own_keys`/`own_values`: nothing of the context is copied, per
    continuation or per generated token (that copy of a 1,000-token context cost more than the
    continuations' own compute)."""
    own_keys: dict[int, Tensor] = field(default_factory=dict)  # block -> (B, H, P, E)
    own_values: dict[int, Tensor] = field(default_factory=dict)

    def continued(self) -> KVCache:
        """A shared view of this context for a batch of continuations (or one generation); this cache is
        left unchanged."""
        return KVCache(dict(self.keys), dict(self.values), self.length, self.skipped, shared=True)


class Attention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float, quantization: str) -> None:
        super().__init__()
        self.n_heads, self.head_dim = n_heads, d_model // n_heads
        self.qkv = make_linear(d_model, 3 * d_model, quantization)
        self.out = make_linear(d_model, d_model, quantization)
        self.rotary = Rotary(self.head_dim)
        self.dropout = dropout

    def forward(self, x: Tensor, cache: KVCache | None = None, index: int = 0,
                attn_mask: Tensor | None = None) -> Tensor:
        """x: (B, T, D). With `cache`, attends to the cached S-T tokens too and appends to the cache.

        attn_mask: optional bool (B, 1, T, S), True = may attend (used for padded continuations)."""
        B, T, D = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.n_heads, self.head_dim)  # (B, T, 3, H, E)
        start = cache.length if cache is not None else 0
        q, k = self.rotary(qkv[:, :, :2], start).permute(2, 0, 3, 1, 4)  # 2×(B, H, T, E), rotated together
        v = qkv[:, :, 2].transpose(1, 2)  # (B, H, T, E)
        if cache is not None and cache.shared and index in cache.keys:
            if index in cache.own_keys:
                k = torch.cat([cache.own_keys[index], k], dim=2)
                v = torch.cat([cache.own_values[index], v], dim=2)
            cache.own_keys[index], cache.own_values[index] = k, v
            y = _shared_prefix_attention(q, k, v, cache.keys[index], cache.values[index], attn_mask)
            return self.out(y.transpose(1, 2).reshape(B, T, D))
        if cache is not None and index in cache.keys:
            k = torch.cat([cache.keys[index], k], dim=2)  # (B, H, S, E)
            v = torch.cat([cache.values[index], v], dim=2)
        if cache is not None:
            cache.keys[index], cache.values[index] = k, v
        S = k.shape[2]
        causal = attn_mask is None and S == T
        if attn_mask is None and T > 1 and S > T:  # new tokens after a cached prefix: offset causal mask
            attn_mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=S - T)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, is_causal=causal,
            dropout_p=self.dropout if self.training else 0.0,
        )  # (B, H, T, E)
        return self.out(y.transpose(1, 2).reshape(B, T, D))


def _shared_prefix_attention(q: Tensor, k: Tensor, v: Tensor, k0: Tensor, v0: Tensor,
                             attn_mask: Tensor | None) -> Tensor:
    """Attention of B continuations over one shared context (k0, v0: (1, H, S0, E)) and their own tokens
    (q: (B, H, T, E) the new ones; k, v: (B, H, P + T, E) with the P earlier ones), without materialising
    the context per continuation. attn_mask: bool (B, 1, T, S0 + P + T), True = may attend; None = all of
    the context and the earlier tokens, causal among the new ones. -> (B, H, T, E)."""
    B, H, T, E = q.shape
    S0, own = k0.shape[2], k.shape[2]
    flat = q.permute(1, 0, 2, 3).reshape(H, B * T, E)  # every continuation's queries against one context
    ctx_scores = (flat @ k0[0].transpose(1, 2)).view(H, B, T, S0).permute(1, 0, 2, 3)  # (B, H, T, S0)
    own_scores = q @ k.transpose(2, 3)  # (B, H, T, P + T)
    scores = torch.cat([ctx_scores, own_scores], dim=3) * (1.0 / math.sqrt(E))
    if attn_mask is None:
        attn_mask = torch.ones(T, S0 + own, dtype=torch.bool, device=q.device).tril(diagonal=S0 + own - T)
    probs = torch.softmax(scores.masked_fill(~attn_mask, float("-inf")), dim=-1)
    from_ctx = (probs[..., :S0].permute(1, 0, 2, 3).reshape(H, B * T, S0) @ v0[0]).view(H, B, T, E)
    return from_ctx.permute(1, 0, 2, 3) + probs[..., S0:] @ v


class MLP(nn.Module):
    def __init__(self, d_model: int, ratio: int, dropout: float, quantization: str) -> None:
        super().__init__()
        self.up = make_linear(d_model, ratio * d_model, quantization)
        self.down = make_linear(ratio * d_model, d_model, quantization)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.down(F.gelu(self.up(x))))


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: int, dropout: float, quantization: str) -> None:
        super().__init__()
        self.norm1 = RMSNorm(d_model)
        self.attn = Attention(d_model, n_heads, dropout, quantization)
        self.norm2 = RMSNorm(d_model)
        self.mlp = MLP(d_model, mlp_ratio, dropout, quantization)

    def forward(self, x: Tensor, cache: KVCache | None = None, index: int = 0,
                attn_mask: Tensor | None = None) -> Tensor:
        x = x + self.attn(self.norm1(x), cache, index, attn_mask)
        return x + self.mlp(self.norm2(x))
