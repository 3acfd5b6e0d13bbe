"""SHUTKA_HOME: where model files and user-level state live (one overridable home directory)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "SHUTKA_HOME"


def shutka_home() -> Path:
    """`$SHUTKA_HOME`, else `$XDG_DATA_HOME/shutka`, else `~/.local/share/shutka` (not created here)."""
    if os.environ.get(ENV_HOME):
        return Path(os.environ[ENV_HOME]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "shutka"
