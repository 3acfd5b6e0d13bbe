"""The workspace: its root, its `.shutka/` state directory and its `shutka.toml` sections."""

from __future__ import annotations

import logging
import os
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from indexer.errors import ConfigError, WorkspaceNotFound

log = logging.getLogger(__name__)

S = TypeVar("S", bound=BaseModel)

CONFIG_FILE = "shutka.toml"
STATE_DIR = ".shutka"
STATE_GITIGNORE = "# Shutka's private state: never commit it.\n*\n"


def format_validation_error(exc: ValidationError, where: str, schema: type[BaseModel]) -> str:
    """One line naming the key, the problem and the valid keys."""
    err = exc.errors()[0]
    key = ".".join(str(part) for part in err["loc"]) or "(section)"
    return f"{where} {key}: {err['msg']} (valid keys: {', '.join(schema.model_fields)})"


class Workspace:
    """A folder of TypeScript code that Shutka indexes; state lives in `<root>/.shutka/`."""

    def __init__(self, root: str | os.PathLike[str], config_path: str | os.PathLike[str] | None = None) -> None:
        path = Path(root).expanduser()
        if not path.exists():
            raise WorkspaceNotFound(f"workspace {path} does not exist: pass the folder that holds your code")
        if not path.is_dir():
            raise WorkspaceNotFound(f"workspace {path} is not a directory: pass the folder that holds your code")
        self.root: Path = path.resolve()
        """Absolute, resolved workspace root."""
        self.config_path: Path = Path(config_path) if config_path else self.root / CONFIG_FILE
        """`shutka.toml` of this workspace (it need not exist)."""

    @property
    def state_dir(self) -> Path:
        """`<root>/.shutka/`, where every file Shutka writes for this workspace lives (not created here)."""
        return self.root / STATE_DIR

    def ensure_state_dir(self) -> Path:
        """Create `.shutka/` with its own `.gitignore` so the user's repository never sees it."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        ignore = self.state_dir / ".gitignore"
        if not ignore.exists():
            ignore.write_text(STATE_GITIGNORE, encoding="utf-8")
        return self.state_dir

    @cached_property
    def _toml(self) -> dict[str, Any]:
        if not self.config_path.is_file():
            return {}
        try:
            with self.config_path.open("rb") as fh:
                return tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{self.config_path}: not valid TOML ({exc})") from exc

    def raw_config(self) -> dict[str, Any]:
        """The parsed shutka.toml (empty when absent); raises ConfigError when it is not TOML."""
        return dict(self._toml)

    def section(self, name: str, schema: type[S], overrides: dict[str, Any] | None = None) -> S:
        """Return [name] from shutka.toml validated by `schema`; a missing section means defaults.

        `overrides` (CLI flags, LSP options) win over the file. Raises ConfigError naming file and key."""
        data = dict(self._toml.get(name, {}))
        if not isinstance(data, dict):
            raise ConfigError(f"{self.config_path} [{name}]: must be a table")
        data.update(overrides or {})
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, f"{self.config_path} [{name}]", schema)) from exc

    def relative(self, path: str | os.PathLike[str]) -> str:
        """Workspace-relative POSIX path of `path` (absolute or relative to the root); a path outside
        the workspace comes back absolute."""
        p = Path(path)
        if p.is_absolute():
            for candidate in (p, Path(os.path.realpath(p))):
                try:
                    return candidate.relative_to(self.root).as_posix()
                except ValueError:
                    continue
            return p.as_posix()  # outside the workspace: keep it absolute (a buffer from elsewhere)
        return p.as_posix()

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"
