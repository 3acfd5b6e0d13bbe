"""The assistant's half of a sync, one small hook per artifact (the bank, the Titans episodes, the line
store) behind one `SyncHooks` that `indexer.Indexer.sync` drives: encode what is new, stage bank and
Titans changes in the catalog's transaction, and tell listeners after the commit.

Every change (a save, a buffer flush, `git checkout`, a rename) arrives here through
`indexer.Indexer.sync`, so the bank can never drift from the catalog:
  prepare   (outside the transaction) entries for each parsed file; vectors re-used by content
            hash when the bank already has them (moves, unchanged lines), the rest encoded
  write     (inside it) delete the old entries of changed/removed files, add the new ones, rename
            moved files, prune Titans episodes whose code is gone — one commit with the catalog
  committed readers refresh; listeners (the line store, the graph, the TUI) hear the event
Every text here (entries, the line store's files, the lines Titans learns) comes from a ParsedFile,
whose text the indexer has already masked (indexer.secrets): nothing is masked or unmasked here.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from assistant.memory.bank import EntryMeta, MemoryBank
from assistant.memory.entry_encoding import LatentEncoder
from assistant.memory.suppressions import suppressed_keys
from assistant.memory.titans import TitansStore
from indexer.types import IndexEvent, IndexPlan, ParsedFile

log = logging.getLogger(__name__)

LINE_HASH_PREFIX = "L:"
SPAN_HASH_PREFIX = "S:"
"""Lines and spans are encoded differently (<|line|> vs <|span|>): their hashes never collide."""


@dataclass(slots=True)
class PreparedFile:
    path: str
    section: str
    text: str
    texts: list[str]
    metas: list[EntryMeta]
    vectors: np.ndarray  # (N, L)
    line_hashes: frozenset[str]


@dataclass(slots=True)
class Prepared:
    files: list[PreparedFile] = field(default_factory=list)
    encoded: int = 0
    reused: int = 0
    new_lines: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    """Per changed file that had an earlier version: (0-based line, text) of lines it did not have."""


class LineSink(Protocol):
    """The line store as a sync writes it (assistant.engine.candidates.LineStore)."""

    def set_file(self, path: str, text: str) -> None: ...

    def remove_file(self, path: str) -> None: ...

    def rename_file(self, old: str, new: str) -> None: ...


Listener = Callable[[IndexEvent, dict[str, str]], None]
"""Called after each commit with the event and the new text of every added path."""
Learner = Callable[[str, str, list[tuple[int, str]]], None]
"""Called after a commit with (path, new text, new lines) so new code is written to Titans."""
NEW_LINES_PER_SYNC = 16
"""Lines per sync written to Titans (an edit or a paste, not a branch switch)."""


def entries_for(parsed: ParsedFile) -> tuple[list[str], list[EntryMeta], list[bool]]:
    """Bank entries of one file: its completion lines (workspace code only) and its definitions.

    -> (texts, metadata, is_line flags). Lines are 1-based in the bank."""
    section = parsed.info.section
    texts: list[str] = []
    metas: list[EntryMeta] = []
    is_line: list[bool] = []
    if section == "workspace":
        for lt in parsed.lines:
            texts.append(lt.text.strip())
            metas.append(EntryMeta("line", section, parsed.info.path, lt.line_no + 1, lt.line_no + 1, None,
                                   LINE_HASH_PREFIX + lt.content_hash))
            is_line.append(True)
    for chunk in parsed.chunks:
        texts.append(chunk.text)
        metas.append(EntryMeta(chunk.kind, section, parsed.info.path, chunk.span.start_line + 1,
                               max(chunk.span.start_line + 1, chunk.span.end_line), chunk.symbol,
                               SPAN_HASH_PREFIX + chunk.content_hash))
        is_line.append(False)
    return texts, metas, is_line


def _without(entries: tuple[list[str], list[EntryMeta], list[bool]], path: str,
             suppressed: set[tuple[str, str]]) -> tuple[list[str], list[EntryMeta], list[bool]]:
    if not suppressed:
        return entries
    keep = [i for i, m in enumerate(entries[1]) if (path, m.content_hash or "") not in suppressed]
    return [entries[0][i] for i in keep], [entries[1][i] for i in keep], [entries[2][i] for i in keep]


def is_workspace_code(path: str) -> bool:
    """Whether `path` is the user's own code (not a dependency, not a declaration file)."""
    return not path.startswith("node_modules/") and not path.endswith((".d.ts", ".d.mts", ".d.cts"))


