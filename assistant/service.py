"""The `Assistant` facade: the one object the surfaces (LSP, HTTP API, TUI, CLI) talk to.

It owns nothing heavy itself; `assistant.runtime.open_runtime` builds it from a workspace and a
checkpoint and wires index events into it. Surfaces never reach past it into the model or the bank.

Text that comes from an editor or a client (buffers, requests, accepted lines) has its secrets masked
here, once, on the way in (indexer.secrets, with the workspace's [indexer] settings; same length, so
lines and columns still hold); indexed text was masked by the indexer.
"""

from __future__ import annotations

import difflib
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from assistant import navigation
from assistant.bank import Entry, MemoryBank
from assistant.chat import answer
from assistant.complete import Completer
from assistant.encoding import LatentEncoder
from assistant.errors import InvalidRequest
from assistant.lexical import LineStore
from assistant.sync_hook import BankSyncHook
from assistant.titans_store import TitansStore
from assistant.types import (
    BankStats,
    ChatAnswer,
    ChatMessage,
    CompletionRequest,
    CompletionResult,
    Explanation,
    Hit,
    Hop,
    Status,
    SyncReport,
    TitansStats,
)
from indexer.sync import Indexer
from indexer.types import IndexEvent
from indexer.workspace import Workspace

log = logging.getLogger(__name__)

SUPPRESSED_SCHEMA = """
CREATE TABLE IF NOT EXISTS assistant_suppressed (
    file TEXT NOT NULL, content_hash TEXT NOT NULL, PRIMARY KEY (file, content_hash));
"""


def to_hit(entry: Entry, score: float = 0.0) -> Hit:
    return Hit(entry.id, float(score), entry.text, entry.kind, entry.file, entry.start_line, entry.end_line,
               entry.symbol, entry.section, entry.content_hash)


