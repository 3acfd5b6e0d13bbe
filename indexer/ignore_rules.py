"""A workspace's ignore patterns (`default_excludes`, `exclude`, every `.gitignore` and `.shutkaignore`),
last match wins, loaded lazily per folder; see rule 3 of indexer.discovery."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pathspec

from indexer.config import IndexerConfig

log = logging.getLogger("indexer.discovery")  # its skip reasons are the walk's
HARD_EXCLUDES = (".shutka", ".git")
"""Folder names never entered, whatever `default_excludes` says (our state; git's object store)."""
IGNORE_FILES = (".gitignore", ".shutkaignore")


@dataclass(frozen=True, slots=True)
class _Spec:
    source: str
    """Where the patterns came from, for skip reasons: `.gitignore`, `src/.shutkaignore`, `config exclude`."""
    base: str
    """Folder the patterns are relative to ('' for the root)."""
    spec: pathspec.GitIgnoreSpec


class IgnoreRules:
    """Ignore patterns of one workspace, loaded lazily per folder and reloaded when an ignore file changes.

    Within one walk (between `refresh()` calls) each folder's ignore files are looked at once. Used by
    one thread at a time (the Indexer plans under its writer lock)."""

    def __init__(self, root: Path, config: IndexerConfig) -> None:
        self.root = root
        self.config = config
        self._base = [
            _Spec("default exclude", "", pathspec.GitIgnoreSpec.from_lines(config.default_excludes)),
            _Spec("config exclude", "", pathspec.GitIgnoreSpec.from_lines(config.exclude)),
        ]
        self._cache: dict[tuple[str, str], tuple[tuple[int, int] | None, _Spec | None]] = {}
        self._folder_specs: dict[str, list[_Spec]] = {}

    def refresh(self) -> None:
        """Look at the ignore files on disk again (call before each walk or plan)."""
        self._folder_specs.clear()

    def _load(self, folder: str, name: str) -> _Spec | None:
        path = self.root / folder / name
        try:
            st = path.stat()
            key: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        cached = self._cache.get((folder, name))
        if cached is not None and cached[0] == key:
            return cached[1]
        spec: _Spec | None = None
        if key is not None:
            try:
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
                source = f"{folder}/{name}" if folder else name
                spec = _Spec(source, folder, pathspec.GitIgnoreSpec.from_lines(lines))
            except OSError as exc:
                log.warning("cannot read %s (%s): its patterns are not applied", path, exc.strerror or exc)
        self._cache[(folder, name)] = (key, spec)
        return spec

    def _specs_for(self, rel: str) -> list[_Spec]:
        folder = rel.rsplit("/", 1)[0] if "/" in rel else ""
        specs = self._folder_specs.get(folder)
        if specs is None:
            parts = folder.split("/") if folder else []
            folders = [""] + ["/".join(parts[: i + 1]) for i in range(len(parts))]
            specs = list(self._base)
            for name in IGNORE_FILES:
                for ancestor in folders:
                    spec = self._load(ancestor, name)
                    if spec is not None:
                        specs.append(spec)
            self._folder_specs[folder] = specs
        return specs

    def explain(self, rel: str, is_dir: bool) -> str | None:
        """Why `rel` (workspace-relative POSIX) is ignored, or None. Ancestors are not checked here:
        the walk never enters an ignored folder; use `explain_path` for a lone path."""
        name = rel.rsplit("/", 1)[-1]
        if is_dir and name in HARD_EXCLUDES:
            return "Shutka's own state" if name == ".shutka" else "git metadata"
        verdict: str | None = None
        for spec in self._specs_for(rel):
            local = rel[len(spec.base) + 1:] if spec.base else rel
            result = spec.spec.check_file(local + "/" if is_dir else local)
            if result.include is True:
                verdict = f"ignored by {spec.source}"
            elif result.include is False:
                verdict = None
        return verdict

    def explain_path(self, rel: str, is_dir: bool) -> str | None:
        """Like `explain`, but also reports a path inside an ignored folder (ancestors first)."""
        parts = rel.split("/")
        for i in range(1, len(parts)):
            reason = self.explain("/".join(parts[:i]), is_dir=True)
            if reason is not None:
                return reason
        return self.explain(rel, is_dir)
