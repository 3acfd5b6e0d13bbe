"""Latents of candidate lines: from an LRU cache, the bank (by content hash), or encoded on the spot."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from assistant.memory.bank import MemoryBank
from assistant.memory.entry_encoding import LatentEncoder
from assistant.memory.sync_hooks import LINE_HASH_PREFIX

LATENT_CACHE = 4096


class LineLatents:
    def __init__(self, bank: MemoryBank, encoder: LatentEncoder) -> None:
        self.bank, self.encoder = bank, encoder
        self._latents: OrderedDict[str, np.ndarray] = OrderedDict()
        self._latents_lock = threading.Lock()

    def get(self, lines: list[str]) -> dict[str, np.ndarray]:
        """Latents of stripped lines: from the LRU cache, the bank (by content hash), or encoded now."""
        out: dict[str, np.ndarray] = {}
        missing: list[str] = []
        with self._latents_lock:
            for line in lines:
                v = self._latents.get(line)
                if v is not None:
                    out[line] = v
                else:
                    missing.append(line)
        if not missing:
            return out
        hashes = {LINE_HASH_PREFIX + hashlib.sha256(line.encode("utf-8")).hexdigest(): line for line in missing}
        found = self.bank.find_by_hash(hashes) if len(self.bank) else {}
        if found:
            ids = list(found.values())
            for h, v in zip(found, self.bank.vectors(ids), strict=True):
                out[hashes[h]] = v
        rest = [line for line in missing if line not in out]
        if rest:
            for line, v in zip(rest, self.encoder.encode_lines(rest), strict=True):
                out[line] = v
        with self._latents_lock:
            for line in missing:
                self._latents[line] = out[line]
            while len(self._latents) > LATENT_CACHE:
                self._latents.popitem(last=False)
        return out

