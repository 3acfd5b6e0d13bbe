"""The three things the suites ask of a model: complete a line greedily, predict the latent of the code
an instruction asks for (predict-from-cursor at `<|code|>`), and encode code with the target encoder.

Notation: N items, T tokens, D width, L latent width.
"""

from __future__ import annotations

import torch
from torch import Tensor

from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.tokenizer import TypeScriptTokenizer

ENCODE_BATCH = 32


def context_ids(tokenizer: TypeScriptTokenizer, path: str, prefix: str, budget: int) -> list[int]:
    """`<|file|>path\\n` + the prefix, cut from the left (after the header) to `budget` tokens."""
    header = [tokenizer.file_id, *tokenizer.encode(f"{path}\n")]
    body = tokenizer.encode(prefix)
    keep = max(1, budget - len(header))
    return header + body[-keep:]


@torch.no_grad()
def complete_line(model: UltraEfficientTextJEPA, tokenizer: TypeScriptTokenizer, path: str, before: str,
                  typed: str = "", max_new_tokens: int = 24) -> str:
    """Greedy completion of the line after `before` (the file up to the end of the previous line, without
    its newline) whose first characters `typed` the user already wrote -> the whole line, no newline.

    With nothing typed the context stops before the newline, so the model writes the newline and the
    indentation itself, the way it saw them in training (a newline token usually carries the indentation)."""
    context = before if not typed else f"{before}\n{typed}"
    ids = context_ids(tokenizer, path, context, model.config.max_seq_len - max_new_tokens)
    ctx = model.run_context(ids, skip=False)
    tokens, _ = model.generate(ctx, max_new_tokens, stop=frozenset({tokenizer.eos_id, tokenizer.file_id}))
    text = tokenizer.decode(tokens)
    if typed:
        return typed + text.split("\n", 1)[0]
    if "\n" not in text:
        return ""  # the model kept writing the previous line
    return text.split("\n", 2)[1]


def _padded(rows: list[list[int]], pad: int) -> tuple[Tensor, Tensor]:
    T = max(len(r) for r in rows)
    ids = torch.full((len(rows), T), pad, dtype=torch.long)
    mask = torch.zeros(len(rows), T, dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, : len(r)] = True
    return ids, mask


@torch.no_grad()
def instruction_latents(model: UltraEfficientTextJEPA, tokenizer: TypeScriptTokenizer, instructions: list[str],
                        max_instruction_tokens: int = 96) -> Tensor:
    """(N, L): `<|instruction|> text <|code|>` → hidden state at `<|code|>` → JEPA predictor (no memory)."""
    out = []
    for start in range(0, len(instructions), ENCODE_BATCH):
        rows = [[tokenizer.instruction_id, *tokenizer.encode(t)[:max_instruction_tokens], tokenizer.code_id]
                for t in instructions[start : start + ENCODE_BATCH]]
        ids, mask = _padded(rows, tokenizer.pad_id)  # right padding: causal, so it never reaches a cursor
        hidden = model.trunk(ids, skip=False).hidden  # (N, T, D)
        last = mask.sum(1) - 1
        out.append(model.predict(hidden[torch.arange(len(rows)), last]))  # (N, L)
    return torch.cat(out)


@torch.no_grad()
def code_latents(model: UltraEfficientTextJEPA, tokenizer: TypeScriptTokenizer, codes: list[str],
                 max_target_tokens: int = 32) -> Tensor:
    """(N, L): `<|span|>` + code (cut as in training) through the target encoder."""
    out = []
    for start in range(0, len(codes), ENCODE_BATCH):
        rows = [[tokenizer.span_id, *tokenizer.encode(c.strip())][:max_target_tokens]
                for c in codes[start : start + ENCODE_BATCH]]
        ids, mask = _padded(rows, tokenizer.pad_id)
        out.append(model.encode_spans(ids, mask))
    return torch.cat(out)


def retrieval_metrics(queries: Tensor, keys: Tensor) -> dict[str, float]:
    """Query i's answer is key i: MRR@10, recall@1, recall@5, and MRR@10 of random ranking for scale."""
    n = len(queries)
    sims = queries @ keys.t()  # (N, N)
    gold = sims.diagonal().unsqueeze(1)
    rank = (sims > gold).sum(1) + 1  # 1 = best; ties count in the query's favour
    mrr = torch.where(rank <= 10, 1.0 / rank.float(), torch.zeros(n)).mean()
    chance = sum(1.0 / r for r in range(1, min(10, n) + 1)) / n
    return {"mrr@10": float(mrr), "recall@1": float((rank == 1).float().mean()),
            "recall@5": float((rank <= 5).float().mean()), "mrr@10_random": chance, "candidates": n}
