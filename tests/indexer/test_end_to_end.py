"""One workspace with every odd case at once: a full sync handles each (nothing crashes), reports and
logs each skip with its reason, verifies clean, and writes nothing outside `.shutka/`."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from indexer.sync import Indexer
from indexer.verify import verify_catalog
from indexer.workspace import Workspace

from .conftest import BASIC, Files

ODD: Files = {
    **BASIC,
    "src/broken.ts": "export function broken(a: number {\n  return a +;\n}\nexport const fine = 1;\n",
    "src/vendor.min.ts": "var a=1;" + ";".join(f"function f{i}(x){{return x+{i}}}" for i in range(300)) + "\n",
    "src/logo.ts": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
    "src/latin1.ts": "// résumé\nexport const label = 'naïve';\n".encode("latin-1"),
    "src/huge.ts": "export const big = [\n" + "  1,\n" * 400_000 + "];\n",
    "src/locked.ts": "export const hidden = 1;\n",
    ".env": "API_KEY=abc\n",
    "src/.env.ts": "export const API_KEY = 'abc';\n",
    ".gitignore": "generated/\n",
    "generated/out.ts": "export const gen = 1;\n",
}

EXPECTED_SKIPS = {
    "src/vendor.min.ts": "minified or generated (a line of ",
    "src/logo.ts": "binary (contains NUL bytes)",
    "src/huge.ts": "too large (",
    "src/locked.ts": "unreadable (PermissionError: Permission denied)",
    ".env": "looks like a secret (never indexed)",
    "src/.env.ts": "looks like a secret (never indexed)",
    "generated/": "ignored by .gitignore",
    "src/loop/": "symlink loop (leads back to a folder being walked)",
    "src/dangling.ts": "dangling symlink (its target does not exist)",
    "src/pipe.ts": "not a regular file (a FIFO)",
}


def _snapshot(root: Path) -> dict[str, str]:
    """sha256 and mtime of everything outside .shutka/ (links and FIFOs by their own lstat)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".shutka"]
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            digest = ""
            if os.path.isfile(path) and not os.path.islink(path):
                digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            found[os.path.relpath(path, root)] = f"{digest}:{st.st_mtime_ns}:{st.st_mode}"
    return found


def test_every_odd_file_is_handled(make_workspace: Callable[..., Workspace], make_indexer: Callable[..., Indexer],
                                   monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    ws = make_workspace(ODD)
    root = ws.root
    (root / "src/loop").symlink_to(root / "src", target_is_directory=True)
    (root / "src/dangling.ts").symlink_to(root / "src/nowhere.ts")
    os.mkfifo(root / "src/pipe.ts")
    locked = str(root / "src/locked.ts")
    real_open = os.open

    def guarded_open(path: str | os.PathLike[str], flags: int, *args: object, **kwargs: object) -> int:
        if os.fspath(path) == locked:  # root reads through chmod 000, so refuse the open itself
            raise PermissionError(13, "Permission denied", locked)
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", guarded_open)
    before = _snapshot(root)
    indexer = make_indexer(ws, max_file_bytes=1_000_000)
    with caplog.at_level(logging.INFO, logger="indexer"):
        event = indexer.sync()
    skipped = {s.path: s.reason for s in event.skipped}
    for path, reason in EXPECTED_SKIPS.items():
        assert skipped.get(path, "").startswith(reason), (path, skipped.get(path))
        assert f"skipped {path}: {reason}" in caplog.text
    indexed = set(indexer.catalog.file_states())
    assert {"src/broken.ts", "src/latin1.ts", "src/app.tsx", "src/models/index.ts"} <= indexed
    assert not indexed & set(EXPECTED_SKIPS)
    assert indexer.catalog.warnings("src/broken.ts")[0].startswith("syntax errors near line(s)")
    assert indexer.catalog.warnings("src/latin1.ts")[0].startswith("not valid UTF-8")
    assert "fine" in {c.symbol for c in indexer.catalog.chunks("src/broken.ts")}
    report = verify_catalog(ws, indexer.config, indexer.catalog)
    assert report.differences == ()
    assert _snapshot(root) == before  # nothing outside .shutka/ was written
    assert indexer.sync().generation == event.generation  # and a second sync has nothing to do