class Assistant:
    """Completions, memory and index of one workspace. Thread-safe."""

    def __init__(self, workspace: Workspace, indexer: Indexer, bank: MemoryBank, encoder: LatentEncoder,
                 completer: Completer, hook: BankSyncHook, lines: LineStore, titans: TitansStore | None,
                 model_name: str) -> None:
        self.workspace, self.indexer, self.bank, self.encoder = workspace, indexer, bank, encoder
        self.completer, self.hook, self.lines, self.titans = completer, hook, lines, titans
        self.model_name = model_name
        self.last_sync: SyncReport | None = None
        self.indexing = False
        self._documents: dict[str, str] = {}
        self._doc_lock = threading.Lock()
        self._listeners: list[Callable[[SyncReport], None]] = []
        self._seen: dict[str, tuple[int, str]] = {}  # path -> (catalog generation, content hash) in the line store
        hook.listeners.append(self._on_commit)
        if titans is not None:
            hook.learner = self._learn_new_code
            titans.drop_secrets(self._mask)  # episodes an older Shutka kept unmasked

    # -- completion --------------------------------------------------------------------------------------

    def complete(self, request: CompletionRequest) -> CompletionResult:
        """Completions at the cursor (never raises on odd input: a bounded, possibly empty answer)."""
        _check_request(request)
        return self.completer.complete(self._incoming(request))

    def explain(self, request: CompletionRequest) -> Explanation:
        """Every candidate with its features, score and confidence, the HopRAG hops, the gate's decision."""
        _check_request(request)
        return self.completer.explain(self._incoming(request))

    def feedback(self, request: CompletionRequest, text: str, accepted: bool) -> tuple[int, float]:
        """The client accepted (or rejected) `text` at `request`'s cursor. An accepted line is what the
        user wanted: the Titans memory learns it. -> (episodes kept, surprise)."""
        if not accepted:
            return 0, 0.0
        request = self._incoming(request)
        line = request.text.split("\n")[request.line][: request.column] if request.text else ""
        return self.completer.learn(request, self._mask((line + text).split("\n", 1)[0]))

    # -- open documents ----------------------------------------------------------------------------------

    def open_document(self, path: str, text: str) -> None:
        """An editor opened `path`: its buffer (secrets masked) is context and wins over the disk."""
        rel = self.workspace.relative(path)
        text = self._mask(text)
        with self._doc_lock:
            self._documents[rel] = text
        self.lines.overlay(rel, text)

    def update_document(self, path: str, text: str) -> int:
        """The buffer changed. Lines the user finished since the last version are learned (Titans).
        -> how many finished lines were written to the memory."""
        rel = self.workspace.relative(path)
        text = self._mask(text)
        with self._doc_lock:
            before = self._documents.get(rel)
            self._documents[rel] = text
        self.lines.overlay(rel, text)
        if before is None or self.titans is None:
            return 0
        learned = 0
        for line_no, line in finished_lines(before, text)[:4]:
            request = CompletionRequest(text, line_no, 0, rel)
            kept, _ = self.completer.learn(request, line)
            learned += kept
        return learned

    def close_document(self, path: str) -> None:
        """The editor closed the buffer: the saved file is context again."""
        rel = self.workspace.relative(path)
        with self._doc_lock:
            self._documents.pop(rel, None)
        self.lines.clear_overlay(rel)

    # -- index -------------------------------------------------------------------------------------------

    def sync(self, paths: list[str] | None = None, started_at: float | None = None,
             progress: Callable[[int, int], None] | None = None) -> SyncReport:
        """Bring catalog, bank and Titans store in step with the disk (all, or just `paths`)."""
        self.indexing = True
        try:
            event = self.indexer.sync(paths, self.hook, started_at, progress=progress)
        finally:
            self.indexing = False
        return self.last_sync or _report(event)

    def add_listener(self, listener: Callable[[SyncReport], None]) -> None:
        """Called after every committed sync (from the syncing thread)."""
        self._listeners.append(listener)

    def _learn_new_code(self, path: str, text: str, new_lines: list[tuple[int, str]]) -> None:
        """New code reached the index (a save, a paste, a generated file): the Titans memory is
        written with each new line in its context, surprise-gated (what it already predicts is skipped)."""
        for line_no, line in new_lines:
            self.completer.learn(CompletionRequest(text, line_no, 0, path), line)

    def _on_commit(self, event: IndexEvent, texts: dict[str, str]) -> None:
        for path in event.removed:
            self._seen.pop(path, None)
        for old, new in event.moved:
            self.lines.rename_file(old, new)
        for path in event.removed:
            self.lines.remove_file(path)
        for path, text in texts.items():
            if _is_workspace_code(path):
                self.lines.set_file(path, text)
        report = _report(event)
        self.last_sync = report
        for listener in list(self._listeners):
            try:
                listener(report)
            except Exception:  # a surface's listener must not break syncing; log with context
                log.exception("sync listener %r failed", listener)

    # -- memory bank -------------------------------------------------------------------------------------

    def bank_stats(self) -> BankStats:
        s = self.bank.stats()
        db = self.bank.db_path
        db_bytes = sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())
        vector_bytes = 4 * s.dim
        memory = (s.delta * vector_bytes) + (0 if s.mmapped else s.index_bytes)
        return BankStats(s.entries, dict(s.by_kind), dict(s.by_section), s.files, s.generation,
                         s.index_bytes + db_bytes, memory, s.mmapped, s.model_digest, s.delta, s.tombstones,
                         s.index_type)

    def search(self, query: str, k: int = 10, mode: str = "semantic", kinds: list[str] | None = None) -> list[Hit]:
        """Search the bank: `semantic` through the model, `text` as a plain substring match."""
        if mode not in ("semantic", "text"):
            raise InvalidRequest(f"search mode must be 'semantic' or 'text', not {mode!r}")
        if not query.strip():
            return []
        if mode == "text":
            return [to_hit(e) for e in self._text_search(query, k, kinds)]
        vector = self.encoder.encode_spans([query])[0]
        hits = self.bank.search(vector, k, kinds=kinds)[0] if len(self.bank) else []
        return [to_hit(h.entry, h.score) for h in hits]

    def _text_search(self, query: str, k: int, kinds: list[str] | None) -> list[Entry]:
        conn = sqlite3.connect(self.bank.db_path, timeout=30.0)
        try:
            sql = "SELECT id FROM bank_entries WHERE (text LIKE ? ESCAPE '\\' OR symbol LIKE ? ESCAPE '\\')"
            like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            args: list[object] = [like, like]
            if kinds:
                sql += f" AND kind IN ({','.join('?' * len(kinds))})"
                args += kinds
            ids = [r[0] for r in conn.execute(sql + " ORDER BY kind != 'line', id LIMIT ?", [*args, k])]
        finally:
            conn.close()
        return self.bank.get(ids)

    def files(self) -> list[tuple[str, str, int]]:
        """(path, section, entries) for every file in the bank."""
        return self.bank.files()

    def entries(self, path: str | None = None, kind: str | None = None, limit: int = 1000, offset: int = 0) -> list[Hit]:
        return [to_hit(e) for e in self.bank.entries(path, kind, limit=limit, offset=offset)]

    def entry(self, entry_id: int) -> Hit | None:
        found = self.bank.get([entry_id])
        return to_hit(found[0]) if found else None

    def delete_entries(self, ids: list[int]) -> int:
        """Forget these entries; they stay forgotten (not re-added) until their code changes."""
        entries = self.bank.get(ids)
        self._suppress([(e.file, e.content_hash) for e in entries if e.file])
        return self.bank.delete_memory([e.id for e in entries])

    def delete_file_entries(self, path: str) -> int:
        entries = self.bank.entries(path, limit=1_000_000)
        self._suppress([(e.file, e.content_hash) for e in entries if e.file])
        return self.bank.delete_file(path)

    def _suppress(self, keys: list[tuple[str | None, str]]) -> None:
        with self.bank.lock():
            conn = sqlite3.connect(self.bank.db_path, timeout=30.0)
            try:
                conn.executescript(SUPPRESSED_SCHEMA)
                conn.executemany("INSERT OR IGNORE INTO assistant_suppressed VALUES (?, ?)", keys)
                conn.commit()
            finally:
                conn.close()

    def reencode(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-encode every entry with the loaded model (after a model change). -> entries re-encoded."""
        self.bank.reencode(self.encoder.encode_entries, self.encoder.digest, progress)
        return len(self.bank)

    def bank_mismatch(self) -> str | None:
        """Why the bank cannot be used with the loaded model (encoded by another), or None."""
        digest = self.bank.model_digest
        if digest is not None and digest != self.encoder.digest and len(self.bank):
            return f"the bank was encoded by model {digest}; the loaded model is {self.encoder.digest}"
        return None

    # -- following other processes ------------------------------------------------------------------------

    def version(self) -> tuple[int, int, int]:
        """(catalog generation, bank generation, bank entries): one cheap read; a change means another
        process (a watcher, the language server) committed something."""
        return self.indexer.catalog.generation(), self.bank.generation, len(self.bank)

    def refresh(self) -> bool:
        """Catch this process's caches up with commits made by other processes: the bank's view, the
        Titans episodes, the line store. -> True when something changed."""
        changed = self.bank.refresh()
        if self.titans is not None:
            self.titans.refresh()
        states = self.indexer.catalog.file_states()
        wanted = {p: (st.generation, st.content_hash) for p, st in states.items()
                  if st.section == "workspace" and _is_workspace_code(p)}
        for path in set(self._seen) - set(wanted):
            self.lines.remove_file(path)
            changed = True
        for path, key in wanted.items():
            if self._seen.get(path) != key:
                text = self.indexer.catalog.file_text(path)
                if text is not None and states[path].chunker != self.indexer.chunker_fingerprint:
                    text = self._mask(text)  # stored by an older Shutka: the next sync re-masks the row
                if text is not None:
                    self.lines.set_file(path, text)
                    changed = True
        self._seen = wanted
        return changed

    def neighbours(self, entry_id: int, hops: int = 1) -> list[Hop]:
        """Code-graph neighbours of a definition entry (HopRAG's hops), nearest first."""
        found = self.bank.get([entry_id])
        graph = self.indexer.graph()
        if not found or found[0].kind == "line" or found[0].start_line is None:
            return []
        e = found[0]
        cid = f"{e.file}#{e.symbol}@{e.start_line - 1}"
        out = []
        for other, hop in graph.neighbours(cid, hops, limit=64):
            node = graph.node(other)
            if node is not None:
                out.append(Hop(other, node.symbol, node.path, hop, 1.0 / hop))
        return out

    # -- symbols and definitions -------------------------------------------------------------------------

    def symbols(self, query: str, limit: int = 50) -> list[Hit]:
        """Definitions whose symbol contains `query` (case-insensitive), best matches first."""
        return navigation.symbols(self.indexer.graph(), query, limit)

    def definition_at(self, path: str, text: str, line: int, column: int) -> Hit | None:
        """The definition of the identifier under the cursor, through the code graph."""
        return navigation.definition_at(self.indexer.graph(), self.workspace.relative(path), text, line, column)

    # -- embeddings and chat -----------------------------------------------------------------------------

    def embed(self, texts: list[str]) -> np.ndarray:
        """(N,) texts -> (N, L) unit latents from the target encoder (what the bank stores)."""
        return self.encoder.encode_spans(texts)

    def chat(self, messages: list[ChatMessage], max_tokens: int = 256) -> ChatAnswer:
        """Answer from the workspace (assistant.chat): related definitions and lines, each cited as
        path:line; code at the end of the question is completed."""
        return answer(self, messages, max_tokens)

    # -- Titans ------------------------------------------------------------------------------------------

    def _titans(self) -> TitansStore:
        if self.titans is None:
            raise InvalidRequest("the loaded model has no Titans memory (use_titans=False)")
        return self.titans

    def titans_save(self, path: str | None = None) -> Path:
        return self._titans().save(Path(path) if path else None)

    def titans_load(self, path: str | None = None) -> Path:
        """Load a file `titans_save` wrote (default: the workspace's own file); returns its path."""
        return self._titans().load(Path(path) if path else None)

    def titans_forget(self, n: int) -> int:
        if n < 0:
            raise InvalidRequest(f"forget needs n >= 0, got {n}")
        return self._titans().forget(n)

    @property
    def tokenizer(self):  # type: ignore[no-untyped-def]
        """The model's tokenizer (surfaces count and cut tokens with it: usage, max_tokens)."""
        return self.encoder.tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self.encoder.tokenizer.encode(text))

    def titans_stats(self) -> TitansStats:
        return self._titans().stats()

    # -- status ------------------------------------------------------------------------------------------

    def status(self) -> Status:
        counts = self.indexer.catalog.counts()
        return Status(str(self.workspace.root), self.model_name, self.encoder.digest, self.bank_stats(),
                      self.indexer.catalog.generation(), counts.get("files", 0), self.last_sync,
                      self.titans.count() if self.titans else 0, self.indexing)

    def _mask(self, text: str) -> str:
        """`text` with its secrets masked (the same object when it has none)."""
        return self.indexer.scanner.mask(text).text

    def _incoming(self, request: CompletionRequest) -> CompletionRequest:
        """The request with a workspace-relative path and its buffer's secrets masked (same offsets):
        no line of it can become a candidate, a prompt or a Titans episode unmasked."""
        request = self._relative(request)
        text = self._mask(request.text)
        return request if text is request.text else replace(request, text=text)

    def _relative(self, request: CompletionRequest) -> CompletionRequest:
        if request.path is None:
            return request
        rel = self.workspace.relative(request.path) if Path(request.path).is_absolute() else request.path
        if rel == request.path:
            return request
        return replace(request, path=rel)


def _check_request(request: CompletionRequest) -> None:
    if not isinstance(request.text, str):
        raise InvalidRequest("text must be a string")
    if request.line < 0 or request.column < 0:
        raise InvalidRequest(f"position must be non-negative (line {request.line}, column {request.column})")


def _report(event: IndexEvent) -> SyncReport:
    return SyncReport(event.generation, len(event.added), len(event.removed), len(event.moved), len(event.skipped),
                      event.stats.get("encoded", 0), event.stats.get("reused", 0), event.latency_ms,
                      tuple(event.added[:20]))


def _is_workspace_code(path: str) -> bool:
    return not path.startswith("node_modules/") and not path.endswith((".d.ts", ".d.mts", ".d.cts"))


def finished_lines(before: str, after: str) -> list[tuple[int, str]]:
    """Lines of `after` that are new relative to `before` and no longer being typed (a later line
    exists): (0-based line, text). Each is a line the user wrote — what Titans learns from."""
    a, b = before.split("\n"), after.split("\n")
    out = []
    for tag, _, _, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag in ("insert", "replace"):
            for j in range(j1, min(j2, len(b) - 1)):
                if b[j].strip() and j + 1 < len(b):
                    out.append((j, b[j]))
    return out
