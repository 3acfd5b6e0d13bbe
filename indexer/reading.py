"""Reading a candidate file safely and deciding whether its bytes are text we index.

A file is opened non-blocking and checked with `fstat` after opening, so a FIFO or device that
replaced a file since discovery can never block or flood us. Bytes become text only when they look
like text: NUL bytes or many control characters mean binary (skipped); invalid UTF-8 that otherwise
looks like text is decoded with replacement characters and a warning.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from indexer.types import Skip

SNIFF_BYTES = 8192
"""How much of a file the binary sniffing looks at."""
MAX_CONTROL_RATIO = 0.10
"""Above this share of control characters (besides tab, newlines, form feed) a file is binary."""
MAX_REPLACEMENT_RATIO = 0.25
"""Invalid UTF-8 is decoded with replacement only while fewer than this share of characters are replaced."""
REASON_VANISHED = "vanished before it could be read"
"""Skip reason for a file deleted between planning and reading: the sync treats it as a delete."""

_ALLOWED_CONTROLS = frozenset(b"\t\n\r\f\v\x1b")


def content_hash(data: bytes | str) -> str:
    """sha256 hex of bytes (or of a str's UTF-8 encoding)."""
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def read_bytes(root: Path, rel: str, max_bytes: int) -> bytes | Skip:
    """The file's bytes, or a Skip saying why it cannot be read (never blocks on FIFOs)."""
    path = root / rel
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return Skip(rel, REASON_VANISHED)
    except OSError as exc:
        return Skip(rel, f"unreadable ({type(exc).__name__}: {exc.strerror or exc})")
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            return Skip(rel, "not a regular file (a directory)")
        if not stat.S_ISREG(st.st_mode):
            return Skip(rel, "not a regular file")
        if st.st_size > max_bytes:
            return Skip(rel, f"too large ({st.st_size} bytes > max_file_bytes {max_bytes})")
        parts: list[bytes] = []
        total = 0
        while True:
            block = os.read(fd, 1 << 16)
            if not block:
                break
            parts.append(block)
            total += len(block)
            if total > max_bytes:
                return Skip(rel, f"too large (more than max_file_bytes {max_bytes})")
        return b"".join(parts)
    except OSError as exc:
        return Skip(rel, f"unreadable ({type(exc).__name__}: {exc.strerror or exc})")
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    warning: str | None = None
    secrets: int = 0
    """Secrets masked in `text` (indexer.secrets); never which."""


def looks_binary(data: bytes) -> str | None:
    """Why `data` is binary (NUL bytes, control characters), or None when it looks like text."""
    head = data[:SNIFF_BYTES]
    if b"\x00" in head:
        return "binary (contains NUL bytes)"
    if head:
        controls = sum(1 for byte in head if (byte < 0x20 and byte not in _ALLOWED_CONTROLS) or byte == 0x7F)
        if controls / len(head) > MAX_CONTROL_RATIO:
            return f"binary ({controls} control characters in the first {len(head)} bytes)"
    return None


def decode(rel: str, data: bytes) -> Decoded | Skip:
    """UTF-8 text of `data` (BOM removed); invalid UTF-8 that looks like text is decoded with
    replacement characters and a warning; binary data is a Skip."""
    binary = looks_binary(data)
    if binary is not None:
        return Skip(rel, binary)
    try:
        return Decoded(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8-sig", errors="replace")
        replaced = text.count("\ufffd")
        if replaced > max(1, int(len(text) * MAX_REPLACEMENT_RATIO)):
            return Skip(rel, f"not UTF-8 text ({replaced} undecodable sequences, first at byte {exc.start})")
        return Decoded(text, f"not valid UTF-8: {replaced} undecodable sequence(s) replaced "
                             f"(first at byte {exc.start}); save the file as UTF-8")


def has_private_key(data: bytes) -> bool:
    """True when the bytes embed a PEM private key (with secret scanning off, such files are never
    indexed; with it on, the key is masked instead)."""
    return b"-----BEGIN" in data and b"PRIVATE KEY-----" in data
