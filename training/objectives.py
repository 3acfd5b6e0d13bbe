"""Training objectives: next-token loss + JEPA latent prediction + EAU regression, and the EMA step.

Notation
  B sequences, T tokens, D width, V vocabulary, L latent width
  M target slots per sequence (line / body / use / code spans), S target span tokens
  N valid targets in the batch (≤ B·M), K retrieved slots per target
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from assistant.config import loss_chunk_sequences
from assistant.model.jepa import UltraEfficientTextJEPA

TEMPERATURE = 0.07
"""InfoNCE temperature on unit-norm latents (the usual contrastive value)."""


@dataclass
class JepaBatch:
    """What one step consumes; produced by the data pipeline (masking lives there)."""

    tokens: Tensor  # (B, T) long: input ids (FIM-transformed where the pipeline chose so)
    loss_mask: Tensor  # (B, T) bool: position t predicts tokens[t + 1] and counts in the token loss
    cursor_index: Tensor  # (B, M) long: position whose hidden state predicts target m; -1 = empty slot
    target_tokens: Tensor  # (B, M, S) long: the target span, encoded alone (<|line|> / <|span|> first)
    target_mask: Tensor  # (B, M, S) bool
    target_hash: Tensor  # (B, M) long: equal hashes = equal content (never each other's negatives)

    def to(self, device: torch.device | str) -> JepaBatch:
        return JepaBatch(*(t.to(device, non_blocking=True) for t in (
            self.tokens, self.loss_mask, self.cursor_index, self.target_tokens, self.target_mask,
            self.target_hash)))

    @property
    def num_tokens(self) -> int:
        return int(self.loss_mask.sum())


@dataclass
class Losses:
    total: Tensor
    token: Tensor
    jepa: Tensor
    cosine: Tensor
    eau: Tensor
    metrics: dict[str, float] = field(default_factory=dict)
    """Detached figures for the progress bar: embedding std, effective rank, complexity, skip, accuracy."""


# -- pieces ----------------------------------------------------------------------------------------


def token_loss(logits: Tensor, tokens: Tensor, loss_mask: Tensor) -> tuple[Tensor, Tensor]:
    """logits (B, T, V), tokens (B, T), mask (B, T) -> (mean loss, per-sequence mean loss (B,))."""
    return _masked_means(_next_token_nll(logits, tokens), loss_mask)


def head_token_loss(model: UltraEfficientTextJEPA, hidden: Tensor, tokens: Tensor, loss_mask: Tensor
                    ) -> tuple[Tensor, Tensor]:
    """hidden (B, T, D) -> `token_loss` of the token head's logits.

    With gradient checkpointing, the logits are made and dropped a few sequences at a time and made
    again in backward: the (B, T, V) logits, their softmax and their gradient were the largest tensors
    of a small model's step, which recomputing the trunk blocks alone left in place."""
    if not (model.config.gradient_checkpointing and model.training and torch.is_grad_enabled()):
        return token_loss(model.head(hidden), tokens, loss_mask)
    rows = loss_chunk_sequences(tokens.shape[1])
    nll = torch.cat([
        checkpoint(_head_nll, model.head, h, t, use_reentrant=False)
        for h, t in zip(hidden.split(rows), tokens.split(rows), strict=True)])
    return _masked_means(nll, loss_mask)


def _head_nll(head: torch.nn.Module, hidden: Tensor, tokens: Tensor) -> Tensor:
    return _next_token_nll(head(hidden), tokens)


def _next_token_nll(logits: Tensor, tokens: Tensor) -> Tensor:
    """logits (B, T, V), tokens (B, T) -> nll (B, T-1) of each next token."""
    pred = logits[:, :-1].float()  # (B, T-1, V)
    gold = tokens[:, 1:]
    return F.cross_entropy(pred.reshape(-1, pred.shape[-1]), gold.reshape(-1), reduction="none").view_as(gold)


def _masked_means(nll: Tensor, loss_mask: Tensor) -> tuple[Tensor, Tensor]:
    mask = loss_mask[:, :-1].float()
    nll = nll * mask
    per_seq = nll.sum(1) / mask.sum(1).clamp_min(1.0)
    return nll.sum() / mask.sum().clamp_min(1.0), per_seq


def info_nce(pred: Tensor, target: Tensor, hashes: Tensor, temperature: float = TEMPERATURE
             ) -> tuple[Tensor, Tensor]:
    """Two-way InfoNCE: pred (N, L) vs target (N, L), both unit norm; in-batch negatives (the batch
    holds several targets of each file: the same-file negatives), duplicates of the same content masked.

    -> (loss, top-1 accuracy of pred -> target)."""
    logits = pred @ target.t() / temperature  # (N, N)
    same = hashes.unsqueeze(0) == hashes.unsqueeze(1)
    eye = torch.eye(len(hashes), dtype=torch.bool, device=pred.device)
    logits = logits.masked_fill(same & ~eye, float("-inf"))
    labels = torch.arange(len(hashes), device=pred.device)
    loss = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))
    accuracy = (logits.argmax(dim=1) == labels).float().mean()
    return loss, accuracy


def effective_rank(z: Tensor) -> float:
    """exp(entropy of normalised singular values) of centred latents: ~1 means collapse."""
    if z.shape[0] < 2:
        return float("nan")
    s = torch.linalg.svdvals((z - z.mean(0)).float())
    p = s / s.sum().clamp_min(1e-12)
    return float(torch.exp(-(p * p.clamp_min(1e-12).log()).sum()))


