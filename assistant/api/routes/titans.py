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
MAX_DEPTH = 8
"""Folders a path may nest below `.shutka/titans/`."""


@router.post("/save", response_model=TitansFile)
def save(assistant: AssistantDep, runtime: RuntimeDep,
         body: Annotated[TitansSave | None, Body()] = None) -> TitansFile:
    """Write the memory (weights, momentum, episodic store; safetensors) to `path`, by default the
    workspace's own file. Saves stay inside `.shutka/titans/`: Shutka never writes to the user's files."""
    target = _resolve(runtime.workspace.state_dir, body.path, writing=True) if body and body.path else None
    try:
        path = assistant.titans_save(str(target) if target else None)
    except OSError as exc:
        raise APIError(400, f"cannot write {_shown(target)}: {exc.strerror or exc}", param="path",
                       code="invalid_path") from exc
    return TitansFile(path=str(path), episodes=assistant.titans_stats().episodes)


@router.post("/load", response_model=TitansFile)
def load(assistant: AssistantDep, runtime: RuntimeDep,
         body: Annotated[TitansLoad | None, Body()] = None) -> TitansFile:
    """Replace the memory with a saved one, by default the workspace's own file (what `titans/save`
    without a path writes); its episodes unknown to this workspace are dropped. Only files inside
    `.shutka/titans/` are read."""
    source = _resolve(runtime.workspace.state_dir, body.path, writing=False) if body and body.path else None
    try:
        path = assistant.titans_load(str(source) if source else None)
    except OSError as exc:
        raise APIError(400, f"cannot read {_shown(source)}: {exc.strerror or exc}", param="path",
                       code="invalid_path") from exc
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
    """`raw` made absolute (relative paths are inside `.shutka/titans/`), which it must stay inside.

    Anything outside gets the same answer whether or not it exists, so the API tells nobody which files
    this machine holds; only a file inside the folder is checked for being a file."""
    verb = "titans/save writes" if writing else "titans/load reads"
    base = state_dir / TITANS_DIR
    root = Path(os.path.realpath(base))
    outside = APIError(400, f"{verb} only inside {root}: pass a file name or a path below it (Shutka never "
                            "touches files elsewhere).", param="path", code="invalid_path")
    if "\x00" in raw:
        raise APIError(400, "path must not contain NUL characters", param="path", code="invalid_path")
    try:
        path = Path(os.path.realpath(base / raw))
        if not path.is_relative_to(root) or path == root:
            raise outside
        if len(path.relative_to(root).parts) > MAX_DEPTH + 1:
            raise APIError(400, f"path {_shown(raw)} nests more than {MAX_DEPTH} folders below {root}", param="path",
                           code="invalid_path")
        if writing and path.is_dir():
            raise APIError(400, f"{path} is a directory; pass a file name", param="path", code="invalid_path")
        if not writing and not path.is_file():  # also keeps devices and pipes away from the loader
            raise APIError(400, f"{path} is not a file written by titans/save", param="path", code="invalid_path")
    except OSError as exc:  # a name too long for the file system, a loop of links, ...
        raise APIError(400, f"path {_shown(raw)} is not usable here: {exc.strerror or exc}", param="path",
                       code="invalid_path") from None
    return path


def _shown(path: object, limit: int = 120) -> str:
    """A path for a message, cut short when it is long."""
    text = str(path)
    return repr(text if len(text) <= limit else text[:limit] + "…")
