"""Which files are indexed: a walk of the workspace that honours ignore files, secrets, size limits and
odd files, plus the `.d.ts` files of package.json's direct dependencies (the read-only library section).

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
   lead back to a folder being walked (a loop) or one already walked (a duplicate).

Every skip is a `Skip(path, reason)` plus one log line: INFO for expected ones (ignored, secret),
WARNING for surprising ones (loops, unreadable, too large, not a regular file). Ignored folders are
reported once, never file by file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pathspec

from indexer.config import IndexerConfig
from indexer.types import FileInfo, Skip

log = logging.getLogger(__name__)

HARD_EXCLUDES = (".shutka", ".git")
"""Folder names never entered, whatever `default_excludes` says (our state; git's object store)."""
IGNORE_FILES = (".gitignore", ".shutkaignore")

SECRET_PATTERNS = (
    ".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "*.crt", "*.cer", "*.der", "*.jks",
    "*.keystore", "*.kdbx", "*.gpg", "*.asc", "*.ovpn", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*",
    ".npmrc", ".netrc", ".pgpass", "credentials", "credentials.*", "*.secret", "*.secrets",
)
"""File names that hold secrets. Matched against the name and against the name without its TypeScript
extension, so `.env.ts`, `server.key.ts` or `credentials.ts` are kept out as well."""

DEPENDENCY_FIELDS = ("dependencies", "devDependencies", "peerDependencies")
_RELATIVE_SPECIFIER = re.compile(
    r"""(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"](\.{1,2}/[^'"\n]+)['"]"""
    r"""|///\s*<reference\s+path\s*=\s*['"]([^'"\n]+)['"]""")


def _glob_to_regex(pattern: str) -> str:
    return re.escape(pattern).replace(r"\*", ".*")


_SECRET_RE = re.compile("|".join(f"(?:{_glob_to_regex(p)})" for p in SECRET_PATTERNS), re.IGNORECASE)


def is_secret(name: str, extensions: Iterable[str] = ()) -> bool:
    """True when the file name looks like it holds a secret (see SECRET_PATTERNS)."""
    if _SECRET_RE.fullmatch(name):
        return True
    return any(name.endswith(ext) and _SECRET_RE.fullmatch(name[: -len(ext)]) for ext in extensions)


@dataclass(frozen=True, slots=True)
class Discovery:
    """The files a walk found (sorted by path) and everything it declined."""

    files: tuple[FileInfo, ...]
    skipped: tuple[Skip, ...]


@dataclass(frozen=True, slots=True)
class _Spec:
    source: str
    """Where the patterns came from, for skip reasons: `.gitignore`, `src/.shutkaignore`, `config exclude`."""
    base: str
    """Folder the patterns are relative to ('' for the root)."""
    spec: pathspec.GitIgnoreSpec


class IgnoreRules:
    """Ignore patterns of one workspace, loaded lazily per folder and reloaded when an ignore file changes.

    Thread-safe enough for our use: the cache only ever gains complete entries."""

    def __init__(self, root: Path, config: IndexerConfig) -> None:
        self.root = root
        self.config = config
        self._base = [
            _Spec("default exclude", "", pathspec.GitIgnoreSpec.from_lines(config.default_excludes)),
            _Spec("config exclude", "", pathspec.GitIgnoreSpec.from_lines(config.exclude)),
        ]
        self._cache: dict[tuple[str, str], tuple[tuple[int, int] | None, _Spec | None]] = {}

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
        parts = rel.split("/")[:-1]
        folders = [""] + ["/".join(parts[: i + 1]) for i in range(len(parts))]
        specs = list(self._base)
        for name in IGNORE_FILES:
            for folder in folders:
                spec = self._load(folder, name)
                if spec is not None:
                    specs.append(spec)
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


def _record(skipped: list[Skip], path: str, reason: str, level: int) -> None:
    skipped.append(Skip(path, reason))
    log.log(level, "skipped %s: %s", path, reason)


def _kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def file_verdict(rel: str, st: os.stat_result, config: IndexerConfig, rules: IgnoreRules | None,
                 skipped: list[Skip], section: str = "workspace") -> FileInfo | None:
    """Decide one non-directory entry whose stat (following symlinks) is `st`.

    Returns its FileInfo when it is indexed; otherwise None, after recording a Skip when the entry
    looked like something we index (or is a secret). `rules` None means "do not check ignores"."""
    name = rel.rsplit("/", 1)[-1]
    is_ts = name.endswith(config.extensions)
    secret = is_secret(name, config.extensions)
    if not is_ts and not secret:
        return None
    if rules is not None:
        reason = rules.explain(rel, is_dir=False)
        if reason is not None:
            if is_ts:
                _record(skipped, rel, reason, logging.INFO)
            return None
    if secret:
        _record(skipped, rel, "looks like a secret (never indexed)", logging.INFO)
        return None
    if not stat.S_ISREG(st.st_mode):
        _record(skipped, rel, f"not a regular file ({_kind_of(st.st_mode)})", logging.WARNING)
        return None
    if st.st_size > config.max_file_bytes:
        _record(skipped, rel, f"too large ({st.st_size} bytes > max_file_bytes {config.max_file_bytes})",
                logging.WARNING)
        return None
    return FileInfo(rel, st.st_size, st.st_mtime_ns, section)  # type: ignore[arg-type]


class _Walker:
    """Depth-first walk from one folder; loops are detected by (st_dev, st_ino) of the folders entered."""

    def __init__(self, root: Path, config: IndexerConfig, rules: IgnoreRules) -> None:
        self.root = root
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
            _record(self.skipped, start or ".", f"unreadable folder ({exc.strerror or exc})", logging.WARNING)
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
            _record(self.skipped, f"{rel_folder or '.'}/", f"unreadable folder ({exc.strerror or exc})",
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
                _record(self.skipped, rel + "/", "folder already indexed through another path (symlink)",
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
                _record(self.skipped, rel, "dangling symlink (its target does not exist)", logging.WARNING)
            return None
        except OSError as exc:
            if entry.name.endswith(self.config.extensions) or _maybe_dir(entry):
                _record(self.skipped, rel, f"unreadable ({exc.strerror or exc})", logging.WARNING)
            return None
        if stat.S_ISDIR(st.st_mode):
            reason = self.rules.explain(rel, is_dir=True)
            if reason is not None:
                hidden = entry.name in HARD_EXCLUDES
                if not hidden:
                    _record(self.skipped, rel + "/", reason, logging.INFO)
                return None
            ident = (st.st_dev, st.st_ino)
            if is_link and not self.config.follow_symlinks:
                _record(self.skipped, rel + "/", "symlinked folder not followed (follow_symlinks = false)",
                        logging.INFO)
                return None
            if ident in ancestors:
                _record(self.skipped, rel + "/", "symlink loop (leads back to a folder being walked)",
                        logging.WARNING)
                return None
            return is_link, rel, Path(entry.path), st
        if is_link and not self.config.follow_symlinks and entry.name.endswith(self.config.extensions):
            _record(self.skipped, rel, "symlinked file not followed (follow_symlinks = false)", logging.INFO)
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


# --- dependencies -------------------------------------------------------------------------------


def direct_dependencies(root: Path, skipped: list[Skip] | None = None) -> list[str]:
    """Names in package.json's dependencies, devDependencies and peerDependencies (sorted)."""
    path = root / "package.json"
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        if skipped is not None:
            _record(skipped, "package.json", f"cannot read dependencies ({exc}); fix package.json",
                    logging.WARNING)
        return []
    names: set[str] = set()
    if isinstance(data, dict):
        for field in DEPENDENCY_FIELDS:
            section = data.get(field)
            if isinstance(section, dict):
                names.update(str(name) for name in section)
    return sorted(n for n in names if n and ".." not in n.split("/"))


def types_package(name: str) -> str:
    """The DefinitelyTyped package of `name`: `@types/react`, `@types/babel__core` for `@babel/core`."""
    return "@types/" + (name[1:].replace("/", "__") if name.startswith("@") else name)


def _types_entry(package_dir: Path) -> str | None:
    try:
        data = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    entry = data.get("types") or data.get("typings")
    return entry if isinstance(entry, str) and entry else None


def _probe_dts(base: Path) -> Path | None:
    """`x` → x.d.ts | x (if .d.ts) | x/index.d.ts; `x.js` → x.d.ts."""
    text = str(base)
    candidates = [base] if text.endswith((".d.ts", ".d.mts", ".d.cts")) else []
    stem = re.sub(r"\.(m|c)?js$", "", text)
    candidates += [Path(stem + ".d.ts"), Path(stem + ".d.mts"), Path(stem + ".d.cts"), base / "index.d.ts"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def _follow_entry(package_dir: Path, entry: str, limit: int) -> list[Path]:
    """The entry `.d.ts` and every `.d.ts` reachable from it by relative imports/references."""
    start = _probe_dts(package_dir / entry)
    if start is None:
        return []
    real_pkg = os.path.realpath(package_dir)
    seen = {start}
    queue = [start]
    while queue and len(seen) < limit:
        current = queue.pop(0)
        try:
            text = current.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for match in _RELATIVE_SPECIFIER.finditer(text):
            spec = match.group(1) or match.group(2)
            target = _probe_dts(Path(os.path.normpath(current.parent / spec)))
            if target is None or target in seen:
                continue
            if not os.path.realpath(target).startswith(real_pkg + os.sep):
                continue
            seen.add(target)
            queue.append(target)
    return sorted(seen)


def _all_dts(package_dir: Path) -> list[Path]:
    found: list[Path] = []
    for folder, dirs, files in os.walk(package_dir):
        dirs[:] = sorted(d for d in dirs if d != "node_modules")
        found += [Path(folder) / f for f in sorted(files) if f.endswith((".d.ts", ".d.mts", ".d.cts"))]
    return found


def _package_files(root: Path, package: str, limit: int) -> list[Path]:
    package_dir = root / "node_modules" / package
    if not package_dir.is_dir():
        return []
    entry = _types_entry(package_dir)
    files = _follow_entry(package_dir, entry, limit) if entry else []
    return files or _all_dts(package_dir)


def _share(sizes: list[int], budget: int) -> list[int]:
    """Water-filling: every package gets up to an equal share; the largest are truncated first."""
    quota = [0] * len(sizes)
    remaining = budget
    open_ = [i for i, n in enumerate(sizes) if n > 0]
    while open_ and remaining > 0:
        each = max(1, remaining // len(open_))
        for i in list(open_):
            take = min(each, sizes[i] - quota[i], remaining)
            quota[i] += take
            remaining -= take
            if quota[i] >= sizes[i]:
                open_.remove(i)
            if remaining == 0:
                break
    return quota


def discover_dependencies(root: Path, config: IndexerConfig) -> Discovery:
    """The `.d.ts` files of package.json's direct dependencies and of their `@types/` packages,
    as library-section FileInfos, at most `max_dependency_files` in all."""
    skipped: list[Skip] = []
    names = direct_dependencies(root, skipped)
    packages: list[tuple[str, list[Path]]] = []
    for name in names:
        for package in (name,) if name.startswith("@types/") else (name, types_package(name)):
            if any(package == p for p, _ in packages):
                continue
            files = _package_files(root, package, config.max_dependency_files)
            if files:
                packages.append((package, files))
    quota = _share([len(files) for _, files in packages], config.max_dependency_files)
    infos: list[FileInfo] = []
    for (package, files), keep in zip(packages, quota, strict=True):
        if keep < len(files):
            _record(skipped, f"node_modules/{package}/",
                    f"dependency truncated to {keep} of {len(files)} .d.ts files (max_dependency_files "
                    f"{config.max_dependency_files})", logging.INFO)
        for path in files[:keep]:
            rel = path.relative_to(root).as_posix()
            try:
                st = path.stat()
            except OSError as exc:
                _record(skipped, rel, f"unreadable ({exc.strerror or exc})", logging.WARNING)
                continue
            info = file_verdict(rel, st, config, None, skipped, section="library")
            if info is not None:
                infos.append(info)
    return Discovery(tuple(sorted(infos, key=lambda f: f.path)), tuple(skipped))


def is_library_path(rel: str) -> bool:
    """True for paths inside a node_modules folder (library section, refreshed by full syncs only)."""
    return rel.startswith("node_modules/") or "/node_modules/" in rel
