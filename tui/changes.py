"""Noticing changes to the shared index: what a poll saw, and what changed between two polls.

The bank and the catalog live in `<workspace>/.shutka/` and are written by whichever process
holds the writer lock (a watcher, the language server, this app). The app polls the facade and
compares snapshots; these pure types say whether anything changed and describe it for the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from assistant.types import Status, SyncReport

Source = Literal["this process", "another process"]


@dataclass(frozen=True, slots=True)
class IndexSnapshot:
    """What one poll saw of the index, enough to tell that it changed and where."""

    catalog_generation: int
    """Commits to the catalog so far (0: never indexed)."""
    bank_generation: int
    """The bank's vector-file generation (changes on compaction and re-encoding)."""
    entries: int
    """Entries in the memory bank."""
    bank_digest: str | None
    """Digest of the model that encoded the bank."""
    model_digest: str
    """Digest of the model this process loaded."""
    titans_episodes: int
    """Episodes in the Titans store."""
    files: Mapping[str, int] = field(default_factory=dict)
    """Entries per file."""

    @classmethod
    def from_status(cls, status: Status, files: Mapping[str, int]) -> IndexSnapshot:
        """Build from `Assistant.status()` and the per-file counts of `Assistant.files()`."""
        return cls(status.catalog_generation, status.bank.generation, status.bank.entries,
                   status.bank.model_digest, status.model_digest, status.titans_episodes, dict(files))

    @property
    def key(self) -> tuple[int, int, int, str | None, int]:
        """The cheap part: when it is unchanged the per-file counts need not be read again."""
        return (self.catalog_generation, self.bank_generation, self.entries, self.bank_digest,
                self.titans_episodes)


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file whose entry count changed between two snapshots."""

    path: str
    """Workspace-relative path."""
    before: int
    """Entries before (0: the file is new to the bank)."""
    after: int
    """Entries after (0: the file left the bank)."""

    def describe(self) -> str:
        """`src/a.ts +3`, `src/b.ts (new, 5)`, `src/c.ts (gone)`."""
        if self.before == 0:
            return f"{self.path} (new, {self.after})"
        if self.after == 0:
            return f"{self.path} (gone)"
        return f"{self.path} {self.after - self.before:+d}"


@dataclass(frozen=True, slots=True)
class IndexChange:
    """The difference between two snapshots."""

    before: IndexSnapshot
    """The earlier snapshot."""
    after: IndexSnapshot
    """The later snapshot."""
    files: tuple[FileChange, ...]
    """Files whose entry counts changed, by path."""
    source: Source = "another process"
    """Who wrote it, as far as this process can tell."""

    @property
    def bank_changed(self) -> bool:
        """True when entries or vectors changed (views of the bank must reload)."""
        a, b = self.before, self.after
        return (a.catalog_generation, a.bank_generation, a.entries, a.bank_digest, a.files) != \
               (b.catalog_generation, b.bank_generation, b.entries, b.bank_digest, b.files)

    def describe(self, max_files: int = 4) -> str:
        """One log line: what changed, by whom."""
        a, b = self.before, self.after
        parts = []
        if b.catalog_generation != a.catalog_generation:
            parts.append(f"generation {a.catalog_generation} → {b.catalog_generation}")
        if b.entries != a.entries:
            parts.append(f"entries {a.entries} → {b.entries}")
        if b.bank_digest != a.bank_digest:
            parts.append(f"bank re-encoded by {b.bank_digest}")
        elif b.bank_generation != a.bank_generation:
            parts.append(f"bank file generation {b.bank_generation}")
        if b.titans_episodes != a.titans_episodes:
            parts.append(f"Titans episodes {a.titans_episodes} → {b.titans_episodes}")
        if self.files:
            shown = ", ".join(f.describe() for f in self.files[:max_files])
            more = len(self.files) - max_files
            parts.append(shown + (f" and {more} more" if more > 0 else ""))
        return f"{self.source}: " + ("; ".join(parts) or "no visible change")


def diff(before: IndexSnapshot, after: IndexSnapshot, source: Source = "another process") -> IndexChange | None:
    """The change from `before` to `after`, or None when nothing a view shows changed."""
    if before.key == after.key and before.files == after.files:
        return None
    paths = sorted(set(before.files) | set(after.files))
    files = tuple(FileChange(p, before.files.get(p, 0), after.files.get(p, 0)) for p in paths
                  if before.files.get(p, 0) != after.files.get(p, 0))
    return IndexChange(before, after, files, source)


def describe_sync(report: SyncReport) -> str:
    """One log line for a sync this process committed."""
    r = report
    return (f"this process: sync generation {r.generation}: +{r.added} -{r.removed} files, {r.moved} moved, "
            f"{r.skipped} skipped; encoded {r.encoded}, reused {r.reused}; {r.latency_ms:.0f} ms")
