"""Token head use at inference: score candidate continuations in one batched pass, and short generation.

Both run the context once into a KV cache and then only the new tokens.
Notation: N continuations, T context tokens, C continuation tokens, D width, V vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from assistant.model.encoder import Trunk
from assistant.model.layers import KVCache


@dataclass
class ContextState:
    """A context run once: its cache, last hidden state, next-token log-probs and EAU verdict."""

    cache: KVCache
    last_hidden: Tensor  # (D,)
    head: nn.Module = field(repr=False)
    complexity: float | None
    skipped: bool

    @cached_property
    def next_logprobs(self) -> Tensor:
        """(V,), computed on first use: only scoring and generation read it, and the token head's
        projection to the vocabulary was a tenth of extending the context by the cursor's line."""
        with torch.no_grad():
            return F.log_softmax(self.head(self.last_hidden.unsqueeze(0)).float(), dim=-1)[0]


@torch.no_grad()
def run_context(trunk: Trunk, head: nn.Module, ids: Sequence[int], skip: bool | None = None) -> ContextState:
    """Encode `ids` (non-empty) once; the cache can then serve scoring and generation."""
    if not ids:
        raise ValueError("context must hold at least one token")
    cache = KVCache()
    out = trunk(torch.tensor([list(ids)], dtype=torch.long), cache=cache, skip=skip)
    complexity = None if out.complexity is None else float(out.complexity[0])
    return ContextState(cache, out.hidden[0, -1], head, complexity, out.skipped)


@torch.no_grad()
def extend(trunk: Trunk, head: nn.Module, ctx: ContextState, ids: Sequence[int]) -> ContextState:
    """The context followed by `ids` (the cursor's line so far); `ctx` itself is left unchanged."""
    if not ids:
        return ctx
    cache = KVCache(dict(ctx.cache.keys), dict(ctx.cache.values), ctx.cache.length, ctx.cache.skipped)
    out = trunk(torch.tensor([list(ids)], dtype=torch.long), cache=cache)
    return ContextState(cache, out.hidden[0, -1], head, ctx.complexity, ctx.skipped)


@torch.no_grad()
def score_continuations(trunk: Trunk, head: nn.Module, ctx: ContextState,
                        continuations: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
    """Sum of log-probs of each continuation after the context -> (sum (N,), token count (N,)).

    One batched forward over the padded continuations attending to the shared cached context."""
    n = len(continuations)
    if n == 0:
        return torch.zeros(0), torch.zeros(0, dtype=torch.long)
    lengths = torch.tensor([len(c) for c in continuations])
    C = int(lengths.max().clamp_min(1))
    ids = torch.zeros(n, C, dtype=torch.long)
    for i, c in enumerate(continuations):
        if c:
            ids[i, : len(c)] = torch.tensor(list(c))
    valid = torch.arange(C).unsqueeze(0) < lengths.unsqueeze(1)  # (N, C)
    T = ctx.cache.length
    causal = torch.ones(C, C, dtype=torch.bool).tril()
    mask = torch.cat([torch.ones(n, C, T, dtype=torch.bool),
                      causal.unsqueeze(0) & valid.unsqueeze(1)], dim=2)  # (N, C, T + C)
    mask |= ~valid.unsqueeze(2)  # padded queries attend anywhere (ignored), avoids empty rows
    cache = ctx.cache.continued()
    out = trunk(ids, cache=cache, attn_mask=mask.unsqueeze(1))  # hidden (N, C, D)
    first = ctx.next_logprobs[ids[:, 0]]  # (N,)
    if C > 1:
        logprobs = F.log_softmax(head(out.hidden[:, :-1]).float(), dim=-1)  # (N, C-1, V)
        rest = logprobs.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1) * valid[:, 1:]  # (N, C-1)
        total = first + rest.sum(-1)
    else:
        total = first
    total = torch.where(lengths > 0, total, torch.zeros_like(total))
    return total, lengths


Healer = Callable[[str], Sequence[tuple[int, int]]]
"""The text a continuation must start with -> the tokens that agree with it: (token id, characters of
that text the token covers: all of its text, or all of the required text when the token runs past it)."""


@torch.no_grad()
def generate(trunk: Trunk, head: nn.Module, ctx: ContextState, max_new_tokens: int,
             stop: frozenset[int] = frozenset(), must_start: str = "", healer: Healer | None = None
             ) -> tuple[list[int], float]:
    """Greedy continuation from the cached context -> (tokens, mean log-prob). Stops at a stop id.

    With `must_start` (and a `healer`), the tokens first spell that text (the partial word the cursor is
    in, re-read from before it): each step takes the likeliest token that agrees with what is left of
    it, so the word is finished as one token would, not continued after a broken one. Those steps do
    not count against `max_new_tokens`; nothing agrees -> no tokens. The context's cache is shared, not
    changed, so `ctx` can be reused afterwards."""
    cache = ctx.cache.continued()
    logprobs = ctx.next_logprobs
    tokens: list[int] = []
    total = 0.0
    need = must_start if healer is not None else ""
    free = 0
    while free < max_new_tokens:
        if need:
            agree = healer(need)  # type: ignore[misc]
            if not agree:
                return [], 0.0
            token, covered = max(agree, key=lambda tc: float(logprobs[tc[0]]))
            need = need[covered:]
        else:
            token = int(torch.argmax(logprobs))
            if token in stop:
                break
            free += 1
        tokens.append(token)
        total += float(logprobs[token])
        out = trunk(torch.tensor([[token]]), cache=cache)
        logprobs = F.log_softmax(head(out.hidden[0, -1:]).float(), dim=-1)[0]
    return tokens, total / max(1, len(tokens))
