"""Planning a sync: compare the disk with the catalog and say what must change, writing nothing.

Cheap check first, content hash second (as git and Tabby do): a file whose size and mtime match its
catalog row is unchanged without being read, unless the row is *racy* (its mtime was within
RACY_WINDOW_NS of the moment we looked, so a same-size rewrite in the same clock tick could hide).
A file with a new stat but the same content is `touched`; new or changed content is `compute`.
A path in the catalog that is gone (or now ignored) is `delete`, unless a new path has exactly its
content: then the pair is `moved` and nothing is parsed or encoded again.

A plan can be restricted to some paths (what the watcher saw): a missing path deletes its rows and
every row under it (a deleted or renamed folder), and a folder path is walked (a created or renamed
folder). Library files (node_modules) are refreshed by full plans only; a restricted plan merely
re-checks library rows it is pointed at.
"""

from __future__ import annotations

import logging
import os
import posixpath
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from indexer.catalog import Catalog, FileState, SkipState, now_ns
from indexer.config import IndexerConfig
from indexer.discovery import (
    HARD_EXCLUDES,
    IgnoreRules,
    discover,
    discover_workspace,
    file_verdict,
    is_library_path,
)
from indexer.reading import content_hash, read_bytes
from indexer.types import FileInfo, IndexPlan, Skip

log = logging.getLogger(__name__)

RACY_WINDOW_NS = 2_000_000_000
"""A row whose mtime is this close to when it was checked is re-hashed by the next plan: coarse
filesystem clocks (1-10 ms on Linux, 2 s on FAT) let a same-size rewrite keep the same mtime."""


def normalize(root: Path, path: str | os.PathLike[str]) -> str | None:
    """Workspace-relative POSIX form of `path` ('' for the root), or None when it is outside."""
    p = Path(path)
    if p.is_absolute():
        try:
            rel = p.relative_to(root).as_posix()
        except ValueError:
            return None
    else:
        rel = p.as_posix()
    rel = posixpath.normpath(rel) if rel else "."
    if rel == ".":
        return ""
    if rel == ".." or rel.startswith("../"):
        return None
    return rel


def is_clean(state: FileState | SkipState, info: FileInfo) -> bool:
    """Same size and mtime, and the row was not racy when it was written."""
    return (state.size == info.size and state.mtime_ns == info.mtime_ns
            and state.checked_ns - state.mtime_ns >= RACY_WINDOW_NS)


def hash_file(root: Path, rel: str, max_bytes: int) -> str | None:
    """sha256 of the file's bytes, or None when it cannot be read (parsing will report why)."""
    data = read_bytes(root, rel, max_bytes)
    return None if isinstance(data, Skip) else content_hash(data)


@dataclass
class _Scope:
    """What a plan looks at: disk candidates and the catalog rows they are compared with."""

    candidates: dict[str, FileInfo] = field(default_factory=dict)
    states: dict[str, FileState] = field(default_factory=dict)
    skips: dict[str, SkipState] = field(default_factory=dict)
    skipped: list[Skip] = field(default_factory=list)


def _full_scope(root: Path, config: IndexerConfig, catalog: Catalog, rules: IgnoreRules) -> _Scope:
    found = discover(root, config, rules)
    return _Scope({f.path: f for f in found.files}, catalog.file_states(), catalog.skip_states(),
                  list(found.skipped))


def _add_path(scope: _Scope, root: Path, rel: str, config: IndexerConfig, catalog: Catalog,
              rules: IgnoreRules) -> None:
    """Put one watcher-reported path (file, folder or vanished path) and its catalog rows in scope."""
    state = catalog.file_state(rel)
    if state is not None:
        scope.states[rel] = state
    scope.states.update(catalog.file_states(prefix=rel))
    scope.skips.update(catalog.skip_states(paths=[rel]))
    scope.skips.update(catalog.skip_states(prefix=rel))
    if is_library_path(rel):
        for path, known in list(scope.states.items()):
            if path == rel or path.startswith(rel + "/"):
                try:
                    st = (root / path).stat()
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode) and st.st_size <= config.max_file_bytes:
                    scope.candidates[path] = FileInfo(path, st.st_size, st.st_mtime_ns, known.section)  # type: ignore[arg-type]
        return
    try:
        st = os.stat(root / rel)
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        if rel.endswith(config.extensions):
            scope.skipped.append(Skip(rel, f"unreadable ({exc.strerror or exc})"))
            log.warning("skipped %s: unreadable (%s)", rel, exc.strerror or exc)
        return
    if stat.S_ISDIR(st.st_mode):
        found = discover_workspace(root, config, rules, start=rel)
        scope.candidates.update((f.path, f) for f in found.files)
        scope.skipped += found.skipped
        return
    parent = posixpath.dirname(rel)
    if parent and rules.explain_path(parent, is_dir=True) is not None:
        return
    info = file_verdict(rel, st, config, rules, scope.skipped)
    if info is not None:
        scope.candidates[rel] = info


