"""Wire models of Shutka's own memory endpoints: `/v1/titans/*` and `/v1/bank/stats`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from assistant.api.schemas.common import WireRequest, WireResponse
from assistant.types import BankStats

MAX_PATH_CHARS = 4096
"""Longest `path` accepted (Linux's PATH_MAX)."""


class TitansSave(WireRequest):
    path: str | None = Field(None, max_length=MAX_PATH_CHARS)
    """Where to write; relative paths are taken inside the workspace's `.shutka/titans/`, and the file
    must stay inside it (Shutka never writes to the user's files). Default: the workspace's own Titans
    file, which is also what is loaded at start-up."""


class TitansLoad(WireRequest):
    path: str | None = Field(None, min_length=1, max_length=MAX_PATH_CHARS)
    """A file written by `titans/save`, inside the workspace's `.shutka/titans/` (relative paths are taken
    there). Default: the workspace's own Titans file (what `titans/save` without a path writes)."""


class TitansFile(WireResponse):
    path: str
    """Absolute path of the file written or read."""
    episodes: int
    """Episodes in the memory's store afterwards."""


class TitansForgotten(WireResponse):
    forgotten: int
    """Episodes dropped (the least accessed first)."""
    episodes: int
    """Episodes left."""


class SurpriseBin(WireResponse):
    low: float
    high: float
    count: int


class EpisodeOut(WireResponse):
    id: int
    file: str | None
    text: str
    surprise: float
    access: int


class TitansStatsOut(WireResponse):
    episodes: int
    capacity: int
    writes: int
    """Associations written to the memory so far (surprise-gated)."""
    surprise_histogram: list[SurpriseBin]
    most_accessed: list[EpisodeOut]
    least_accessed: list[EpisodeOut]

    @classmethod
    def from_domain(cls, stats: Any) -> TitansStatsOut:
        """From the facade's `titans_stats()`."""
        def episodes(items: Sequence[Any]) -> list[EpisodeOut]:
            return [EpisodeOut(id=e.id, file=e.file, text=e.text, surprise=e.surprise, access=e.access)
                    for e in items]
        return cls(episodes=stats.episodes, capacity=stats.capacity, writes=stats.writes,
                   surprise_histogram=[SurpriseBin(low=lo, high=hi, count=c) for lo, hi, c in stats.surprise_histogram],
                   most_accessed=episodes(stats.most_accessed), least_accessed=episodes(stats.least_accessed))


class BankStatsOut(WireResponse):
    entries: int
    by_kind: dict[str, int]
    by_section: dict[str, int]
    files: int
    generation: int
    """Vector generation on disk (bumped by compaction)."""
    bytes_on_disk: int
    memory_bytes: int
    """Vectors held in RAM (a memory-mapped generation counts only its delta)."""
    mmapped: bool
    model_digest: str | None
    delta: int
    tombstones: int
    index_type: str

    @classmethod
    def from_domain(cls, stats: BankStats) -> BankStatsOut:
        return cls.model_validate(stats.to_json())
