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
USER_CONFIG_ENV = "SHUTKA_CONFIG"
USER_ONLY = "user_only"
"""`json_schema_extra` key marking a field a workspace's shutka.toml may not set (see `user_only`)."""


WHY_USER_ONLY = "user_only_why"
NETWORK = "set who can reach Shutka (a cloned repository could open this machine to the network)"
FILES = "choose a file Shutka writes to (a cloned repository could make it append to any file you can write)"
SECRETS = ("weaken secret masking (a cloned repository could make Shutka store and offer the credentials "
           "you type into it)")


def user_only(how: str, why: str = NETWORK) -> dict[str, str]:
    """`Field(json_schema_extra=user_only("--host"))`: a key that decides who can reach Shutka (an address,
    a key, an allowed name), which a workspace's own shutka.toml may not set: a cloned repository must not
    open the user's machine to the network. It comes from the command line (`how` names the flag) or from
    the user's own config (`user_config_path()`). `why` completes "a workspace's shutka.toml may not …"."""
    return {USER_ONLY: how, WHY_USER_ONLY: why}


def user_only_keys(schema: type[BaseModel]) -> dict[str, str]:
    """{key: how to set it instead} for the user-only fields of `schema` (their aliases included)."""
    keys: dict[str, str] = {}
    for name, field in schema.model_fields.items():
        extra = field.json_schema_extra
        if isinstance(extra, dict) and USER_ONLY in extra:
            for key in {name, field.alias or name}:
                keys[key] = str(extra[USER_ONLY])
    return keys


def user_config_path() -> Path:
    """The user's own shutka.toml, outside every workspace: `$SHUTKA_CONFIG`, else
    `$XDG_CONFIG_HOME/shutka/shutka.toml`, else `~/.config/shutka/shutka.toml` (it need not exist)."""
    if os.environ.get(USER_CONFIG_ENV):
        return Path(os.environ[USER_CONFIG_ENV]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base).expanduser() / "shutka" / CONFIG_FILE


def user_section(name: str, schema: type[S], path: Path | None = None) -> dict[str, Any]:
    """[name] of the user's own config (`user_config_path()`), validated by `schema`, as the keys it sets
    (empty when the file or the section is absent). Raises ConfigError naming the file and key."""
    path = path or user_config_path()
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh).get(name, {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the user config ({exc.strerror or exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} [{name}]: must be a table")
    try:
        return schema.model_validate(data).model_dump(include=set(data) & set(schema.model_fields))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, f"{path} [{name}]", schema)) from exc


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

    def section(self, name: str, schema: type[S], overrides: dict[str, Any] | None = None,
                base: dict[str, Any] | None = None) -> S:
        """Return [name] from shutka.toml validated by `schema`; a missing section means defaults.

        `base` (the user's own config, `user_section`) lies below the file, `overrides` (CLI flags, LSP
        options) win over it. The file may not set a user-only key (`user_only`): that is refused, naming
        the key and where to set it instead. Raises ConfigError naming file and key."""
        section = self._toml.get(name, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{self.config_path} [{name}]: must be a table")
        self._refuse_user_only(name, section, schema)
        if base is None and user_only_keys(schema):  # what the workspace may not set, the user still can
            base = user_section(name, schema)
        data = {**(base or {}), **section, **(overrides or {})}
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, f"{self.config_path} [{name}]", schema)) from exc

    def _refuse_user_only(self, name: str, section: dict[str, Any], schema: type[BaseModel]) -> None:
        refused = {key: how for key, how in user_only_keys(schema).items() if key in section}
        if refused:
            them = "it" if len(refused) == 1 else "them"
            why = next(str(f.json_schema_extra[WHY_USER_ONLY]) for key, f in schema.model_fields.items()  # type: ignore[index]
                       if key in refused or f.alias in refused)
            raise ConfigError(
                f"{self.config_path} [{name}] {', '.join(refused)}: refused: a workspace's shutka.toml may not "
                f"{why}. "
                f"Remove {them} from this file; "
                + (f"pass {' / '.join(h for h in refused.values() if h)} on the command line, or "
                   if any(refused.values()) else "")
                + f"set {them} under [{name}] in your own config, {user_config_path()}")

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