def simulated_slots(target: Tensor, hashes: Tensor, retrieved: int, generator: torch.Generator | None
                    ) -> tuple[Tensor, Tensor]:
    """Stand-ins for HopRAG hits while training: K latents of *other* targets in the batch, and,
    with probability 1/2 per row, the true target (slightly noised) at a random slot, so the
    predictor learns to pick the retrieved latent that agrees with the context. -> (N, K, L), mask."""
    N, L = target.shape
    if retrieved == 0 or N < 2:
        return target.new_zeros(N, 0, L), torch.zeros(N, 0, dtype=torch.bool, device=target.device)
    dev = target.device
    idx = torch.randint(0, N, (N, retrieved), generator=generator).to(dev)
    slots = target.detach()[idx]  # (N, K, L)
    mask = hashes[idx] != hashes.unsqueeze(1)  # never the true content by accident
    hit = (torch.rand(N, generator=generator) < 0.5).to(dev)
    where = torch.randint(0, retrieved, (N,), generator=generator).to(dev)
    noisy = F.normalize(target.detach() + 0.1 * torch.randn(N, L, generator=generator).to(dev), dim=-1)
    rows = torch.arange(N, device=dev)[hit]
    slots[rows, where[hit]] = noisy[hit]
    mask[rows, where[hit]] = True
    return slots, mask


def simulated_titans(key: Tensor, target: Tensor, generator: torch.Generator | None) -> Tensor:
    """Stand-in read-outs of a test-time memory: a third each of 'empty' (reads back the key),
    'remembers this' (the target, noised) and 'remembers something else' (another row's target)."""
    N, L = target.shape
    dev = target.device
    kind = torch.randint(0, 3, (N,), generator=generator).to(dev)
    noisy = F.normalize(target.detach() + 0.2 * torch.randn(N, L, generator=generator).to(dev), dim=-1)
    other = target.detach()[torch.randint(0, N, (N,), generator=generator).to(dev)]
    out = torch.where((kind == 0).unsqueeze(1), key.detach(), noisy)
    return torch.where((kind == 2).unsqueeze(1), other, out)


def difficulty_rank(per_seq_loss: Tensor) -> Tensor:
    """(B,) token losses -> (B,) their rank in the batch scaled to [0, 1] (0 = easiest).

    A rank rather than loss / mean: the target spreads over [0, 1], so `skip_threshold` (0.35) means
    'about the easiest third' instead of sitting below every prediction (loss / 2·mean hovers at 0.5)."""
    if per_seq_loss.numel() < 2:
        return torch.full_like(per_seq_loss, 0.5)
    ranks = per_seq_loss.argsort().argsort().to(per_seq_loss.dtype)
    return ranks / (per_seq_loss.numel() - 1)


# -- the step's losses -----------------------------------------------------------------------------


def compute_losses(model: UltraEfficientTextJEPA, batch: JepaBatch, *, jepa_weight: float = 1.0,
                   cosine_weight: float = 0.5, eau_weight: float = 0.1, skip: bool | None = None,
                   generator: torch.Generator | None = None) -> Losses:
    """Token loss + JEPA (two-way InfoNCE + cosine) + EAU regression for one batch."""
    out = model.trunk(batch.tokens, skip=skip)  # 1. online trunk over the sequences
    tok, per_seq = head_token_loss(model, out.hidden, batch.tokens, batch.loss_mask)

    valid = batch.cursor_index >= 0  # (B, M)
    b_idx, m_idx = valid.nonzero(as_tuple=True)  # (N,), (N,)
    metrics: dict[str, float] = {"skipped": float(out.skipped)}
    zero = tok.new_zeros(())
    jepa = cosine = zero
    if len(b_idx) >= 2:
        h = out.hidden[b_idx, batch.cursor_index[b_idx, m_idx]]  # (N, D) cursor states
        with torch.no_grad():  # 2. targets from the slow encoder's trunk (pooler is trained)
            tgt_hidden = model.target_trunk(batch.target_tokens[b_idx, m_idx], skip=False).hidden
        target = model.pooler(tgt_hidden, batch.target_mask[b_idx, m_idx])  # (N, L)
        hashes = batch.target_hash[b_idx, m_idx]
        retrieved, r_mask = simulated_slots(target, hashes, model.config.retrieved_latents, generator)
        key = model.predict(h, retrieved, r_mask)  # 3. memory-free prediction = the Titans key
        titans = simulated_titans(key, target, generator) if model.titans is not None else None
        pred = model.predict(h, retrieved, r_mask, titans) if titans is not None else key
        nce, acc = info_nce(pred, target, hashes)
        nce_key, _ = info_nce(key, target, hashes)
        jepa = 0.5 * (nce + nce_key)
        cosine = (1.0 - (pred * target).sum(-1)).mean()
        metrics.update(jepa_acc=float(acc), emb_std=float(target.detach().std(0).mean()),
                       eff_rank=effective_rank(target.detach()))

    eau = zero
    if out.complexity is not None:  # 4. EAU: predict how hard the sequence is among its batch
        eau = F.mse_loss(out.complexity, difficulty_rank(per_seq.detach()))
        metrics["complexity"] = float(out.complexity.detach().mean())

    total = tok + jepa_weight * jepa + cosine_weight * cosine + eau_weight * eau
    metrics["ppl"] = math.exp(min(float(tok.detach()), 20.0))
    return Losses(total, tok, jepa, cosine, eau, metrics)
