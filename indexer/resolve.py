"""Import specifiers → workspace-relative files, the way TypeScript's resolver finds them.

Relative specifiers probe TypeScript extensions and folder index files (and map `.js` written in ESM
imports back to `.ts`). Bare specifiers go through the nearest `tsconfig.json` (`compilerOptions.paths`
with one `*`, then `baseUrl`, `extends` followed) and finally `node_modules/<package>` (its `types` entry,
`index.d.ts`, or the matching `@types/` package). Whether a candidate exists is asked of a callable, so
the same rules resolve against the disk (while parsing) or against the catalog (in the code graph).
"""

from __future__ import annotations

import json
import logging
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PROBE_EXTENSIONS = (".ts", ".tsx", ".d.ts", ".mts", ".cts", ".d.mts", ".d.cts")
JS_TO_TS = {".js": (".ts", ".tsx", ".d.ts"), ".jsx": (".tsx",), ".mjs": (".mts", ".d.mts"),
            ".cjs": (".cts", ".d.cts")}
TSCONFIG = "tsconfig.json"
MAX_EXTENDS_DEPTH = 8
"""`extends` chains longer than this are cut (they are cycles in practice)."""


def loads_jsonc(text: str) -> object:
    """Parse JSON with comments and trailing commas (tsconfig.json's dialect)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i: j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif ch in "}]":
            k = len(out) - 1
            while k >= 0 and out[k].isspace():
                k -= 1
            if k >= 0 and out[k] == ",":
                del out[k]
            out.append(ch)
            i += 1
        else:
            out.append(ch)
            i += 1
    return json.loads("".join(out))


@dataclass(frozen=True, slots=True)
class TsConfig:
    """The resolution-relevant part of one tsconfig.json (after `extends`), paths workspace-relative."""

    path: str
    base_url: str | None
    """Folder of `compilerOptions.baseUrl`, or None."""
    paths_dir: str
    """Folder `paths` targets are relative to (baseUrl when set, else the defining tsconfig's folder)."""
    paths: tuple[tuple[str, tuple[str, ...]], ...]


def _join(folder: str, rel: str) -> str | None:
    """Lexically joined workspace-relative path, or None when it leaves the workspace."""
    joined = posixpath.normpath(posixpath.join(folder, rel)) if folder else posixpath.normpath(rel)
    if joined == ".":
        return ""
    if joined.startswith("../") or joined == ".." or joined.startswith("/"):
        return None
    return joined


class ImportResolver:
    """Resolves `(importing file, specifier)` to a workspace-relative path that `exists` accepts."""

    def __init__(self, root: Path, exists: Callable[[str], bool] | None = None) -> None:
        self.root = root
        self.exists = exists or (lambda rel: (root / rel).is_file())
        self._nearest: dict[str, str | None] = {}
        self._configs: dict[str, tuple[int, TsConfig | None]] = {}
        self._types_entries: dict[str, str | None] = {}

    def invalidate(self) -> None:
        """Forget cached tsconfig locations and package entries (after tsconfig/package changes)."""
        self._nearest.clear()
        self._configs.clear()
        self._types_entries.clear()

    # --- tsconfig ---------------------------------------------------------------------------------

    def tsconfig_for(self, rel_path: str) -> TsConfig | None:
        """The nearest tsconfig.json above the file `rel_path` (inside the workspace), parsed."""
        folder = posixpath.dirname(rel_path)
        trail: list[str] = []
        found: str | None = None
        while True:
            if folder in self._nearest:
                found = self._nearest[folder]
                break
            trail.append(folder)
            candidate = f"{folder}/{TSCONFIG}" if folder else TSCONFIG
            if (self.root / candidate).is_file():
                found = candidate
                break
            if not folder:
                break
            folder = posixpath.dirname(folder)
        for seen in trail:
            self._nearest[seen] = found
        return self._load(found) if found else None

    def _load(self, rel: str) -> TsConfig | None:
        try:
            mtime = (self.root / rel).stat().st_mtime_ns
        except OSError:
            return None
        cached = self._configs.get(rel)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        config = self._parse_chain(rel)
        self._configs[rel] = (mtime, config)
        return config

    def _parse_chain(self, rel: str) -> TsConfig | None:
        chain: list[tuple[str, dict[str, object]]] = []
        current: str | None = rel
        while current is not None and len(chain) < MAX_EXTENDS_DEPTH:
            try:
                data = loads_jsonc((self.root / current).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                log.warning("cannot read %s (%s): its paths/baseUrl are not used; fix the file", current, exc)
                break
            if not isinstance(data, dict):
                break
            chain.append((current, data))
            current = self._extends_target(current, data.get("extends"))
        if not chain:
            return None
        base_url: str | None = None
        paths: dict[str, object] | None = None
        paths_owner = rel
        for owner, data in reversed(chain):  # base first, the file itself last
            options = data.get("compilerOptions")
            if not isinstance(options, dict):
                continue
            if isinstance(options.get("baseUrl"), str):
                base_url = _join(posixpath.dirname(owner), options["baseUrl"])
            if isinstance(options.get("paths"), dict):
                paths, paths_owner = options["paths"], owner
        pairs: list[tuple[str, tuple[str, ...]]] = []
        for pattern, targets in (paths or {}).items():
            if isinstance(targets, list):
                pairs.append((str(pattern), tuple(str(t) for t in targets if isinstance(t, str))))
        paths_dir = base_url if base_url is not None else posixpath.dirname(paths_owner)
        return TsConfig(rel, base_url, paths_dir, tuple(pairs))

    def _extends_target(self, owner: str, extends: object) -> str | None:
        if isinstance(extends, list):  # TypeScript 5: several bases; the first is the closest we follow
            extends = extends[-1] if extends else None
        if not isinstance(extends, str):
            return None
        if extends.startswith("."):
            target = _join(posixpath.dirname(owner), extends)
        else:
            target = _join("node_modules", extends)
        if target is None:
            return None
        for candidate in (target, target + ".json", f"{target}/{TSCONFIG}"):
            if (self.root / candidate).is_file():
                return candidate
        return None

    # --- resolution -------------------------------------------------------------------------------

    def probe(self, base: str) -> str | None:
        """The first existing file for `base` with TypeScript extensions or as a folder index."""
        candidates: list[str] = []
        stem, ext = posixpath.splitext(base)
        if ext in JS_TO_TS:
            candidates += [stem + new for new in JS_TO_TS[ext]]
        if base.endswith((".ts", ".tsx", ".mts", ".cts")):
            candidates.append(base)
        candidates += [base + e for e in PROBE_EXTENSIONS]
        index = f"{base}/index" if base else "index"
        candidates += [index + e for e in PROBE_EXTENSIONS]
        for candidate in candidates:
            if self.exists(candidate):
                return candidate
        return None

    def resolve(self, from_path: str, specifier: str) -> str | None:
        """Workspace-relative file imported by `specifier` in `from_path`, or None (unresolved)."""
        if not specifier or specifier.startswith("/"):
            return None
        if specifier in (".", "..") or specifier.startswith(("./", "../")):
            base = _join(posixpath.dirname(from_path), specifier)
            return None if base is None else self.probe(base)
        config = self.tsconfig_for(from_path)
        if config is not None:
            found = self._via_paths(config, specifier)
            if found is None and config.base_url is not None:
                base = _join(config.base_url, specifier)
                found = None if base is None else self.probe(base)
            if found is not None:
                return found
        return self._via_node_modules(specifier)

    def _via_paths(self, config: TsConfig, specifier: str) -> str | None:
        best: tuple[int, str, tuple[str, ...]] | None = None
        for pattern, targets in config.paths:
            if "*" not in pattern:
                if pattern == specifier:
                    best = (len(pattern) + 1, "", targets)
                    break
                continue
            prefix, _, suffix = pattern.partition("*")
            if (specifier.startswith(prefix) and specifier.endswith(suffix)
                    and len(specifier) >= len(prefix) + len(suffix)
                    and (best is None or len(prefix) > best[0])):
                best = (len(prefix), specifier[len(prefix): len(specifier) - len(suffix)], targets)
        if best is None:
            return None
        _, star, targets = best
        for target in targets:
            base = _join(config.paths_dir, target.replace("*", star))
            found = None if base is None else self.probe(base)
            if found is not None:
                return found
        return None

    def _via_node_modules(self, specifier: str) -> str | None:
        parts = specifier.split("/")
        n = 2 if specifier.startswith("@") else 1
        package, sub = "/".join(parts[:n]), "/".join(parts[n:])
        if not package or ".." in parts:
            return None
        typed = "@types/" + (package[1:].replace("/", "__") if package.startswith("@") else package)
        for pkg in (package, typed):
            folder = f"node_modules/{pkg}"
            if sub:
                found = self.probe(f"{folder}/{sub}")
            else:
                entry = self._types_entry(folder)
                found = self.probe(entry) if entry else None
                found = found or self.probe(folder)
            if found is not None:
                return found
        return None

    def _types_entry(self, folder: str) -> str | None:
        if folder not in self._types_entries:
            entry: str | None = None
            try:
                data = json.loads((self.root / folder / "package.json").read_text(encoding="utf-8"))
                raw = data.get("types") or data.get("typings") if isinstance(data, dict) else None
                if isinstance(raw, str):
                    entry = _join(folder, raw)
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                entry = None
            self._types_entries[folder] = entry
        return self._types_entries[folder]
