"""The assistant's half of a sync: encode what is new, stage bank and Titans changes in the catalog's
transaction, and tell listeners after the commit.

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
from pathlib import Path

import numpy as np

from assistant.bank import EntryMeta, MemoryBank
from assistant.encoding import LatentEncoder
from assistant.titans_store import TitansStore
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


def suppressed_keys(db_path: Path, paths: Sequence[str]) -> set[tuple[str, str]]:
    """(file, content hash) pairs the user deleted from the bank: sync does not bring them back."""
    if not paths:
        return set()
    conn = sqlite3.connect(db_path, timeout=30.0)
    try:
        marks = ",".join("?" * len(paths))
        rows = conn.execute(f"SELECT file, content_hash FROM assistant_suppressed WHERE file IN ({marks})",
                            list(paths)).fetchall()
    except sqlite3.OperationalError:  # no table yet: nothing was ever deleted by hand
        return set()
    finally:
        conn.close()
    return {(f, h) for f, h in rows}


def _without(entries: tuple[list[str], list[EntryMeta], list[bool]], path: str,
             suppressed: set[tuple[str, str]]) -> tuple[list[str], list[EntryMeta], list[bool]]:
    if not suppressed:
        return entries
    keep = [i for i, m in enumerate(entries[1]) if (path, m.content_hash or "") not in suppressed]
    return [entries[0][i] for i in keep], [entries[1][i] for i in keep], [entries[2][i] for i in keep]


class BankSyncHook:
    """Implements `indexer.sync.SyncHook` for one workspace's bank and Titans store."""

    def __init__(self, bank: MemoryBank, encoder: LatentEncoder, titans: TitansStore | None = None) -> None:
        self.bank = bank
        self.encoder = encoder
        self.titans = titans
        self.listeners: list[Listener] = []
        self._texts: dict[str, str] = {}
        self._lock = threading.Lock()
        self.progress: Callable[[int], None] | None = None
        """Called with the number of entries encoded after each encoder batch (progress bars)."""
        self.learner: Learner | None = None
        self._new_lines: dict[str, list[tuple[int, str]]] = {}

    # -- SyncHook ------------------------------------------------------------------------------------

    def prepare(self, parsed: Sequence[ParsedFile], plan: IndexPlan) -> Prepared:
        prepared = Prepared()
        suppressed = suppressed_keys(self.bank.db_path, [p.info.path for p in parsed])
        per_file = [(p, *_without(entries_for(p), p.info.path, suppressed)) for p in parsed]
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
            if self.learner is not None and len(parsed) <= 4 and p.info.section == "workspace":
                old = {e.content_hash for e in self.bank.entries(p.info.path, "line", limit=100_000)}
                if old:
                    fresh_lines = [((m.start_line or 1) - 1, t) for t, m in zip(texts, metas, strict=True)
                                   if m.kind == "line" and m.content_hash not in old]
                    prepared.new_lines[p.info.path] = fresh_lines[:NEW_LINES_PER_SYNC]
            prepared.files.append(PreparedFile(p.info.path, p.info.section, p.text, texts, metas, vectors,
                                               line_hashes))
        return prepared

    def write(self, conn: sqlite3.Connection, prepared: object, plan: IndexPlan) -> dict[str, int]:
        assert isinstance(prepared, Prepared)
        removed = added = 0
        parsed_paths = {f.path for f in prepared.files}
        gone = set(plan.delete) | {info.path for info in plan.compute if info.path not in parsed_paths}
        for path in sorted(gone):
            removed += self.bank.stage_delete_file(conn, path)
            if self.titans is not None:
                self.titans.stage_delete_file(conn, path)
        for old, new in plan.moved:
            self.bank.stage_rename_file(conn, old, new)
            if self.titans is not None:
                self.titans.stage_rename_file(conn, old, new)
        for f in prepared.files:
            removed += self.bank.stage_delete_file(conn, f.path)
            if f.texts:
                added += len(self.bank.stage_add(conn, f.vectors, f.texts, f.metas))
            if self.titans is not None:
                self.titans.stage_prune_file(conn, f.path, f.line_hashes)
        with self._lock:
            self._texts = {f.path: f.text for f in prepared.files}
            self._new_lines = dict(prepared.new_lines)
        return {"encoded": prepared.encoded, "reused": prepared.reused, "entries_added": added,
                "entries_removed": removed}

    def committed(self, event: IndexEvent) -> None:
        self.bank.refresh()
        if self.titans is not None:
            self.titans.refresh()
        with self._lock:
            texts, self._texts = self._texts, {}
            new_lines, self._new_lines = self._new_lines, {}
        if self.learner is not None:
            for path, fresh in new_lines.items():
                if fresh and path in texts:
                    try:
                        self.learner(path, texts[path], fresh)
                    except Exception:  # learning is best-effort; the commit already happened
                        log.exception("writing new lines of %s to the Titans memory failed", path)
        for listener in list(self.listeners):
            try:
                listener(event, texts)
            except Exception:  # a listener must never break the sync path; say which and why
                log.exception("index listener %r failed on generation %d", listener, event.generation)
