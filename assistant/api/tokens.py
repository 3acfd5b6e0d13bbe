"""Token counting and the two ways an answer is cut short: a stop sequence or `max_tokens`.

Counts use the checkpoint's own tokenizer, so `usage` and `max_tokens` mean the model's tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

FinishReason = Literal["stop", "length"]


class Tokenizer(Protocol):
    """What the API needs of the model's tokenizer."""

    def encode(self, text: str) -> list[int]: ...

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]: ...


def count_tokens(tokenizer: Tokenizer, text: str) -> int:
    return len(tokenizer.encode(text)) if text else 0


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """`text` up to (not including) the earliest stop sequence. -> (text, stopped)."""
    cut = min((i for s in stops if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def cut_at_tokens(tokenizer: Tokenizer, text: str, max_tokens: int | None) -> tuple[str, int, bool]:
    """The first `max_tokens` tokens of `text`, cut at a token boundary of the original string.
    -> (text, tokens kept, truncated)."""
    ids, offsets = tokenizer.encode_with_offsets(text) if text else ([], [])
    if max_tokens is None or len(ids) <= max_tokens:
        return text, len(ids), False
    end = offsets[max_tokens - 1][1] if max_tokens > 0 else 0
    return text[:end], max_tokens, True


def finish(tokenizer: Tokenizer, text: str, stops: Sequence[str],
           max_tokens: int | None) -> tuple[str, int, FinishReason]:
    """Apply the stop sequences, then the token budget. -> (text, completion tokens, finish_reason):
    "length" when the budget cut the text, else "stop" (a stop sequence, or the engine's natural end)."""
    text, _ = cut_at_stop(text, stops)
    text, used, truncated = cut_at_tokens(tokenizer, text, max_tokens)
    return text, used, "length" if truncated else "stop"
