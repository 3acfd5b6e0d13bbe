"""The library section: `.d.ts` files of package.json's direct dependencies (and of their `@types/`
packages) from node_modules, read-only context that never counts as workspace code.

A package's `types`/`typings` entry is followed through its relative imports and references; without
one, every `.d.ts` under the package is taken (nested node_modules left out). At most
`max_dependency_files` in all: every package gets an equal share and the largest are truncated first.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from indexer.config import IndexerConfig
from indexer.filters import Discovery, file_verdict, record_skip
from indexer.types import FileInfo, Skip

log = logging.getLogger(__name__)

DEPENDENCY_FIELDS = ("dependencies", "devDependencies", "peerDependencies")
_RELATIVE_SPECIFIER = re.compile(
    r"""(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"](\.{1,2}/[^'"\n]+)['"]"""
    r"""|///\s*<reference\s+path\s*=\s*['"]([^'"\n]+)['"]""")


def direct_dependencies(root: Path, skipped: list[Skip] | None = None) -> list[str]:
    """Names in package.json's dependencies, devDependencies and peerDependencies (sorted)."""
    path = root / "package.json"
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        if skipped is not None:
            record_skip(skipped, "package.json", f"cannot read dependencies ({exc}); fix package.json",
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
            record_skip(skipped, f"node_modules/{package}/",
                        f"dependency truncated to {keep} of {len(files)} .d.ts files (max_dependency_files "
                        f"{config.max_dependency_files})", logging.INFO)
        for path in files[:keep]:
            rel = path.relative_to(root).as_posix()
            try:
                st = path.stat()
            except OSError as exc:
                record_skip(skipped, rel, f"unreadable ({exc.strerror or exc})", logging.WARNING)
                continue
            info = file_verdict(rel, st, config, None, skipped, section="library")
            if info is not None:
                infos.append(info)
    return Discovery(tuple(sorted(infos, key=lambda f: f.path)), tuple(skipped))
