"""`--verify` for the catalog: compare it with a fresh discovery and chunking of the disk.

Zero differences means every indexed file is on disk with the same content hash and section, every
file that should be indexed is, and each file's chunks (ids and content hashes) and count of masked
secrets are exactly what chunking the disk gives today (the fresh chunking masks secrets as a sync
does, so a masked index verifies clean and an unmasked one does not). The assistant extends the report with the bank's own check.
Reads only; logs nothing per file (a verify is not a sync).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from indexer.catalog import Catalog
from indexer.chunking import chunk_text, decode_source
from indexer.config import IndexerConfig
from indexer.discovery import discover
from indexer.reading import content_hash, read_bytes
from indexer.types import Skip
from indexer.workspace import Workspace

log = logging.getLogger(__name__)

MAX_LISTED = 5
"""Chunk ids listed per file in a difference line (the rest are counted)."""


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Differences between the catalog and the disk; empty when they agree."""

    differences: tuple[str, ...]
    files: int
    """Files checked on disk."""
    chunks: int
    """Chunks expected from the disk."""
    secrets: int = 0
    """Secrets the fresh chunking masked (counts only, never what)."""
    secret_files: int = 0
    """Files with at least one masked secret."""

    @property
    def ok(self) -> bool:
        return not self.differences


@dataclass(frozen=True, slots=True)
class _Expected:
    section: str
    digest: str
    chunks: frozenset[tuple[str, str]]
    secrets: int = 0


def _listing(items: set[tuple[str, str]]) -> str:
    ids = sorted(key for key, _ in items)
    more = f" and {len(ids) - MAX_LISTED} more" if len(ids) > MAX_LISTED else ""
    return ", ".join(ids[:MAX_LISTED]) + more


def _expected(workspace: Workspace, config: IndexerConfig) -> tuple[dict[str, _Expected], set[str]]:
    """What the catalog should hold according to the disk, and the paths parsing would decline."""
    found = discover(workspace.root, config)
    expected: dict[str, _Expected] = {}
    declined: set[str] = set()
    for info in found.files:
        data = read_bytes(workspace.root, info.path, config.max_file_bytes)
        if isinstance(data, Skip):
            declined.add(info.path)
            continue
        decoded = decode_source(info, data, config)
        if isinstance(decoded, Skip):
            declined.add(info.path)
            continue
        chunks = chunk_text(info.path, decoded.text, config).chunks
        expected[info.path] = _Expected(info.section, content_hash(data),
                                        frozenset((c.chunk_id, c.content_hash) for c in chunks), decoded.secrets)
    return expected, declined


def verify_catalog(workspace: Workspace, config: IndexerConfig | None = None,
                   catalog: Catalog | None = None) -> VerifyReport:
    """Compare the catalog of `workspace` with the disk (see the module docstring)."""
    config = config or IndexerConfig()
    own = catalog is None
    if catalog is None:
        if not (workspace.state_dir / "index.sqlite").exists():
            return VerifyReport(("no index yet: run `shutka index` first",), 0, 0)
        catalog = Catalog.open(workspace, create=False)
    try:
        expected, declined = _expected(workspace, config)
        with catalog.read():
            states = catalog.file_states()
            chunks = catalog.chunk_keys()
            skips = catalog.skip_states()
            secrets = catalog.secret_counts()
    finally:
        if own:
            catalog.close()
    differences: list[str] = []
    for path in sorted(set(expected) - set(states)):
        differences.append(f"missing from the catalog: {path}")
    for path in sorted(set(states) - set(expected)):
        why = "declined by parsing" if path in declined else "not on disk or no longer indexed"
        differences.append(f"in the catalog but {why}: {path}")
    for path in sorted(set(expected) & set(states)):
        want, have = expected[path], states[path]
        if want.digest != have.content_hash:
            differences.append(f"stale content: {path} (disk {want.digest[:12]}, catalog {have.content_hash[:12]})")
            continue
        if want.section != have.section:
            differences.append(f"wrong section: {path} (disk {want.section}, catalog {have.section})")
        stored = set(chunks.get(path, ()))
        if stored != want.chunks:
            missing, extra = set(want.chunks) - stored, stored - set(want.chunks)
            parts = ([f"missing {_listing(missing)}"] if missing else []) + (
                [f"unexpected {_listing(extra)}"] if extra else [])
            differences.append(f"chunks differ in {path}: {'; '.join(parts)}")
        if want.secrets != secrets.get(path, 0):
            differences.append(f"masked secrets differ in {path} (disk {want.secrets}, catalog {secrets.get(path, 0)})")
    for path in sorted(set(skips) - declined):
        differences.append(f"stale skip record: {path} ({skips[path].reason})")
    total = sum(len(e.chunks) for e in expected.values())
    log.debug("verify: %d files, %d chunks, %d differences", len(expected), total, len(differences))
    masked = [e.secrets for e in expected.values() if e.secrets]
    return VerifyReport(tuple(differences), len(expected) + len(declined), total, sum(masked), len(masked))