def _gone(prepared: Prepared, plan: IndexPlan) -> set[str]:
    """Paths whose entries go: deleted, or planned but no longer parsed (vanished, declined)."""
    parsed_paths = {f.path for f in prepared.files}
    return set(plan.delete) | {info.path for info in plan.compute if info.path not in parsed_paths}


class BankHook:
    """The bank's part: entries of each parsed file encoded (or re-used by content hash) and staged."""

    def __init__(self, bank: MemoryBank, encoder: LatentEncoder) -> None:
        self.bank, self.encoder = bank, encoder
        self.progress: Callable[[int], None] | None = None
        """Called with the number of entries encoded after each encoder batch (progress bars)."""

    def prepare(self, per_file: list[tuple[ParsedFile, list[str], list[EntryMeta], list[bool]]],
                prepared: Prepared) -> None:
        hashes = {m.content_hash for _, _, metas, _ in per_file for m in metas if m.content_hash}
        known = self.bank.find_by_hash(hashes) if hashes and len(self.bank) else {}
        reuse_ids = sorted(set(known.values()))
        reused = dict(zip(reuse_ids, self.bank.vectors(reuse_ids), strict=True)) if reuse_ids else {}
        todo: dict[str, list[int]] = {}  # lines and spans in one encoder pass (a save brings one of each)
        for _, texts, metas, is_line in per_file:
            for text, meta, line in zip(texts, metas, is_line, strict=True):
                h = meta.content_hash or ""
                if h not in known and h not in todo:
                    todo[h] = self.encoder.line_ids(text) if line else self.encoder.span_ids(text)
        fresh: dict[str, np.ndarray] = {}
        if todo:
            fresh.update(zip(todo, self.encoder.encode_ids(list(todo.values()), self.progress), strict=True))
        for p, texts, metas, _ in per_file:
            vectors = np.zeros((len(texts), self.encoder.dim), dtype=np.float32)
            for i, meta in enumerate(metas):
                h = meta.content_hash or ""
                if h in known:
                    vectors[i] = reused[known[h]]
                    prepared.reused += 1
                else:
                    vectors[i] = fresh[h]
                    prepared.encoded += 1
            line_hashes = frozenset(m.content_hash for m in metas if m.kind == "line" and m.content_hash)
            prepared.files.append(PreparedFile(p.info.path, p.info.section, p.text, texts, metas, vectors,
                                               line_hashes))

    def write(self, conn: sqlite3.Connection, prepared: Prepared, plan: IndexPlan) -> tuple[int, int]:
        """-> (entries added, entries removed)."""
        removed = added = 0
        for path in sorted(_gone(prepared, plan)):
            removed += self.bank.stage_delete_file(conn, path)
        for old, new in plan.moved:
            self.bank.stage_rename_file(conn, old, new)
        for f in prepared.files:
            removed += self.bank.stage_delete_file(conn, f.path)
            if f.texts:
                added += len(self.bank.stage_add(conn, f.vectors, f.texts, f.metas))
        return added, removed

    def committed(self) -> None:
        self.bank.refresh()


