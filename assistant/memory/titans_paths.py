"""Where a Titans memory file may be saved and loaded: inside the workspace's `.shutka/titans/` only.

One rule for every surface (HTTP API, language server, TUI), applied by the facade: a relative path starts
in that folder, symlinks are resolved, and a path that leads outside is refused with the same message
whether or not it exists, so no surface tells anyone which files this machine holds. Shutka never writes
to the user's files (DESIGN §4).
"""

from __future__ import annotations

import os
from pathlib import Path

from assistant.errors import TitansPathRefused

TITANS_DIR = "titans"
MAX_DEPTH = 8
"""Folders a path may nest below `.shutka/titans/`."""
SHOWN_CHARS = 120


def titans_file(state_dir: Path, raw: str, *, writing: bool) -> Path:
    """`raw` made absolute (relative paths are inside `state_dir/titans/`) and confined to that folder; a
    load must name a regular file there (never a device or a pipe). Raises TitansPathRefused."""
    verb = "saves go" if writing else "loads come"
    if "\x00" in raw:
        raise TitansPathRefused("path must not contain NUL characters")
    base = state_dir / TITANS_DIR
    root = Path(os.path.realpath(base))
    try:
        path = Path(os.path.realpath(base / raw))
        if not path.is_relative_to(root) or path == root:
            raise TitansPathRefused(f"Titans memory {verb} only inside {root}: pass a file name or a path below "
                                    "it (Shutka never touches files elsewhere)")
        if len(path.relative_to(root).parts) > MAX_DEPTH + 1:
            raise TitansPathRefused(f"path {shown(raw)} nests more than {MAX_DEPTH} folders below {root}")
        if writing and path.is_dir():
            raise TitansPathRefused(f"{path} is a directory; pass a file name")
        if not writing and not path.is_file():
            raise TitansPathRefused(f"{path} is not a file written by a Titans save")
    except OSError as exc:  # a name too long for the file system, a loop of links, ...
        raise TitansPathRefused(f"path {shown(raw)} is not usable here: {exc.strerror or exc}") from None
    return path


def shown(path: object) -> str:
    """A path for a message, cut short when it is long."""
    text = str(path)
    return repr(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…")
