"""Turning text into latents with the target encoder (what fills the memory bank), in batches.

Lines are encoded as `<|line|> + stripped line`, definitions as `<|span|> + text` (truncated), so
the bank's vectors live in the space the JEPA predictor was trained to hit. Batches are grouped
by length to waste little on padding. One lock serialises use of the model across threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
import torch

from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.tokenizer import TypeScriptTokenizer

MAX_LINE_TOKENS = 48
MAX_SPAN_TOKENS = 128
BATCH_TOKENS = 4096
"""Padded tokens per encoder batch (bounds memory and keeps batches efficient)."""


class LatentEncoder:
    """Encodes lines and spans with a model's target encoder; `digest` names model + precision."""

    def __init__(self, model: UltraEfficientTextJEPA, tokenizer: TypeScriptTokenizer, digest: str,
                 num_threads: int = 1) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.digest = digest
        self.dim = model.config.latent_dim
        self.num_threads = num_threads
        self.lock = threading.RLock()

    def line_ids(self, text: str) -> list[int]:
        return [self.tokenizer.line_id, *self.tokenizer.encode(text.strip())[: MAX_LINE_TOKENS - 1]]

    def span_ids(self, text: str) -> list[int]:
        return [self.tokenizer.span_id, *self.tokenizer.encode(text)[: MAX_SPAN_TOKENS - 1]]

    def encode_lines(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """(N,) stripped lines -> (N, L) float32 unit vectors."""
        return self.encode_ids([self.line_ids(t) for t in texts], progress)

    def encode_spans(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        return self.encode_ids([self.span_ids(t) for t in texts], progress)

    def encode_entries(self, texts: list[str], kinds: list[str]) -> np.ndarray:
        """Bank entries by kind: `line` entries as lines, everything else as spans (re-encoding)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        lines = [i for i, k in enumerate(kinds) if k == "line"]
        spans = [i for i, k in enumerate(kinds) if k != "line"]
        if lines:
            out[lines] = self.encode_lines([texts[i] for i in lines])
        if spans:
            out[spans] = self.encode_spans([texts[i] for i in spans])
        return out

    def encode_ids(self, seqs: Sequence[list[int]], progress: Callable[[int], None] | None = None) -> np.ndarray:
        out = np.zeros((len(seqs), self.dim), dtype=np.float32)
        if not seqs:
            return out
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        start = 0
        with self.lock, torch.inference_mode():
            torch.set_flush_denormal(True)  # per thread; denormals make CPU element-wise ops ~20x slower
            previous = torch.get_num_threads()
            torch.set_num_threads(self.num_threads)
            try:
                while start < len(order):
                    longest = len(seqs[order[min(len(order) - 1, start)]])
                    size = max(1, BATCH_TOKENS // max(1, longest))
                    # lengths only grow along `order`: take a batch whose last item sets the width
                    end = min(len(order), start + size)
                    while end - start > 1 and len(seqs[order[end - 1]]) * (end - start) > BATCH_TOKENS:
                        end -= 1
                    batch = [seqs[i] for i in order[start:end]]
                    width = max(len(s) for s in batch)
                    ids = torch.full((len(batch), width), self.tokenizer.pad_id, dtype=torch.long)
                    mask = torch.zeros(len(batch), width, dtype=torch.bool)
                    for row, s in enumerate(batch):
                        ids[row, : len(s)] = torch.tensor(s)
                        mask[row, : len(s)] = True
                    latents = self.model.encode_spans(ids, mask).float().numpy()
                    out[order[start:end]] = latents
                    if progress:
                        progress(end - start)
                    start = end
            finally:
                torch.set_num_threads(previous)
        return out
