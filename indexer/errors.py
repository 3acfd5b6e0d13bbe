"""Domain errors of the whole project; `ShutkaError` is the root every package derives from.

They live in `indexer` because it is the one package every other package may import.
Messages say what went wrong *and* what to do about it; the CLI edges print them as one line.
"""

from __future__ import annotations

from pathlib import Path


class ShutkaError(Exception):
    """Base of every error Shutka raises on purpose."""


class ConfigError(ShutkaError):
    """A config file or option is invalid; the message names the file and key."""


class IndexerError(ShutkaError):
    """Indexing failed in a way the user can act on."""


class WorkspaceNotFound(IndexerError):
    """The given path is not a directory we can index."""


class CatalogCorrupt(IndexerError):
    """The SQLite catalog cannot be used (damaged, see DatabaseDamaged, or written by a newer Shutka)."""


class DatabaseDamaged(CatalogCorrupt):
    """A workspace's `.shutka/index.sqlite` is damaged: SQLite finds it corrupt or not a database.
    Whichever component (catalog, bank, Titans store) finds it raises this with the same message, and
    opening the workspace (`assistant.recovery`) recovers it."""

    def __init__(self, path: Path | str, why: str) -> None:
        self.path, self.why = Path(path), why
        super().__init__(damaged_database_message(self.path, why))

    def __reduce__(self) -> tuple[object, ...]:
        return type(self), (self.path, self.why)


def damaged_database_message(path: Path, why: str) -> str:
    """The one message for a damaged database, whoever finds it."""
    return (f"the database {path} is damaged ({why}); `shutka index` on its workspace recovers it: the "
            f"damaged file is kept aside as {path.name}.damaged-<time>, the Titans episodes and "
            "suppressions that can still be read are kept, and the rest is rebuilt from the workspace files")


class LockBusy(IndexerError):
    """Another process holds the workspace's writer lock."""
