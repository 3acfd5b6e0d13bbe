"""Which files are indexed: a walk of the workspace that honours ignore files, secrets, size limits and
odd files; `discover()` adds the library section (indexer.dependencies).

Rules, in the order they are applied to a file:

1. `.shutka/` and `.git/` are never entered, whatever the config says.
2. Only names ending in one of `IndexerConfig.extensions` are candidates; other files are out of scope
   and not reported (except secrets, reported so users can see they were kept out).
3. Ignore patterns, last match wins, in this order: `default_excludes`, `exclude`, every `.gitignore`
   (shallow to deep, each relative to its folder), every `.shutkaignore` (same), so a `.shutkaignore`
   can re-include (`!pattern`) what `.gitignore` hides. An ignored folder is not entered.
4. Secrets (`.env*`, keys, certificates, ...) are never indexed, even when named `*.ts`.
5. Files over `max_file_bytes`, non-regular files (FIFOs, sockets, devices), dangling symlinks and
   unreadable entries are skipped. Symlinked folders are followed (if `follow_symlinks`) unless they
   lead back to a folder being walked (a loop) or one already walked (a duplicate); a symlink that leads
   outside the workspace is never followed (a cloned repository must not pull `~` into the index).

Every skip is a `Skip(path, reason)` plus one log line: INFO for expected ones (ignored, secret),
WARNING for surprising ones (loops, unreadable, too large, not a regular file). Ignored folders are
reported once, never file by file.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from indexer.config import IndexerConfig
from indexer.dependencies import discover_dependencies
from indexer.filters import (
    SECRET_PATTERNS,
    Discovery,
    file_verdict,
    is_library_path,
    is_secret,
    record_skip,
)
from indexer.ignore_rules import HARD_EXCLUDES, IGNORE_FILES, IgnoreRules
from indexer.types import FileInfo, Skip

__all__ = [
    "HARD_EXCLUDES", "IGNORE_FILES", "SECRET_PATTERNS", "Discovery", "IgnoreRules", "discover",
    "discover_dependencies", "discover_workspace", "file_verdict", "is_library_path", "is_secret",
]

log = logging.getLogger(__name__)

class _Walker:
    """Depth-first walk from one folder; loops are detected by (st_dev, st_ino) of the folders entered."""

    def __init__(self, root: Path, config: IndexerConfig, rules: IgnoreRules) -> None:
        self.root = root
        self._real_root = Path(os.path.realpath(root))
        self.config = config
        self.rules = rules
        self.files: list[FileInfo] = []
        self.skipped: list[Skip] = []
        self._visited: set[tuple[int, int]] = set()

    def walk(self, start: str = "") -> Discovery:
        top = self.root / start if start else self.root
        try:
            st = top.stat()
        except OSError as exc:
            record_skip(self.skipped, start or ".", f"unreadable folder ({exc.strerror or exc})", logging.WARNING)
            return Discovery((), tuple(self.skipped))
        self._walk(top, start, st, frozenset())
        return Discovery(tuple(sorted(self.files, key=lambda f: f.path)), tuple(self.skipped))

    def _walk(self, folder: Path, rel_folder: str, st: os.stat_result, ancestors: frozenset[tuple[int, int]]) -> None:
        ident = (st.st_dev, st.st_ino)
        self._visited.add(ident)
        ancestors = ancestors | {ident}
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            record_skip(self.skipped, f"{rel_folder or '.'}/", f"unreadable folder ({exc.strerror or exc})",
                        logging.WARNING)
            return
        subfolders: list[tuple[bool, str, Path, os.stat_result]] = []
        for entry in entries:
            rel = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
            sub = self._entry(entry, rel, ancestors)
            if sub is not None:
                subfolders.append(sub)
        for _, rel, path, sub_st in sorted(subfolders, key=lambda s: (s[0], s[1])):  # real folders first
            if (sub_st.st_dev, sub_st.st_ino) in self._visited:
                record_skip(self.skipped, rel + "/", "folder already indexed through another path (symlink)",
                            logging.WARNING)
                continue
            self._walk(path, rel, sub_st, ancestors)

    def _entry(self, entry: os.DirEntry[str], rel: str,
               ancestors: frozenset[tuple[int, int]]) -> tuple[bool, str, Path, os.stat_result] | None:
        """Handle one entry; return (is_link, rel, path, stat) when it is a folder to enter."""
        try:
            is_link = entry.is_symlink()
            st = entry.stat(follow_symlinks=True)
        except FileNotFoundError:
            if entry.name.endswith(self.config.extensions):
                record_skip(self.skipped, rel, "dangling symlink (its target does not exist)", logging.WARNING)
            return None
        except OSError as exc:
            if entry.name.endswith(self.config.extensions) or _maybe_dir(entry):
                record_skip(self.skipped, rel, f"unreadable ({exc.strerror or exc})", logging.WARNING)
            return None
        if is_link and not Path(os.path.realpath(entry.path)).is_relative_to(self._real_root):
            if entry.name.endswith(self.config.extensions) or stat.S_ISDIR(st.st_mode):
                record_skip(self.skipped, rel, "symlink leads outside the workspace (never followed: a cloned "
                            "repository must not pull your other files into the index)", logging.WARNING)
            return None
        if stat.S_ISDIR(st.st_mode):
            reason = self.rules.explain(rel, is_dir=True)
            if reason is not None:
                hidden = entry.name in HARD_EXCLUDES
                if not hidden:
                    record_skip(self.skipped, rel + "/", reason, logging.INFO)
                return None
            ident = (st.st_dev, st.st_ino)
            if is_link and not self.config.follow_symlinks:
                record_skip(self.skipped, rel + "/", "symlinked folder not followed (follow_symlinks = false)",
                            logging.INFO)
                return None
            if ident in ancestors:
                record_skip(self.skipped, rel + "/", "symlink loop (leads back to a folder being walked)",
                            logging.WARNING)
                return None
            return is_link, rel, Path(entry.path), st
        if is_link and not self.config.follow_symlinks and entry.name.endswith(self.config.extensions):
            record_skip(self.skipped, rel, "symlinked file not followed (follow_symlinks = false)", logging.INFO)
            return None
        info = file_verdict(rel, st, self.config, self.rules, self.skipped)
        if info is not None:
            self.files.append(info)
        return None


def _maybe_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def discover_workspace(root: Path, config: IndexerConfig, rules: IgnoreRules | None = None,
                       start: str = "") -> Discovery:
    """Walk the workspace (or the folder `start` inside it) and return the workspace-section files."""
    rules = rules or IgnoreRules(root, config)
    rules.refresh()
    if start:
        reason = rules.explain_path(start, is_dir=True)
        if reason is not None:
            return Discovery((), ())
    return _Walker(root, config, rules).walk(start)


def discover(root: Path, config: IndexerConfig, rules: IgnoreRules | None = None) -> Discovery:
    """Workspace files plus (when `include_dependencies`) the library `.d.ts` files, sorted by path."""
    found = discover_workspace(root, config, rules)
    if not config.include_dependencies:
        return found
    deps = discover_dependencies(root, config)
    files = sorted(found.files + deps.files, key=lambda f: f.path)
    return Discovery(tuple(files), found.skipped + deps.skipped)
