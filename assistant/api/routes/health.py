"""`GET /health`: liveness and readiness, without an API key."""

from __future__ import annotations

import time

from fastapi import APIRouter

from assistant.api.deps import StateDep
from assistant.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(state: StateDep) -> Health:
    """Answers as soon as the model is loaded; `ready` turns true once the first index is committed
    (completions work before, from what is indexed so far)."""
    runtime = state.runtime
    return Health.from_domain(runtime.assistant.status(), ready=runtime.ready.is_set(),
                              model=state.config.model_id, uptime_s=time.monotonic() - state.started)
