"""The verdict on one file: is it a secret, a non-regular file, too large, or indexed — and the
Skip (plus log line) for every file we decline. Shared by the workspace walk and dependency discovery."""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from indexer.config import IndexerConfig
from indexer.types import FileInfo, Skip

if TYPE_CHECKING:
    from indexer.ignore_rules import IgnoreRules

log = logging.getLogger(__name__)

SECRET_PATTERNS = (
    ".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "*.crt", "*.cer", "*.der", "*.jks",
    "*.keystore", "*.kdbx", "*.gpg", "*.asc", "*.ovpn", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*",
    ".npmrc", ".netrc", ".pgpass", "credentials", "credentials.*", "*.secret", "*.secrets",
)
"""File names that hold secrets. Matched against the name and against the name without its TypeScript
extension, so `.env.ts`, `server.key.ts` or `credentials.ts` are kept out as well."""


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


def record_skip(skipped: list[Skip], path: str, reason: str, level: int) -> None:
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
                record_skip(skipped, rel, reason, logging.INFO)
            return None
    if secret:
        record_skip(skipped, rel, "looks like a secret (never indexed)", logging.INFO)
        return None
    if not stat.S_ISREG(st.st_mode):
        record_skip(skipped, rel, f"not a regular file ({_kind_of(st.st_mode)})", logging.WARNING)
        return None
    if st.st_size > config.max_file_bytes:
        record_skip(skipped, rel, f"too large ({st.st_size} bytes > max_file_bytes {config.max_file_bytes})",
                        logging.WARNING)
        return None
    return FileInfo(rel, st.st_size, st.st_mtime_ns, section)  # type: ignore[arg-type]


def is_library_path(rel: str) -> bool:
    """True for paths inside a node_modules folder (library section, refreshed by full syncs only)."""
    return rel.startswith("node_modules/") or "/node_modules/" in rel
