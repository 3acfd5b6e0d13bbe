"""Hashes that are the same in every process and on every machine (splits, shuffles, de-duplication)."""

from __future__ import annotations

import hashlib


def stable_hash(text: str, salt: str = "") -> int:
    """A signed 64-bit hash of `text`, the same in every process and on every machine."""
    digest = hashlib.blake2b(f"{salt}\x00{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def unit_hash(text: str, salt: str) -> float:
    """`text` hashed to [0, 1)."""
    return (stable_hash(text, salt) + 2**63) / 2**64
