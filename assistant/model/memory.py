"""Titans neural memory: an MLP whose weights are written at test time by surprise-scaled gradient steps.

Notation
  B   batch (independent memories)        C   positions per chunk
  N   associations written at once        D   key/value width (the latent width)
  k, v   key (context latent) and value (latent of what followed)
  W   memory weights (one MLP per batch element), S momentum ("past surprise")

Write rule (Titans, with MIRAS choices):
  s      = ℓ(M_W(k), v)                          surprise = associative loss before the step
  θ      = lr · s / ‖∇_W ℓ‖²                      the step grows with surprise; lr = share of the gap
                                                 closed in one write (normalised LMS, stable for lr < 1)
  S'     = η·S − θ·∇_W ℓ                         momentum over past surprise
  W'     = (1 − α)·W + S'                        α = decay (retention "decay") or 0 (retention "none")
  skipped when s < surprise_threshold: the state is returned unchanged.
ℓ is the MIRAS attentional bias: ℓ2 ‖·‖², Huber, or ℓp ‖·‖_p^p, averaged over positions.

The state is a value: `write` and `forward` take it and return the next one; nothing is mutated.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class MemoryState:
    """Weights and momentum of B independent memories; layer i maps (B, ·, d_i) -> (B, ·, d_{i+1})."""

    weights: tuple[Tensor, ...]  # per layer (B, d_in, d_out)
    momentum: tuple[Tensor, ...]  # same shapes
    writes: Tensor  # (B,) writes applied so far

    @property
    def batch(self) -> int:
        return self.weights[0].shape[0]

    def detach(self) -> MemoryState:
        return MemoryState(tuple(w.detach() for w in self.weights), tuple(m.detach() for m in self.momentum),
                           self.writes.detach())


@dataclass(frozen=True)
class WriteResult:
    state: MemoryState
    surprise: Tensor  # (B,) loss before the step
    written: Tensor  # (B,) bool: above threshold, step applied


# -- attentional bias ----------------------------------------------------------------------------


def associative_loss(pred: Tensor, target: Tensor, bias: str, huber_delta: float = 1.0, p: float = 3.0) -> Tensor:
    """pred, target: (B, C, D) -> (B,) mean over C of the MIRAS attentional bias."""
    diff = pred - target
    if bias == "l2":
        per = diff.pow(2).sum(-1)
    elif bias == "huber":
        per = F.huber_loss(pred, target, reduction="none", delta=huber_delta).sum(-1)
    elif bias == "lp":
        per = diff.abs().pow(p).sum(-1)
    else:
        raise ValueError(f"unknown attentional bias {bias!r}; valid: l2, huber, lp")
    return per.mean(-1)


# -- the memory ----------------------------------------------------------------------------------


class NeuralMemory(nn.Module):
    """Titans long-term memory of `depth` layers; the learned initial weights are its prior."""

    def __init__(self, dim: int, depth: int = 3, *, hidden: int | None = None, chunk_size: int = 4,
                 lr: float = 0.5, momentum: float = 0.5, decay: float = 0.001, retention: str = "decay",
                 attentional_bias: str = "l2", surprise_threshold: float = 0.5, huber_delta: float = 1.0,
                 lp: float = 3.0) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError("depth must be >= 1")
        self.dim, self.depth, self.chunk_size = dim, depth, chunk_size
        hidden = hidden or 2 * dim
        widths = [dim] + [hidden] * (depth - 1) + [dim]
        self.init_weights = nn.ParameterList(
            nn.Parameter(torch.randn(a, b) * (1.0 / math.sqrt(a)) * (0.1 if i == depth - 1 else 1.0))
            for i, (a, b) in enumerate(itertools.pairwise(widths))
        )
        # projections used by `forward` on raw hidden sequences (the engine writes latents directly)
        self.to_key = nn.Linear(dim, dim, bias=False)
        self.to_value = nn.Linear(dim, dim, bias=False)
        self.to_query = nn.Linear(dim, dim, bias=False)
        self.lr, self.momentum_coef = lr, momentum
        self.decay = decay if retention == "decay" else 0.0
        self.retention = retention
        self.attentional_bias = attentional_bias
        self.surprise_threshold = surprise_threshold
        self.huber_delta, self.lp = huber_delta, lp

    # -- state --------------------------------------------------------------------------------------

    def initial_state(self, batch: int = 1) -> MemoryState:
        weights = tuple(w.unsqueeze(0).expand(batch, -1, -1).clone() for w in self.init_weights)
        return MemoryState(weights, tuple(torch.zeros_like(w) for w in weights),
                           torch.zeros(batch, dtype=torch.long, device=weights[0].device))

    # -- read ----------------------------------------------------------------------------------------

    @staticmethod
    def run_mlp(weights: tuple[Tensor, ...], x: Tensor) -> Tensor:
        """x: (B, C, D) through the per-batch MLP -> (B, C, D); residual so an empty memory reads ~x."""
        h = x
        for i, w in enumerate(weights):
            h = torch.bmm(h, w)  # (B, C, d_{i+1})
            if i < len(weights) - 1:
                h = F.gelu(h)
        return x + h

    def read(self, query: Tensor, state: MemoryState) -> Tensor:
        """query: (B, C, D) -> (B, C, D)."""
        return self.run_mlp(state.weights, query)

    def surprise(self, keys: Tensor, values: Tensor, state: MemoryState) -> Tensor:
        """keys, values: (B, C, D) -> (B,) associative loss of the current memory."""
        return associative_loss(self.read(keys, state), values, self.attentional_bias, self.huber_delta, self.lp)

    # -- write ---------------------------------------------------------------------------------------

    def write(self, keys: Tensor, values: Tensor, state: MemoryState) -> WriteResult:
        """keys, values: (B, C, D): one surprise-scaled, momentum, decayed gradient step per memory."""
        # a write is a gradient step even when called from inference code: leave inference mode and
        # clone, since tensors made under inference_mode cannot be saved for backward
        with torch.inference_mode(False), torch.enable_grad():
            weights = tuple(w.detach().clone().requires_grad_(True) for w in state.weights)
            loss = associative_loss(self.run_mlp(weights, keys.detach().clone()), values.detach().clone(),
                                    self.attentional_bias, self.huber_delta, self.lp)  # (B,)
            grads = torch.autograd.grad(loss.sum(), weights)
            state = MemoryState(tuple(w.detach().clone() for w in state.weights),
                                tuple(m.detach().clone() for m in state.momentum), state.writes.clone())
        surprise = loss.detach()
        written = surprise >= self.surprise_threshold  # (B,)
        grad_sq = sum(g.pow(2).sum(dim=(1, 2)) for g in grads)  # (B,)
        theta = self.lr * surprise / (grad_sq + 1e-8) * written  # (B,) normalised step: closes ~lr of the gap
        gate = written.to(surprise.dtype)
        new_w, new_m = [], []
        for w, m, g in zip(state.weights, state.momentum, grads, strict=True):
            t = theta.view(-1, 1, 1)
            g_ = gate.view(-1, 1, 1)
            m2 = self.momentum_coef * m - t * g
            w2 = (1.0 - self.decay) * w + m2
            new_m.append(torch.where(g_ > 0, m2, m))
            new_w.append(torch.where(g_ > 0, w2, w))
        state2 = MemoryState(tuple(new_w), tuple(new_m), state.writes + written.long())
        return WriteResult(state2, surprise, written)

    # -- sequence form -------------------------------------------------------------------------------

    def forward(self, x: Tensor, state: MemoryState | None = None) -> tuple[Tensor, MemoryState]:
        """x: (B, T, D) with T a multiple of chunk_size -> retrieved (B, T, D) and the next state.

        Chunk t is read with weights written by chunks < t, so splitting x across calls changes nothing."""
        if x.shape[1] % self.chunk_size:
            raise ValueError(f"sequence length {x.shape[1]} is not a multiple of chunk_size {self.chunk_size}")
        state = state if state is not None else self.initial_state(batch=x.shape[0])
        outputs = []
        for chunk in x.split(self.chunk_size, dim=1):  # (B, C, D)
            outputs.append(self.read(self.to_query(chunk), state))  # (B, C, D)
            state = self.write(self.to_key(chunk), self.to_value(chunk), state).state
        return torch.cat(outputs, dim=1), state
