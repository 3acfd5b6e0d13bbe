"""The `Assistant` facade: the one object the surfaces (LSP, HTTP API, TUI, CLI) talk to.

It owns nothing heavy itself and only delegates: `assistant.runtime` builds its parts (indexer, bank,
encoder, completer, sync hooks, line store, Titans store) and hands them over as `Parts`, which stay
private. Surfaces and training never reach past it into the model or the bank.

Text that comes from an editor or a client (buffers, requests, accepted lines) has its secrets masked
here, once, on the way in (indexer.secrets, with the workspace's [indexer] settings; same length, so
lines and columns still hold); indexed text was masked by the indexer.
"""

from __future__ import annotations

import difflib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from assistant import verify
from assistant.engine import navigation
from assistant.engine.candidates import LineStore
from assistant.engine.chat import answer
from assistant.engine.pipeline import Completer
from assistant.errors import InvalidRequest
from assistant.memory import suppressions
from assistant.memory.bank import Entry, MemoryBank
from assistant.memory.entry_encoding import LatentEncoder
from assistant.memory.sync_hooks import SyncHooks, is_workspace_code
from assistant.memory.titans import TitansStore
from assistant.memory.titans_paths import titans_file
from assistant.recent import RecentCompletions
from assistant.types import (
    Answered,
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
from assistant.verify import WorkspaceVerifyReport
from indexer.sync import Indexer
from indexer.types import IndexEvent
from indexer.workspace import Workspace

log = logging.getLogger(__name__)

COMPACT_AFTER_BULK = 1000
"""Delta vectors after a sync above which the bank is compacted at once."""



def to_hit(entry: Entry, score: float = 0.0) -> Hit:
    return Hit(entry.id, float(score), entry.text, entry.kind, entry.file, entry.start_line, entry.end_line,
               entry.symbol, entry.section, entry.content_hash)


@dataclass(frozen=True, slots=True)
class Parts:
    """What `assistant.runtime` builds for one workspace and hands to the facade (which keeps them private)."""

    indexer: Indexer
    bank: MemoryBank
    encoder: LatentEncoder
    completer: Completer
    hooks: SyncHooks
    lines: LineStore
    titans: TitansStore | None


class Assistant:
    """Completions, memory and index of one workspace. Thread-safe. Every method delegates to one part."""

    def __init__(self, workspace: Workspace, parts: Parts, model_name: str) -> None:
        self._workspace = workspace
        self._indexer, self._bank, self._encoder = parts.indexer, parts.bank, parts.encoder
        self._completer, self._hooks, self._lines, self._titans = parts.completer, parts.hooks, parts.lines, parts.titans
        self.model_name = model_name
        self._last_sync: SyncReport | None = None
        self._indexing = False
        self._documents: dict[str, str] = {}
        self._recent = RecentCompletions()
        self._doc_lock = threading.Lock()
        self._listeners: list[Callable[[SyncReport], None]] = []
        self._seen: dict[str, tuple[int, str]] = {}  # path -> (catalog generation, content hash) in the line store
        self._hooks.listeners.append(self._on_commit)
        if self._hooks.titans is not None:
            self._hooks.titans.learner = self._learn_new_code
        if self._titans is not None:
            self._titans.drop_secrets(self._mask)  # episodes an older Shutka kept unmasked

    @property
    def workspace(self) -> Workspace:
        return self._workspace

    @property
    def last_sync(self) -> SyncReport | None:
        """The last sync this process committed (None before the first)."""
        return self._last_sync

    @property
    def indexing(self) -> bool:
        """Whether a sync driven by this facade is running."""
        return self._indexing

    # -- completion --------------------------------------------------------------------------------------

    def complete(self, request: CompletionRequest) -> CompletionResult:
        """Completions at the cursor (never raises on odd input: a bounded, possibly empty answer)."""
        _check_request(request)
        return self._completer.complete(self._incoming(request))

    def remember(self, response_id: str, request: CompletionRequest, texts: tuple[str, ...] = ()) -> None:
        """Keep what `response_id` answered (the request, the texts sent) for a later `feedback`; the
        last `REMEMBERED` are kept."""
        self._recent.put(response_id, Answered(request, texts))

    def remembered(self, response_id: str) -> Answered | None:
        """What `remember` kept for `response_id`, or None (never answered, or forgotten since)."""
        return self._recent.get(response_id)

    @property
    def remembers(self) -> int:
        """How many answered completions `remembered` can still find."""
        return self._recent.capacity

    def explain(self, request: CompletionRequest) -> Explanation:
        """Every candidate with its features, score and confidence, the HopRAG hops, the gate's decision."""
        _check_request(request)
        return self._completer.explain(self._incoming(request))

    def feedback(self, request: CompletionRequest, text: str, accepted: bool) -> tuple[int, float]:
        """The client accepted (or rejected) `text` at `request`'s cursor. An accepted line is what the
        user wanted: the Titans memory learns it. -> (episodes kept, surprise)."""
        if not accepted:
            return 0, 0.0
        request = self._incoming(request)
        line = request.text.split("\n")[request.line][: request.column] if request.text else ""
        return self._completer.learn(request, self._mask((line + text).split("\n", 1)[0]))

    # -- open documents ----------------------------------------------------------------------------------

    def open_document(self, path: str, text: str) -> None:
        """An editor opened `path`: its buffer (secrets masked) is context and wins over the disk."""
        rel = self._workspace.relative(path)
        text = self._mask(text)
        with self._doc_lock:
            self._documents[rel] = text
        self._lines.overlay(rel, text)

    def update_document(self, path: str, text: str) -> int:
        """The buffer changed. Lines the user finished since the last version are learned (Titans).
        -> how many finished lines were written to the memory."""
        rel = self._workspace.relative(path)
        text = self._mask(text)
        with self._doc_lock:
            before = self._documents.get(rel)
            self._documents[rel] = text
        self._lines.overlay(rel, text)
        if before is None or self._titans is None:
            return 0
        learned = 0
        for line_no, line in finished_lines(before, text)[:4]:
            request = CompletionRequest(text, line_no, 0, rel)
            kept, _ = self._completer.learn(request, line)
            learned += kept
        return learned

    def close_document(self, path: str) -> None:
        """The editor closed the buffer: the saved file is context again."""
        rel = self._workspace.relative(path)
        with self._doc_lock:
            self._documents.pop(rel, None)
        self._lines.clear_overlay(rel)

    # -- index -------------------------------------------------------------------------------------------

    def sync(self, paths: list[str] | None = None, started_at: float | None = None,
             progress: Callable[[int, int], None] | None = None, *, batch_files: int | None = None,
             stop: threading.Event | None = None) -> SyncReport:
        """Bring catalog, bank and Titans store in step with the disk (all, or just `paths`). With
        `batch_files`, new files are parsed, encoded and committed that many at a time (`stop` ends it
        after the current batch); see `indexer.Indexer.sync`, the one sync driver."""
        self._indexing = True
        try:
            event = self._indexer.sync(paths, self._hooks, started_at, progress=progress, batch_files=batch_files,
                                      stop=stop)
        finally:
            self._indexing = False
        # after a bulk index, fold the delta into a FAISS generation: searching thousands of delta vectors
        # in NumPy costs more than a flat FAISS search (measured 5 ms vs < 1 ms at 7k entries)
        if self._bank.stats().delta >= COMPACT_AFTER_BULK:
            self._bank.compact()
        else:
            self._bank.maybe_compact()
        report = _report(event)
        self._last_sync = report
        return report

    def add_listener(self, listener: Callable[[SyncReport], None]) -> None:
        """Called after every committed sync (from the syncing thread)."""
        self._listeners.append(listener)

    def _learn_new_code(self, path: str, text: str, new_lines: list[tuple[int, str]]) -> None:
        """New code reached the index (a save, a paste, a generated file): the Titans memory is
        written with each new line in its context, surprise-gated (what it already predicts is skipped)."""
        for line_no, line in new_lines:
            self._completer.learn(CompletionRequest(text, line_no, 0, path), line)

    def _on_commit(self, event: IndexEvent, texts: dict[str, str]) -> None:
        """After a commit (the line store already holds the new texts: `LinesHook`)."""
        for path in event.removed:
            self._seen.pop(path, None)
        report = _report(event)
        self._last_sync = report
        for listener in list(self._listeners):
            try:
                listener(report)
            except Exception:  # a surface's listener must not break syncing; log with context
                log.exception("sync listener %r failed", listener)

    # -- memory bank -------------------------------------------------------------------------------------

    def bank_stats(self) -> BankStats:
        s = self._bank.stats()
        db = self._bank.db_path
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
            return [to_hit(e) for e in self._bank.text_search(query, k, kinds)]
        vector = self._encoder.encode_spans([query])[0]
        hits = self._bank.search(vector, k, kinds=kinds)[0] if len(self._bank) else []
        return [to_hit(h.entry, h.score) for h in hits]

    def files(self) -> list[tuple[str, str, int]]:
        """(path, section, entries) for every file in the bank."""
        return self._bank.files()

    def entries(self, path: str | None = None, kind: str | None = None, limit: int = 1000, offset: int = 0) -> list[Hit]:
        return [to_hit(e) for e in self._bank.entries(path, kind, limit=limit, offset=offset)]

    def entry(self, entry_id: int) -> Hit | None:
        found = self._bank.get([entry_id])
        return to_hit(found[0]) if found else None

    def delete_entries(self, ids: list[int]) -> int:
        """Forget these entries; they stay forgotten (not re-added) until their code changes."""
        entries = self._bank.get(ids)
        self._suppress([(e.file, e.content_hash) for e in entries if e.file])
        return self._bank.delete_memory([e.id for e in entries])

    def delete_file_entries(self, path: str) -> int:
        entries = self._bank.entries(path, limit=1_000_000)
        self._suppress([(e.file, e.content_hash) for e in entries if e.file])
        return self._bank.delete_file(path)

    def _suppress(self, keys: list[tuple[str | None, str]]) -> None:
        with self._bank.lock():
            suppressions.suppress(self._bank.db_path, keys)

    def reencode(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-encode every entry with the loaded model (after a model change). -> entries re-encoded."""
        self._bank.reencode(self._encoder.encode_entries, self._encoder.digest, progress)
        return len(self._bank)

    def bank_mismatch(self) -> str | None:
        """Why the bank cannot be used with the loaded model (encoded by another), or None."""
        digest = self._bank.model_digest
        if digest is not None and digest != self._encoder.digest and len(self._bank):
            return f"the bank was encoded by model {digest}; the loaded model is {self._encoder.digest}"
        return None

    def verify(self) -> WorkspaceVerifyReport:
        """`shutka index --verify`: the catalog against the disk, the bank against the catalog."""
        return verify.verify_workspace(self._workspace, self._indexer, self._bank, self._encoder)

    def index_counts(self) -> dict[str, int]:
        """Rows per catalog table (files, chunks, ...)."""
        return self._indexer.catalog.counts()

    # -- following other processes ------------------------------------------------------------------------

    def version(self) -> tuple[int, int, int]:
        """(catalog generation, bank generation, bank entries): one cheap read; a change means another
        process (a watcher, the language server) committed something."""
        return self._indexer.catalog.generation(), self._bank.generation, len(self._bank)

    def refresh(self) -> bool:
        """Catch this process's caches up with commits made by other processes: the bank's view, the
        Titans episodes, the line store. -> True when something changed."""
        changed = self._bank.refresh()
        if self._titans is not None:
            self._titans.refresh()
        states = self._indexer.catalog.file_states()
        wanted = {p: (st.generation, st.content_hash) for p, st in states.items()
                  if st.section == "workspace" and is_workspace_code(p)}
        for path in set(self._seen) - set(wanted):
            self._lines.remove_file(path)
            changed = True
        for path, key in wanted.items():
            if self._seen.get(path) != key:
                text = self._indexer.catalog.file_text(path)
                if text is not None and states[path].chunker != self._indexer.chunker_fingerprint:
                    text = self._mask(text)  # stored by an older Shutka: the next sync re-masks the row
                if text is not None:
                    self._lines.set_file(path, text)
                    changed = True
        self._seen = wanted
        return changed

    def neighbours(self, entry_id: int, hops: int = 1) -> list[Hop]:
        """Code-graph neighbours of a definition entry (HopRAG's hops), nearest first."""
        found = self._bank.get([entry_id])
        graph = self._indexer.graph()
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
        return navigation.symbols(self._indexer.graph(), query, limit)

    def definition_at(self, path: str, text: str, line: int, column: int) -> Hit | None:
        """The definition of the identifier under the cursor, through the code graph."""
        return navigation.definition_at(self._indexer.graph(), self._workspace.relative(path), text, line, column)

    def source_lines(self, path: str, start: int, end: int) -> list[str]:
        """Lines [start, end) (0-based) of an indexed file as the catalog holds it (secrets masked)."""
        return self._indexer.catalog.lines(path, start, end)

    # -- embeddings and chat -----------------------------------------------------------------------------

    def embed(self, texts: list[str]) -> np.ndarray:
        """(N,) texts -> (N, L) unit latents from the target encoder (what the bank stores)."""
        return self._encoder.encode_spans(texts)

    def chat(self, messages: list[ChatMessage], max_tokens: int = 256) -> ChatAnswer:
        """Answer from the workspace (assistant.engine.chat): related definitions and lines, each cited as
        path:line; code at the end of the question is completed."""
        return answer(self, messages, max_tokens)

    # -- Titans ------------------------------------------------------------------------------------------

    def _titans_store(self) -> TitansStore:
        if self._titans is None:
            raise InvalidRequest("the loaded model has no Titans memory (use_titans=False)")
        return self._titans

    def titans_save(self, path: str | None = None) -> Path:
        """Save the memory to `path` inside `.shutka/titans/` (default: the workspace's own file); returns
        where. Raises TitansPathRefused for a path outside that folder."""
        store = self._titans_store()
        return store.save(titans_file(self.workspace.state_dir, path, writing=True) if path else None)

    def titans_path(self, path: str, *, writing: bool) -> Path:
        """Where `path` points inside `.shutka/titans/` (a load: an existing file there); raises
        TitansPathRefused otherwise, with the same message whether or not an outside path exists."""
        return titans_file(self.workspace.state_dir, path, writing=writing)

    def titans_load(self, path: str | None = None) -> Path:
        """Load a file `titans_save` wrote, inside `.shutka/titans/` (default: the workspace's own file);
        returns its path. Raises TitansPathRefused for a path outside that folder."""
        store = self._titans_store()
        return store.load(titans_file(self.workspace.state_dir, path, writing=False) if path else None)

    def titans_forget(self, n: int) -> int:
        if n < 0:
            raise InvalidRequest(f"forget needs n >= 0, got {n}")
        return self._titans_store().forget(n)

    @property
    def tokenizer(self):  # type: ignore[no-untyped-def]
        """The model's tokenizer (surfaces count and cut tokens with it: usage, max_tokens)."""
        return self._encoder.tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self._encoder.tokenizer.encode(text))

    def titans_stats(self) -> TitansStats:
        return self._titans_store().stats()

    # -- status ------------------------------------------------------------------------------------------

    def status(self) -> Status:
        counts = self._indexer.catalog.counts()
        return Status(str(self._workspace.root), self.model_name, self._encoder.digest, self.bank_stats(),
                      self._indexer.catalog.generation(), counts.get("files", 0), self._last_sync,
                      self._titans.count() if self._titans else 0, self._indexing)

    def _mask(self, text: str) -> str:
        """`text` with its secrets masked (the same object when it has none)."""
        return self._indexer.scanner.mask(text).text

    def _incoming(self, request: CompletionRequest) -> CompletionRequest:
        """The request with a workspace-relative path and its buffer's secrets masked (same offsets):
        no line of it can become a candidate, a prompt or a Titans episode unmasked."""
        request = self._relative(request)
        text = self._mask(request.text)
        return request if text is request.text else replace(request, text=text)

    def _relative(self, request: CompletionRequest) -> CompletionRequest:
        if request.path is None:
            return request
        rel = self._workspace.relative(request.path) if Path(request.path).is_absolute() else request.path
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
