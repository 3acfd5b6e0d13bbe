"""`shutka index --verify`: the bank against the catalog, the catalog against a fresh chunking of the
disk, and the bank's own invariants. Zero differences means the index is exactly the disk."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from assistant.memory.bank import MemoryBank
from assistant.memory.entry_encoding import LatentEncoder
from assistant.memory.suppressions import suppressed_keys
from assistant.memory.sync_hooks import LINE_HASH_PREFIX, SPAN_HASH_PREFIX
from indexer.catalog import Catalog
from indexer.chunking import line_targets
from indexer.sync import Indexer
from indexer.verify import verify_catalog
from indexer.workspace import Workspace

MAX_LISTED = 5


@dataclass(frozen=True, slots=True)
class WorkspaceVerifyReport:
    differences: tuple[str, ...]
    files: int
    chunks: int
    entries: int
    secrets: int = 0
    """Secrets the fresh chunking of the disk masked (counts only, never what)."""
    secret_files: int = 0

    @property
    def ok(self) -> bool:
        return not self.differences


def expected_entries(catalog: Catalog, bank: MemoryBank) -> Counter:
    """(file, kind, content hash, start line) of every bank entry the catalog implies."""
    states = catalog.file_states()
    suppressed = suppressed_keys(bank.db_path, list(states))
    want: Counter = Counter()
    for path, state in states.items():
        if state.section == "workspace":
            text = catalog.file_text(path) or ""
            for lt in line_targets(path, text):
                key = LINE_HASH_PREFIX + lt.content_hash
                if (path, key) not in suppressed:
                    want[(path, "line", key, lt.line_no + 1)] += 1
        for chunk in catalog.chunks(path):
            key = SPAN_HASH_PREFIX + chunk.content_hash
            if (path, key) not in suppressed:
                want[(path, chunk.kind, key, chunk.span.start_line + 1)] += 1
    return want


def bank_differences(bank: MemoryBank, encoder: LatentEncoder, catalog: Catalog) -> tuple[list[str], int]:
    """The bank against the catalog (entries, vectors, model) -> (differences, entries in the bank)."""
    differences = [f"bank: {p}" for p in bank.check()]
    digest = bank.model_digest
    if digest is not None and digest != encoder.digest and len(bank):
        differences.append(f"bank encoded by model {digest}, loaded model is {encoder.digest}")
    want = expected_entries(catalog, bank)
    have: Counter = Counter()
    for file, _section, _count in bank.files():
        for e in bank.entries(file, limit=10_000_000):
            have[(e.file, e.kind, e.content_hash, e.start_line)] += 1
    missing, extra = want - have, have - want
    for label, diff in (("missing from the bank", missing), ("in the bank but not in the catalog", extra)):
        if diff:
            files = Counter(k[0] for k in diff.elements())
            listed = ", ".join(f"{f} ({n})" for f, n in files.most_common(MAX_LISTED))
            more = f" and {len(files) - MAX_LISTED} more files" if len(files) > MAX_LISTED else ""
            differences.append(f"{sum(diff.values())} entries {label}: {listed}{more}")
    return differences, sum(have.values())


def verify_workspace(workspace: Workspace, indexer: Indexer, bank: MemoryBank,
                     encoder: LatentEncoder) -> WorkspaceVerifyReport:
    """Catalog against a fresh chunking of the disk, then bank against catalog (`Assistant.verify`)."""
    catalog_report = verify_catalog(workspace, indexer.config, indexer.catalog)
    bank_report, entries = bank_differences(bank, encoder, indexer.catalog)
    return WorkspaceVerifyReport(tuple(catalog_report.differences) + tuple(bank_report), catalog_report.files,
                                 catalog_report.chunks, entries, catalog_report.secrets, catalog_report.secret_files)