class TitansHook:
    """The Titans episodes' part: episodes of deleted code go in the same commit; new lines of a small
    change (an edit, a paste) are written to the memory after it (`learner`)."""

    def __init__(self, titans: TitansStore, bank: MemoryBank) -> None:
        self.titans, self.bank = titans, bank
        self.learner: Learner | None = None

    def prepare(self, per_file: list[tuple[ParsedFile, list[str], list[EntryMeta], list[bool]]],
                prepared: Prepared) -> None:
        if self.learner is None or len(per_file) > 4:
            return
        for p, texts, metas, _ in per_file:
            if p.info.section != "workspace":
                continue
            old = {e.content_hash for e in self.bank.entries(p.info.path, "line", limit=100_000)}
            if old:
                fresh_lines = [((m.start_line or 1) - 1, t) for t, m in zip(texts, metas, strict=True)
                               if m.kind == "line" and m.content_hash not in old]
                prepared.new_lines[p.info.path] = fresh_lines[:NEW_LINES_PER_SYNC]

    def write(self, conn: sqlite3.Connection, prepared: Prepared, plan: IndexPlan) -> None:
        for path in sorted(_gone(prepared, plan)):
            self.titans.stage_delete_file(conn, path)
        for old, new in plan.moved:
            self.titans.stage_rename_file(conn, old, new)
        for f in prepared.files:
            self.titans.stage_prune_file(conn, f.path, f.line_hashes)

    def committed(self, texts: dict[str, str], new_lines: dict[str, list[tuple[int, str]]]) -> None:
        self.titans.refresh()
        if self.learner is None:
            return
        for path, fresh in new_lines.items():
            if fresh and path in texts:
                try:
                    self.learner(path, texts[path], fresh)
                except Exception:  # learning is best-effort; the commit already happened
                    log.exception("writing new lines of %s to the Titans memory failed", path)


class LinesHook:
    """The line store's part: after a commit it holds the new text of every changed workspace file."""

    def __init__(self, lines: LineSink) -> None:
        self.lines = lines

    def committed(self, event: IndexEvent, texts: dict[str, str]) -> None:
        for old, new in event.moved:
            self.lines.rename_file(old, new)
        for path in event.removed:
            self.lines.remove_file(path)
        for path, text in texts.items():
            if is_workspace_code(path):
                self.lines.set_file(path, text)


class SyncHooks:
    """Implements `indexer.sync.SyncHook` for one workspace: the artifact hooks in one transaction."""

    def __init__(self, bank: BankHook, titans: TitansHook | None, lines: LinesHook) -> None:
        self.bank, self.titans, self.lines = bank, titans, lines
        self.listeners: list[Listener] = []
        self._texts: dict[str, str] = {}
        self._new_lines: dict[str, list[tuple[int, str]]] = {}
        self._lock = threading.Lock()

    def prepare(self, parsed: Sequence[ParsedFile], plan: IndexPlan) -> Prepared:
        prepared = Prepared()
        suppressed = suppressed_keys(self.bank.bank.db_path, [p.info.path for p in parsed])
        per_file = [(p, *_without(entries_for(p), p.info.path, suppressed)) for p in parsed]
        self.bank.prepare(per_file, prepared)
        if self.titans is not None:
            self.titans.prepare(per_file, prepared)
        return prepared

    def write(self, conn: sqlite3.Connection, prepared: object, plan: IndexPlan) -> dict[str, int]:
        assert isinstance(prepared, Prepared)
        added, removed = self.bank.write(conn, prepared, plan)
        if self.titans is not None:
            self.titans.write(conn, prepared, plan)
        with self._lock:
            self._texts = {f.path: f.text for f in prepared.files}
            self._new_lines = dict(prepared.new_lines)
        return {"encoded": prepared.encoded, "reused": prepared.reused, "entries_added": added,
                "entries_removed": removed}

    def committed(self, event: IndexEvent) -> None:
        self.bank.committed()
        with self._lock:
            texts, self._texts = self._texts, {}
            new_lines, self._new_lines = self._new_lines, {}
        if self.titans is not None:
            self.titans.committed(texts, new_lines)
        self.lines.committed(event, texts)
        for listener in list(self.listeners):
            try:
                listener(event, texts)
            except Exception:  # a listener must never break the sync path; say which and why
                log.exception("index listener %r failed on generation %d", listener, event.generation)
