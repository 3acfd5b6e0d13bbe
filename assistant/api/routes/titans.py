"""`/v1/titans/*`: save, load, forget and inspect the workspace's Titans memory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Query

from assistant.api.deps import AssistantDep
from assistant.api.errors import APIError
from assistant.api.schemas import TitansFile, TitansForgotten, TitansLoad, TitansSave, TitansStatsOut
from assistant.service import Assistant

router = APIRouter(prefix="/v1/titans", tags=["titans"])


def _titans_file(assistant: Assistant, move: Callable[[str | None], Path], path: str | None,
                 verb: str) -> TitansFile:
    """Save or load (`move`) the memory at `path` (None: the workspace's own file); an OS error is a 400
    naming the path."""
    try:
        done = move(path)
    except OSError as exc:
        raise APIError(400, f"cannot {verb} {path!r}: {exc.strerror or exc}", param="path",
                       code="invalid_path") from exc
    return TitansFile(path=str(done), episodes=assistant.titans_stats().episodes)


@router.post("/save", response_model=TitansFile)
def save(assistant: AssistantDep,
         body: Annotated[TitansSave | None, Body()] = None) -> TitansFile:
    """Write the memory (weights, momentum, episodic store; safetensors) to `path`, by default the
    workspace's own file. Saves stay inside `.shutka/titans/`: Shutka never writes to the user's files."""
    return _titans_file(assistant, assistant.titans_save, body.path if body and body.path else None, "write")


@router.post("/load", response_model=TitansFile)
def load(assistant: AssistantDep,
         body: Annotated[TitansLoad | None, Body()] = None) -> TitansFile:
    """Replace the memory with a saved one, by default the workspace's own file (what `titans/save`
    without a path writes); its episodes unknown to this workspace are dropped. Only files inside
    `.shutka/titans/` are read."""
    return _titans_file(assistant, assistant.titans_load, body.path if body and body.path else None, "read")


@router.post("/forget", response_model=TitansForgotten)
def forget(n: Annotated[int, Query(ge=0, le=1_000_000_000, description="How many episodes to drop.")],
           assistant: AssistantDep) -> TitansForgotten:
    """Drop the `n` least-accessed episodes (the oldest first among equals)."""
    forgotten = assistant.titans_forget(n)
    return TitansForgotten(forgotten=forgotten, episodes=assistant.titans_stats().episodes)


@router.get("/stats", response_model=TitansStatsOut)
def stats(assistant: AssistantDep) -> TitansStatsOut:
    """Episodes, capacity, writes, the surprise histogram and the most and least accessed episodes."""
    return TitansStatsOut.from_domain(assistant.titans_stats())


