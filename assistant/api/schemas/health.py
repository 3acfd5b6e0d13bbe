"""`GET /health` wire model."""

from __future__ import annotations

from typing import Literal

from assistant.api.schemas.common import WireResponse
from assistant.types import Status


class Health(WireResponse):
    status: Literal["ok", "indexing"]
    """`indexing` until the first index of the workspace is committed (completions already work)."""
    ready: bool
    """The first index is done."""
    model_loaded: bool
    model: str
    """The served model id."""
    checkpoint: str
    model_digest: str
    index_generation: int
    """Catalog generation: bumped by every committed sync."""
    bank_entries: int
    bank_generation: int
    files: int
    titans_episodes: int
    indexing: bool
    """A sync is running right now."""
    uptime_s: float

    @classmethod
    def from_domain(cls, status: Status, *, ready: bool, model: str, uptime_s: float) -> Health:
        return cls(status="ok" if ready else "indexing", ready=ready, model_loaded=True, model=model,
                   checkpoint=status.model, model_digest=status.model_digest,
                   index_generation=status.catalog_generation, bank_entries=status.bank.entries,
                   bank_generation=status.bank.generation, files=status.files,
                   titans_episodes=status.titans_episodes, indexing=status.indexing, uptime_s=round(uptime_s, 3))
