"""Value types of the memory bank: what goes in (`EntryMeta`), what comes out (`Entry`, `ScoredEntry`, `StorageStats`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

Section = Literal["workspace", "library"]
"""`workspace`: the user's code; `library`: read-only `.d.ts` APIs of the workspace's dependencies."""

SECTIONS: tuple[Section, ...] = ("workspace", "library")

LINE_KIND = "line"
"""Kind of completion candidates (lines and statements); chunk kinds name definitions
(`function`, `class`, `method`, `interface`, ...)."""


def content_hash(text: str) -> str:
    """Hex sha256 of `text` (UTF-8): the default content hash, so unchanged content finds its vector."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class EntryMeta:
    """Metadata stored beside a vector; every field has a default so `add_memory(vectors, texts)` works.

    `content_hash` None means sha256 of the entry's text. Lines are 1-based and inclusive.
    """

    kind: str = LINE_KIND
    section: Section = "workspace"
    file: str | None = None
    start_line: int | None = None
    end_line: int | None = None
    symbol: str | None = None
    content_hash: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored memory: its id (int64, never reused), text and metadata."""

    id: int
    text: str
    kind: str
    section: Section
    file: str | None
    start_line: int | None
    end_line: int | None
    symbol: str | None
    content_hash: str
    added_at: float
    """Unix time of the commit that added it (a rename keeps it)."""

    @property
    def meta(self) -> EntryMeta:
        """The metadata as `add_memory` takes it, e.g. to copy an entry with a new vector."""
        return EntryMeta(self.kind, self.section, self.file, self.start_line, self.end_line,
                         self.symbol, self.content_hash)


@dataclass(frozen=True, slots=True)
class ScoredEntry:
    """A search result: cosine similarity `score` in [-1, 1] (vectors are stored normalised)."""

    id: int
    score: float
    entry: Entry

    @property
    def text(self) -> str:
        """The entry's text."""
        return self.entry.text

    @property
    def kind(self) -> str:
        """The entry's kind (`line` or a chunk kind)."""
        return self.entry.kind

    @property
    def file(self) -> str | None:
        """The entry's file, relative to the workspace root."""
        return self.entry.file


@dataclass(frozen=True, slots=True)
class StorageStats:
    """What `MemoryBank.stats()` reports (the TUI and `/health` show it)."""

    entries: int
    by_kind: dict[str, int]
    by_section: dict[str, int]
    dim: int
    generation: int
    """Number of the FAISS generation file in use (0: none written yet)."""
    generation_vectors: int
    """Vectors in the generation file, tombstoned ones included."""
    delta: int
    """Vectors added since the generation (stored in SQLite)."""
    tombstones: int
    """Generation vectors deleted since the generation."""
    index_type: str
    """`flat`, `ivf`, or `none` before the first generation."""
    mmapped: bool
    """The generation is memory-mapped rather than read into RAM."""
    index_bytes: int
    """Size of the generation file(s) on disk."""
    model_digest: str | None
    """Digest of the model that encoded the vectors (None: not recorded)."""
    version: int
    """Commit counter; readers compare it to know when to refresh."""
    files: int
    """Distinct files with entries."""
