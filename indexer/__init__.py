"""FILES → CHUNKS + GRAPH: discovery, tree-sitter chunking, the code graph, the catalog and sync.

Knows TypeScript and the disk; knows nothing about models.

The public names below are loaded lazily, so `import indexer.types` stays cheap (no tree-sitter,
SQLite or watchdog until they are used).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Workspace": "indexer.workspace",
    "IndexerConfig": "indexer.config",
    "Chunk": "indexer.types", "FileInfo": "indexer.types", "IndexEvent": "indexer.types",
    "IndexPlan": "indexer.types", "LineTarget": "indexer.types", "ParsedFile": "indexer.types",
    "Skip": "indexer.types",
    "Indexer": "indexer.sync", "SyncHook": "indexer.sync",
    "Catalog": "indexer.catalog",
    "SymbolGraph": "indexer.graph",
    "Watcher": "indexer.watcher", "SyncingWatcher": "indexer.watcher",
    "VerifyReport": "indexer.verify", "verify_catalog": "indexer.verify",
    "parse_file": "indexer.chunking", "line_targets": "indexer.chunking",
}
__all__ = [
    "Catalog", "Chunk", "FileInfo", "IndexEvent", "IndexPlan", "Indexer", "IndexerConfig", "LineTarget",
    "ParsedFile", "Skip", "SymbolGraph", "SyncHook", "SyncingWatcher", "VerifyReport", "Watcher", "Workspace",
    "line_targets", "parse_file", "verify_catalog",
]

if TYPE_CHECKING:
    from indexer.catalog import Catalog
    from indexer.chunking import line_targets, parse_file
    from indexer.config import IndexerConfig
    from indexer.graph import SymbolGraph
    from indexer.sync import Indexer, SyncHook
    from indexer.types import Chunk, FileInfo, IndexEvent, IndexPlan, LineTarget, ParsedFile, Skip
    from indexer.verify import VerifyReport, verify_catalog
    from indexer.watcher import SyncingWatcher, Watcher
    from indexer.workspace import Workspace


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'indexer' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
