"""One training row (a sequence with its JEPA targets) and the collate function that pads rows into a
`JepaBatch` — the contract between the data pipeline and `training.objectives.compute_losses`.

Notation: B rows, T tokens, M target slots, S target tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from training.objectives import JepaBatch


@dataclass
class Row:
    """tokens[t] predicts tokens[t + 1] for loss_start <= t < len - 1; target m is predicted from the
    hidden state at cursors[m] (a position before any token of the target's own content)."""

    tokens: list[int]
    loss_start: int = 0
    cursors: list[int] = field(default_factory=list)
    targets: list[list[int]] = field(default_factory=list)
    """Each target encoded alone, marker first (<|line|> or <|span|>)."""
    hashes: list[int] = field(default_factory=list)
    """Hash of each target's stripped text: equal hashes are never each other's negatives."""

    def __post_init__(self) -> None:
        if not (len(self.cursors) == len(self.targets) == len(self.hashes)):
            raise ValueError("cursors, targets and hashes must have one entry per target")
        if any(not 0 <= c < len(self.tokens) for c in self.cursors):
            raise ValueError(f"cursor outside the row (length {len(self.tokens)}): {self.cursors}")


def collate(rows: list[Row], pad_id: int) -> JepaBatch:
    """Pad rows to the longest: tokens (B, T), slots (B, M), targets (B, M, S); empty slots get cursor -1."""
    B = len(rows)
    T = max(len(r.tokens) for r in rows)
    M = max(1, max(len(r.cursors) for r in rows))
    S = max(1, max((len(t) for r in rows for t in r.targets), default=1))
    tokens = torch.full((B, T), pad_id, dtype=torch.long)
    loss_mask = torch.zeros(B, T, dtype=torch.bool)
    cursor = torch.full((B, M), -1, dtype=torch.long)
    target_tokens = torch.full((B, M, S), pad_id, dtype=torch.long)
    target_mask = torch.zeros(B, M, S, dtype=torch.bool)
    target_hash = torch.zeros(B, M, dtype=torch.long)
    for b, row in enumerate(rows):
        n = len(row.tokens)
        tokens[b, :n] = torch.tensor(row.tokens, dtype=torch.long)
        loss_mask[b, row.loss_start : n - 1] = True
        for m, (c, target, h) in enumerate(zip(row.cursors, row.targets, row.hashes, strict=True)):
            cursor[b, m] = c
            target_tokens[b, m, : len(target)] = torch.tensor(target, dtype=torch.long)
            target_mask[b, m, : len(target)] = True
            target_hash[b, m] = h
    return JepaBatch(tokens, loss_mask, cursor, target_tokens, target_mask, target_hash)