def _is_linked_folder(path: Path) -> bool:
    return path.is_symlink() and path.is_dir()


def _pick(olds: list[str], new: str) -> str:
    """The deleted path to pair with `new`: same file name first, else the first in order."""
    name = posixpath.basename(new)
    for old in olds:
        if posixpath.basename(old) == name:
            return old
    return olds[0]


def _diff(scope: _Scope, root: Path, config: IndexerConfig, checked_ns: int, chunker: str) -> tuple[
        list[FileInfo], list[str], list[tuple[str, str]], list[FileInfo], int, list[Skip]]:
    compute: list[FileInfo] = []
    touched: list[FileInfo] = []
    fresh: list[tuple[FileInfo, str | None]] = []  # new paths (and changed ones, with their new hash)
    unchanged = 0
    skipped = list(scope.skipped)
    for path in sorted(scope.candidates):
        info = scope.candidates[path]
        state = scope.states.get(path)
        if state is not None and state.chunker == chunker and state.section == info.section:
            if is_clean(state, info):
                unchanged += 1
                continue
            digest = hash_file(root, path, config.max_file_bytes)
            if digest == state.content_hash:
                stat_changed = (state.size, state.mtime_ns) != (info.size, info.mtime_ns)
                if stat_changed or checked_ns - info.mtime_ns >= RACY_WINDOW_NS:
                    touched.append(info)
                else:
                    unchanged += 1
                continue
            fresh.append((info, digest))
            continue
        if state is not None:
            compute.append(info)  # chunked by another chunker version or settings, or a section change
            continue
        remembered = scope.skips.get(path)
        if remembered is not None and remembered.chunker == chunker:
            if is_clean(remembered, info):
                unchanged += 1
                skipped.append(Skip(path, remembered.reason))
                continue
            if remembered.content_hash and hash_file(root, path, config.max_file_bytes) == remembered.content_hash:
                stat_changed = (remembered.size, remembered.mtime_ns) != (info.size, info.mtime_ns)
                if stat_changed or checked_ns - info.mtime_ns >= RACY_WINDOW_NS:
                    touched.append(info)
                else:
                    unchanged += 1
                skipped.append(Skip(path, remembered.reason))
                continue
        fresh.append((info, None))
    deleted = sorted(p for p in scope.states if p not in scope.candidates)
    deleted += sorted(p for p in scope.skips if p not in scope.candidates and p not in scope.states)
    moved: list[tuple[str, str]] = []
    by_hash: dict[tuple[str, str], list[str]] = {}
    for path in deleted:
        state = scope.states.get(path)
        if state is not None and state.chunker == chunker:  # a move re-uses the rows as they are
            by_hash.setdefault((state.content_hash, state.section), []).append(path)
    for info, digest in fresh:
        if by_hash:
            digest = digest or hash_file(root, info.path, config.max_file_bytes)
            olds = by_hash.get((digest or "", info.section))
            if olds:
                old = _pick(olds, info.path)
                olds.remove(old)
                if not olds:
                    del by_hash[(digest or "", info.section)]
                deleted.remove(old)
                moved.append((old, info.path))
                touched.append(info)
                continue
        compute.append(info)
    compute.sort(key=lambda f: f.path)
    touched.sort(key=lambda f: f.path)
    return compute, deleted, moved, touched, unchanged, skipped


def plan_changes(root: Path, config: IndexerConfig, catalog: Catalog, paths: Iterable[str] | None = None, *,
                 rules: IgnoreRules | None = None, chunker: str = "") -> IndexPlan:
    """What a sync must do to make the catalog match the disk (whole workspace, or only `paths`).

    `chunker` is the fingerprint of today's chunker and settings: rows made by another are computed
    again. Reads the disk and the catalog; writes nothing."""
    rules = rules or IgnoreRules(root, config)
    rules.refresh()
    generation = catalog.generation()
    checked_ns = now_ns()
    scope_paths: tuple[str, ...] | None = None
    if paths is None:
        scope = _full_scope(root, config, catalog, rules)
    else:
        normalized = {p for p in (normalize(root, raw) for raw in paths) if p is not None}
        if "" in normalized or any(_is_linked_folder(root / rel) for rel in normalized):
            # a symlinked folder may duplicate or loop into others: only a full walk decides that
            return plan_changes(root, config, catalog, None, rules=rules, chunker=chunker)
        scope = _Scope()
        for rel in sorted(normalized):
            if any(part in HARD_EXCLUDES for part in rel.split("/")):
                continue
            _add_path(scope, root, rel, config, catalog, rules)
        scope_paths = tuple(sorted(normalized))
    compute, deleted, moved, touched, unchanged, skipped = _diff(scope, root, config, checked_ns, chunker)
    return IndexPlan(compute=tuple(compute), delete=tuple(deleted), moved=tuple(moved), touched=tuple(touched),
                     unchanged=unchanged, skipped=tuple(skipped), generation=generation, scope=scope_paths,
                     checked_ns=checked_ns)
