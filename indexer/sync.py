"""Applying a plan: parse outside the transaction, commit everything in one, emit the event after.

`Indexer.sync()` is the one path every change takes (a full index, a watcher batch, a command):
under the workspace's WriterLock it plans, parses the changed files, lets the sync hook do its slow
work (the assistant encodes), then opens ONE SQLite transaction that removes, inserts, renames and
touches catalog rows, bumps the generation and hands the same connection to the hook's `write`
(the bank and the Titans store live in the same database). Only after COMMIT is the IndexEvent built
and delivered. A process killed at any moment leaves the previous generation or the new one.

Planning happens under the lock, so two processes syncing the same workspace never apply the same
change twice; `apply()` of a plan made earlier re-plans if the catalog moved on meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from indexer.catalog import Catalog
from indexer.chunking import CHUNKER_VERSION, parse_file
from indexer.config import IndexerConfig
from indexer.discovery import IgnoreRules
from indexer.graph import SymbolGraph
from indexer.locking import WriterLock
from indexer.plan import plan_changes
from indexer.reading import REASON_VANISHED, content_hash, read_bytes
from indexer.resolve import ImportResolver
from indexer.secrets import SCANNER_VERSION, SecretScanner, scanner_for
from indexer.types import FileInfo, IndexEvent, IndexPlan, ParsedFile, Skip
from indexer.workspace import Workspace

log = logging.getLogger(__name__)

LOCK_FILE = "writer.lock"
Progress = Callable[[int, int], None]
"""`progress(done, total)`, called after each file is parsed."""

_CHUNKER_FIELDS = ("extensions", "max_line_chars", "max_chunk_lines", "window_lines", "max_file_bytes",
                   "scan_secrets", "secret_allow", "secret_deny")
"""Settings that change what a file's rows hold: a change re-reads every file. The secret scanner's
settings and version are part of it, so an index written before masking (or with other allow/deny
lists) is re-read, re-masked and re-encoded by its next sync, file by file."""
_DISCOVERY_FIELDS = ("extensions", "exclude", "default_excludes", "max_file_bytes", "include_dependencies",
                     "max_dependency_files", "follow_symlinks")


class SyncHook(Protocol):
    """What a consumer of index changes (the assistant's bank) plugs into a sync.

    Inside `write`, the connection's temp tables `sync_removed_files`, `sync_removed_chunks`,
    `sync_added_files`, `sync_added_chunks` and `sync_moved_files` list exactly what this commit
    changed (see indexer.schema.SYNC_TEMP_TABLES)."""

    def prepare(self, parsed: Sequence[ParsedFile], plan: IndexPlan) -> object: ...   # slow work (encoding), outside the transaction
    def write(self, conn: sqlite3.Connection, prepared: object, plan: IndexPlan) -> dict[str, int]: ...  # inside the transaction; returns counters for IndexEvent.stats
    def committed(self, event: IndexEvent) -> None: ...   # after commit


_locks: dict[Path, WriterLock] = {}
_locks_guard = threading.Lock()


def workspace_lock(workspace: Workspace) -> WriterLock:
    """The process-wide WriterLock of a workspace. Share it: two WriterLock objects on the same file
    in one process would block each other (flock is per open file)."""
    path = workspace.state_dir / LOCK_FILE
    with _locks_guard:
        lock = _locks.get(path)
        if lock is None:
            lock = _locks[path] = WriterLock(path)
        return lock


def _fingerprint(config: IndexerConfig, fields: Iterable[str], version: object = 0) -> str:
    data = {name: getattr(config, name) for name in fields}
    data["version"] = version
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=list).encode()).hexdigest()[:16]


class Indexer:
    """Keeps one workspace's catalog in step with its files; see the module docstring."""

    def __init__(self, workspace: Workspace, config: IndexerConfig | None = None, *,
                 lock: WriterLock | None = None, catalog: Catalog | None = None) -> None:
        self.workspace = workspace
        self.config = config or IndexerConfig()
        self.catalog = catalog or Catalog.open(workspace)
        self.lock = lock or workspace_lock(workspace)
        self.rules = IgnoreRules(workspace.root, self.config)
        self.resolver = ImportResolver(workspace.root)
        self._chunker_fp = _fingerprint(self.config, _CHUNKER_FIELDS, [CHUNKER_VERSION, SCANNER_VERSION])
        self._discovery_fp = _fingerprint(self.config, _DISCOVERY_FIELDS)
        self._graph: SymbolGraph | None = None
        self._graph_lock = threading.Lock()

    def close(self) -> None:
        self.catalog.close()

    @property
    def scanner(self) -> SecretScanner:
        """The secret scanner of these settings: what the assistant masks in buffers with."""
        return scanner_for(self.config)

    @property
    def chunker_fingerprint(self) -> str:
        """Fingerprint of the chunker and scanner settings; a catalog row with another was made by an
        older or differently set Shutka (its text may not be masked as today's would be)."""
        return self._chunker_fp

    def __enter__(self) -> Indexer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- planning ---------------------------------------------------------------------------------

    def plan(self, paths: Iterable[str] | None = None) -> IndexPlan:
        """What a sync of the workspace (or of `paths` only) would do. Until a full sync has run with
        today's discovery settings, every plan is a full one; files chunked by another chunker version
        or settings are chunked again."""
        if paths is not None and self.catalog.meta("discovery") != self._discovery_fp:
            log.info("no full sync with these discovery settings yet: planning the whole workspace")
            paths = None
        if paths is None:
            self.resolver.invalidate()
        return plan_changes(self.workspace.root, self.config, self.catalog, paths, rules=self.rules,
                            chunker=self._chunker_fp)

    # --- applying ---------------------------------------------------------------------------------

    def sync(self, paths: Iterable[str] | None = None, hook: SyncHook | None = None, started_at: float | None = None,
             *, progress: Progress | None = None, batch_files: int | None = None,
             stop: threading.Event | None = None) -> IndexEvent:
        """Plan and apply under the writer lock; `started_at` (time.monotonic) dates the triggering
        change for the event's latency. Raises LockBusy when another writer holds the lock for long.

        With `batch_files`, the files to parse are committed that many at a time (the first commit also
        removes, moves and touches): progress survives an interruption and readers see each batch. `stop`
        ends it after the current batch. -> one event for all the batches (the last one's generation)."""
        started = time.monotonic() if started_at is None else started_at
        with self.lock(timeout=None if batch_files else 30.0):
            plan = self.plan(paths)
            if not batch_files or len(plan.compute) <= batch_files:
                return self._apply_locked(plan, hook, started, progress)
            return self._apply_in_batches(plan, hook, started, progress, batch_files, stop)

    def _apply_in_batches(self, plan: IndexPlan, hook: SyncHook | None, started: float, progress: Progress | None,
                          batch_files: int, stop: threading.Event | None) -> IndexEvent:
        events: list[IndexEvent] = []
        total, done = len(plan.compute), 0
        rest = plan
        while True:
            batch = rest.compute[:batch_files]
            sub = replace(rest, compute=batch, generation=self.catalog.generation())
            if events:
                sub = replace(sub, delete=(), moved=(), touched=(), skipped=())
            events.append(self._apply_locked(sub, hook, started, _shifted(progress, done, total)))
            done += len(batch)
            rest = replace(rest, compute=rest.compute[batch_files:])
            if not rest.compute or (stop is not None and stop.is_set()):
                break
        stats: dict[str, int] = {}
        for event in events:
            for key, value in event.stats.items():
                stats[key] = stats.get(key, 0) + value
        return IndexEvent(
            generation=self.catalog.generation(), added=tuple(p for e in events for p in e.added),
            removed=tuple(p for e in events for p in e.removed), moved=tuple(m for e in events for m in e.moved),
            skipped=tuple(s for e in events for s in e.skipped),
            chunks_added=sum(e.chunks_added for e in events), chunks_removed=sum(e.chunks_removed for e in events),
            started_at=started, committed_at=events[-1].committed_at, stats=stats)

    def apply(self, plan: IndexPlan, hook: SyncHook | None = None, started_at: float | None = None, *,
              progress: Progress | None = None) -> IndexEvent:
        """Apply a plan made earlier; if another writer committed since, the plan's scope is re-planned
        first (under the lock), so nothing is applied twice."""
        started = time.monotonic() if started_at is None else started_at
        with self.lock():
            if plan.generation != self.catalog.generation():
                log.info("the catalog changed since this plan was made (generation %d, now %d): re-planning",
                         plan.generation, self.catalog.generation())
                plan = self.plan(plan.scope)
            return self._apply_locked(plan, hook, started, progress)

    def _parse(self, files: Sequence[FileInfo], progress: Progress | None
               ) -> tuple[list[ParsedFile], list[tuple[FileInfo, Skip, str]], list[str]]:
        """Parsed files, declined ones (with the sha256 of their bytes, '' if unreadable), vanished paths."""
        parsed: list[ParsedFile] = []
        declined: list[tuple[FileInfo, Skip, str]] = []
        vanished: list[str] = []
        for done, info in enumerate(files, 1):
            data = read_bytes(self.workspace.root, info.path, self.config.max_file_bytes)
            if isinstance(data, Skip):
                if data.reason == REASON_VANISHED:
                    vanished.append(info.path)
                else:
                    log.warning("skipped %s: %s", data.path, data.reason)
                    declined.append((info, data, ""))
            else:
                result = parse_file(self.workspace, info, data, config=self.config, resolver=self.resolver)
                if isinstance(result, ParsedFile):
                    parsed.append(result)
                else:
                    declined.append((info, result, content_hash(data)))
            if progress is not None:
                progress(done, len(files))
        return parsed, declined, vanished

    def _needs_commit(self, plan: IndexPlan) -> bool:
        if not plan.is_empty:
            return True
        return plan.scope is None and self.catalog.meta("discovery") != self._discovery_fp

    def _nothing_to_write(self, plan: IndexPlan, parsed: list[ParsedFile],
                          declined: list[tuple[FileInfo, Skip, str]], vanished: list[str]) -> bool:
        """True when the only work left is re-declining files exactly as already remembered (an
        unreadable file is retried by every plan; that alone must not make a commit)."""
        if parsed or vanished or plan.delete or plan.moved or plan.touched or self._needs_commit(
                IndexPlan((), (), scope=plan.scope)):
            return False
        remembered = self.catalog.skip_states(paths=[info.path for info, _, _ in declined])
        for info, skip, digest in declined:
            known = remembered.get(info.path)
            if (known is None or self.catalog.file_state(info.path) is not None
                    or (known.size, known.mtime_ns, known.reason, known.chunker, known.content_hash)
                    != (info.size, info.mtime_ns, skip.reason, self._chunker_fp, digest)):
                return False
        return True

    def _apply_locked(self, plan: IndexPlan, hook: SyncHook | None, started: float,
                      progress: Progress | None) -> IndexEvent:
        if not self._needs_commit(plan):
            return IndexEvent(generation=self.catalog.generation(), skipped=plan.skipped, started_at=started,
                              committed_at=time.monotonic())
        parsed, declined, vanished = self._parse(plan.compute, progress)
        if self._nothing_to_write(plan, parsed, declined, vanished):
            return IndexEvent(generation=self.catalog.generation(),
                              skipped=plan.skipped + tuple(skip for _, skip, _ in declined), started_at=started,
                              committed_at=time.monotonic())
        prepared = hook.prepare(parsed, plan) if hook is not None else None
        removed = list(plan.delete)
        with self.catalog.write() as tx:
            for old, new in plan.moved:
                tx.remove(new)
                tx.move(old, new)
            for path in plan.delete:
                tx.remove(path)
            for path in vanished:
                if tx.remove(path):
                    removed.append(path)
            for info, skip, digest in declined:
                if tx.remove(info.path):
                    removed.append(info.path)
                tx.record_skip(info.path, info.section, info.size, info.mtime_ns, plan.checked_ns, skip.reason,
                               self._chunker_fp, digest)
            for result in parsed:
                tx.remove(result.info.path)
                tx.insert(result, plan.checked_ns, self._chunker_fp)
            for info in plan.touched:
                tx.touch(info.path, info.size, info.mtime_ns, plan.checked_ns)
            if plan.scope is None:
                tx.set_meta("discovery", self._discovery_fp)
            stats = hook.write(tx.conn, prepared, plan) if hook is not None else {}
        event = IndexEvent(
            generation=tx.generation, added=tuple(p.info.path for p in parsed), removed=tuple(sorted(removed)),
            moved=plan.moved, skipped=plan.skipped + tuple(skip for _, skip, _ in declined),
            chunks_added=tx.chunks_added, chunks_removed=tx.chunks_removed, started_at=started,
            committed_at=time.monotonic(), stats=dict(stats))
        log.info("sync generation %d: %d added/changed, %d removed, %d moved, %d touched, %d skipped, "
                 "%d chunks in, %d out, %.1f ms", event.generation, len(event.added), len(event.removed),
                 len(event.moved), len(plan.touched), len(event.skipped), event.chunks_added, event.chunks_removed,
                 event.latency_ms)
        if hook is not None:
            hook.committed(event)
        return event

    # --- graph ------------------------------------------------------------------------------------

    def graph(self) -> SymbolGraph:
        """The code graph, refreshed to the catalog's current generation (incrementally)."""
        with self._graph_lock:
            if self._graph is None:
                self._graph = SymbolGraph(self.catalog, self.workspace.root)
            self._graph.refresh()
            return self._graph


def _shifted(progress: Progress | None, offset: int, total: int) -> Progress | None:
    """A batch's progress as progress of the whole sync."""
    if progress is None:
        return None
    return lambda done, _batch_total: progress(offset + done, total)
