"""Line-completion tasks (the bench's JSONL format) and the package corpora they come from."""

from __future__ import annotations

import json
import os
from pathlib import Path

from assistant.selfsup import Task
from indexer.errors import ShutkaError

SOURCE_SUFFIXES = (".ts", ".tsx", ".mts", ".cts")
DECLARATION_SUFFIXES = (".d.ts", ".d.mts", ".d.cts")
MANIFEST = ".corpus.json"
__all__ = ["Task", "load_tasks", "package_folders", "read_text", "source_files", "tasks_by_package"]


def load_tasks(path: str | os.PathLike[str], limit: int | None = None) -> list[Task]:
    p = Path(path)
    if not p.is_file():
        raise ShutkaError(f"tasks file not found: {p}")
    tasks = []
    with p.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
                tasks.append(Task(row["id"], row["package"], row["file"], int(row["line_no"]), row["prefix"],
                                  row["cursor_prefix"], row["target"], row.get("suffix", "")))
            except (ValueError, KeyError) as exc:
                raise ShutkaError(f"{p}:{n}: not a line-completion task ({exc})") from exc
            if limit and len(tasks) >= limit:
                break
    return tasks


def tasks_by_package(tasks_path: Path, corpus: Path, packages: str | None
                     ) -> tuple[dict[str, Path], dict[str, list[Task]], list[str]]:
    """The tasks of a JSONL file grouped by package, and the packages wanted (`packages`: comma-separated,
    default all in the file). -> (package folders, tasks by package, wanted); a wanted package missing from
    the corpus or the file is an error naming it."""
    folders = package_folders(corpus)
    grouped: dict[str, list[Task]] = {}
    for t in load_tasks(tasks_path):
        grouped.setdefault(t.package, []).append(t)
    wanted = [p.strip() for p in packages.split(",")] if packages else sorted(grouped)
    missing = [p for p in wanted if p not in folders or p not in grouped]
    if missing:
        raise ShutkaError(f"packages not in {corpus} or not in {tasks_path}: {', '.join(missing)}")
    return folders, grouped, wanted


def package_folders(corpus: str | os.PathLike[str]) -> dict[str, Path]:
    """npm package name -> its folder (name from the folder's .corpus.json manifest if any)."""
    root = Path(corpus)
    if not root.is_dir():
        raise ShutkaError(f"corpus folder not found: {root}")
    out = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        name = d.name
        manifest = d / MANIFEST
        if manifest.is_file():
            name = json.loads(manifest.read_text(encoding="utf-8")).get("name", name)
        out[name] = d
    return out


def source_files(package_dir: Path) -> list[str]:
    """Relative paths of the package's TypeScript sources (declarations and node_modules excluded)."""
    files = []
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "node_modules" and not d.startswith("."))
        for name in filenames:
            if name.endswith(SOURCE_SUFFIXES) and not name.endswith(DECLARATION_SUFFIXES):
                files.append(Path(dirpath, name).relative_to(package_dir).as_posix())
    return sorted(files)


def read_text(path: Path) -> str:
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        return fh.read()
