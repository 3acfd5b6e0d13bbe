"""Line-completion tasks from a package folder on disk (the sampler lives in assistant.selfsup)."""

from __future__ import annotations

from pathlib import Path

from assistant.selfsup import Task, tasks_from_texts
from training.completion_eval.tasks import read_text, source_files


def make_tasks(package_dir: Path, package: str, files_per_package: int = 20, lines_per_file: int = 5,
               seed: int = 0, max_files_per_dir: int = 3, exclude: frozenset[str] = frozenset(),
               include_tests: bool = False) -> list[Task]:
    """Tasks from one package folder; files in `exclude` are never targeted (they stay context)."""
    files = ((rel, read_text(package_dir / rel)) for rel in source_files(package_dir) if rel not in exclude)
    return tasks_from_texts(files, package, files_per_package, lines_per_file, seed, max_files_per_dir,
                            include_tests)
