"""`/v1/titans/*`: save, load, forget and inspect the workspace's Titans memory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Query

from assistant.api.deps import AssistantDep, RuntimeDep
from assistant.api.errors import APIError
from assistant.api.schemas import TitansFile, TitansForgotten, TitansLoad, TitansSave, TitansStatsOut

router = APIRouter(prefix="/v1/titans", tags=["titans"])

TITANS_DIR = "titans"
"""Under the workspace's `.shutka/`: where relative paths point and the only place saves may write."""


@router.post("/save", response_model=TitansFile)
def save(assistant: AssistantDep, runtime: RuntimeDep,
         body: Annotated[TitansSave | None, Body()] = None) -> TitansFile:
    """Write the memory (weights, momentum, episodic store; safetensors) to `path`, by default the
    workspace's own file. Saves stay inside `.shutka/titans/`: Shutka never writes to the user's files."""
    target = _resolve(runtime.workspace.state_dir, body.path, writing=True) if body and body.path else None
    try:
        path = assistant.titans_save(str(target) if target else None)
    except OSError as exc:
        raise APIError(400, f"cannot write {target}: {exc.strerror or exc}", param="path", code="invalid_path") from exc
    return TitansFile(path=str(path), episodes=assistant.titans_stats().episodes)


@router.post("/load", response_model=TitansFile)
def load(body: TitansLoad, assistant: AssistantDep, runtime: RuntimeDep) -> TitansFile:
    """Replace the memory with a saved one; its episodes unknown to this workspace are dropped."""
    path = _resolve(runtime.workspace.state_dir, body.path, writing=False)
    assistant.titans_load(str(path))
    return TitansFile(path=str(path), episodes=assistant.titans_stats().episodes)


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


def _resolve(state_dir: Path, raw: str, *, writing: bool) -> Path:
    """`raw` made absolute (relative paths are inside `.shutka/titans/`); a save must stay inside it."""
    if "\x00" in raw:
        raise APIError(400, "path must not contain NUL characters", param="path", code="invalid_path")
    base = state_dir / TITANS_DIR
    path = Path(os.path.realpath(base / raw))
    if writing:
        root = Path(os.path.realpath(base))
        if not path.is_relative_to(root) or path == root:
            raise APIError(400, f"titans/save writes only inside {root}; pass a file name or a path below it "
                                "(Shutka never writes to the user's files).", param="path", code="invalid_path")
        if path.is_dir():
            raise APIError(400, f"{path} is a directory; pass a file name", param="path", code="invalid_path")
    elif not path.is_file():  # also keeps devices and pipes (/dev/zero, a FIFO) away from the loader
        raise APIError(400, f"{path} is not a file written by titans/save", param="path", code="invalid_path")
    return path
