"""Domain errors of the whole project; `ShutkaError` is the root every package derives from.

They live in `indexer` because it is the one package every other package may import.
Messages say what went wrong *and* what to do about it; the CLI edges print them as one line.
"""

from __future__ import annotations


class ShutkaError(Exception):
    """Base of every error Shutka raises on purpose."""


class ConfigError(ShutkaError):
    """A config file or option is invalid; the message names the file and key."""


class IndexerError(ShutkaError):
    """Indexing failed in a way the user can act on."""


class WorkspaceNotFound(IndexerError):
    """The given path is not a directory we can index."""


class CatalogCorrupt(IndexerError):
    """The SQLite catalog cannot be read; delete `.shutka/` and re-index."""


class LockBusy(IndexerError):
    """Another process holds the workspace's writer lock."""
