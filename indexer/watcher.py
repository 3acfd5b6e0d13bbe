"""File-system events → debounced, de-duplicated batches of workspace paths → a sync.

A watchdog observer (inotify on Linux) watches the workspace recursively. Its thread only queues the
raw event with its monotonic time; a worker thread turns events into workspace-relative paths, drops
what can never matter (`.shutka/`, `.git/`, excluded folders, files we do not index), and hands a
batch to the callback once no event has arrived for `debounce_ms` (or MAX_BATCH_DELAY_S after the
first event of a batch, so a never-ending stream still syncs).

Every event kind reduces to "look at these paths again": a move contributes both ends (an editor's
atomic save is a move from a temp file onto the target; a folder rename is a move of the folder plus
one per child), a deleted path becomes a delete in the restricted plan, a folder path is walked. A
burst such as `git checkout` coalesces into one batch. Changes to `.gitignore`, `.shutkaignore`,
`package.json` or `tsconfig*.json` make `SyncingWatcher` run a full sync instead.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from indexer.config import IndexerConfig
from indexer.discovery import HARD_EXCLUDES
from indexer.errors import IndexerError, LockBusy
from indexer.sync import Indexer, SyncHook
from indexer.types import IndexEvent
from indexer.workspace import Workspace

log = logging.getLogger(__name__)

MAX_BATCH_DELAY_S = 2.0
"""A batch is flushed at the latest this long after its first event, even if events keep coming."""
FULL_SYNC_PATHS = 2_000
"""A batch with more paths than this is synced as a full sync (cheaper than probing each path)."""
SETTINGS_FILES = frozenset({".gitignore", ".shutkaignore", "package.json"})
"""Files whose change can alter what is indexed or how imports resolve: they trigger a full sync."""
FULL_SYNC = "."
"""The path that, in a batch, asks for a full sync (the workspace root)."""
EVENT_TYPES = [FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileAttribEvent, FileDeletedEvent,
               FileMovedEvent, DirCreatedEvent, DirDeletedEvent, DirMovedEvent]
"""What the observer subscribes to. Opened/closed-without-write events are left out on purpose:
the indexer reads files, and reading must never look like a change."""

OnBatch = Callable[[frozenset[str], float], None]
"""`on_batch(paths, first_event_monotonic)`: workspace-relative paths ('.' = everything)."""


def is_settings_file(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name in SETTINGS_FILES or (name.startswith("tsconfig") and name.endswith(".json"))


@dataclass(frozen=True, slots=True)
class _Raw:
    paths: tuple[str, ...]
    is_dir: bool
    at: float


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        dest = getattr(event, "dest_path", "")
        paths = (os.fsdecode(event.src_path),) + ((os.fsdecode(dest),) if dest else ())
        self.watcher._enqueue(_Raw(paths, event.is_directory, time.monotonic()))


class Watcher:
    """Watches a workspace and calls `on_batch` from its own worker thread; see the module docstring."""

    def __init__(self, workspace: Workspace, config: IndexerConfig, on_batch: OnBatch) -> None:
        self.workspace = workspace
        self.config = config
        self.on_batch = on_batch
        self._root = str(workspace.root)
        self._excluded_dirs = frozenset(p.strip("/") for p in config.default_excludes
                                        if p.strip("/") and not any(ch in p.strip("/") for ch in "*?[/!"))
        self._cond = threading.Condition()
        self._queue: deque[_Raw] = deque()
        self._pending: dict[str, None] = {}
        """Relevant workspace-relative paths of the batch being gathered (ordered, de-duplicated)."""
        self._first: float | None = None
        self._last: float | None = None
        self._busy = False
        self._stopping = False
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._worker: threading.Thread | None = None
        self._state_lock = threading.Lock()
        self.batches = 0
        """Batches delivered so far."""

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start observing (idempotent). Raises IndexerError when the OS refuses more watches."""
        with self._state_lock:
            if self._observer is not None:
                return
            self._stopping = False
            observer = Observer()
            observer.schedule(_Handler(self), self._root, recursive=True, event_filter=EVENT_TYPES)
            try:
                observer.start()
            except OSError as exc:
                raise IndexerError(
                    f"cannot watch {self._root} ({exc.strerror or exc}); on Linux raise "
                    "fs.inotify.max_user_watches (sysctl) or add big folders to .shutkaignore") from exc
            self._observer = observer
            self._worker = threading.Thread(target=self._run, name=f"shutka-watch-{self._root}", daemon=True)
            self._worker.start()
            log.info("watching %s (debounce %d ms)", self._root, self.config.debounce_ms)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop observing; events already queued are still delivered before the worker ends."""
        with self._state_lock:
            observer, worker = self._observer, self._worker
            self._observer = self._worker = None
        if observer is None:
            return
        observer.stop()
        observer.join(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout)
        log.info("stopped watching %s", self._root)

    def __enter__(self) -> Watcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._observer is not None

    def idle(self) -> bool:
        """True when nothing is queued and no batch is being handled."""
        with self._cond:
            return not self._queue and not self._pending and not self._busy

    # --- queueing ---------------------------------------------------------------------------------

    def _enqueue(self, raw: _Raw) -> None:
        """Called on the watchdog thread: queue and wake the worker, nothing else."""
        with self._cond:
            self._queue.append(raw)
            self._cond.notify()

    def request(self, paths: frozenset[str] | set[str], at: float | None = None) -> None:
        """Queue workspace-relative paths as if events had reported them ('.' = full sync)."""
        self._enqueue(_Raw(tuple(os.path.join(self._root, p) for p in paths), True,
                           time.monotonic() if at is None else at))

    def _relevant(self, path: str, is_dir: bool) -> str | None:
        if path == self._root:
            return FULL_SYNC
        if not path.startswith(self._root + os.sep):
            return None
        rel = path[len(self._root) + 1:].replace(os.sep, "/")
        parts = rel.split("/")
        if any(part in HARD_EXCLUDES for part in parts):
            return None
        if any(part in self._excluded_dirs for part in parts[:-1]) or (is_dir and parts[-1] in self._excluded_dirs):
            return None
        if is_dir or rel.endswith(self.config.extensions) or is_settings_file(rel):
            return rel
        return None

    # --- worker -----------------------------------------------------------------------------------

    def _due_in(self) -> float | None:
        """Seconds until the pending batch is due (<= 0: now); None when nothing is pending."""
        if self._first is None or self._last is None:
            return None
        due = min(self._last + self.config.debounce_ms / 1000, self._first + MAX_BATCH_DELAY_S)
        return due - time.monotonic()

    def _next_batch(self) -> tuple[frozenset[str], float] | None:
        """Block until a batch is due and take it; None when stopping with nothing pending.

        Raw events are filtered as soon as they arrive, so events that cannot matter (our own
        `.shutka/` writes, files we do not index) neither delay a batch nor keep the watcher busy."""
        with self._cond:
            while True:
                while self._queue:
                    raw = self._queue.popleft()
                    for path in raw.paths:
                        rel = self._relevant(path, raw.is_dir)
                        if rel is not None:
                            self._pending[rel] = None
                            self._first = raw.at if self._first is None else min(self._first, raw.at)
                            self._last = raw.at if self._last is None else max(self._last, raw.at)
                due_in = self._due_in()
                if due_in is not None and (due_in <= 0 or self._stopping):
                    batch, first = frozenset(self._pending), self._first
                    self._pending, self._first, self._last = {}, None, None
                    self._busy = True
                    assert first is not None
                    return batch, first
                if self._stopping:
                    return None
                self._cond.wait(due_in)

    def _run(self) -> None:
        while True:
            taken = self._next_batch()
            if taken is None:
                return
            paths, first = taken
            try:
                self.batches += 1
                self.on_batch(paths, first)
            except Exception:  # the worker is a boundary: one failed batch must not end watching
                log.exception("handling a batch of file changes in %s failed; watching continues", self._root)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


class SyncingWatcher:
    """A Watcher whose batches run `Indexer.sync(paths, hook)`; events go to `on_event`."""

    def __init__(self, indexer: Indexer, hook: SyncHook | None = None,
                 on_event: Callable[[IndexEvent], None] | None = None) -> None:
        self.indexer = indexer
        self.hook = hook
        self.on_event = on_event
        self.watcher = Watcher(indexer.workspace, indexer.config, self._on_batch)
        self.syncs = 0
        self.last_event: IndexEvent | None = None

    def start(self, initial_sync: bool = True) -> None:
        """Start watching; with `initial_sync`, a full sync is queued right after the observer starts,
        so nothing changed before or during start-up is missed."""
        self.watcher.start()
        if initial_sync:
            self.watcher.request({FULL_SYNC})

    def stop(self, timeout: float = 10.0) -> None:
        self.watcher.stop(timeout)

    def __enter__(self) -> SyncingWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def idle(self) -> bool:
        return self.watcher.idle()

    def _on_batch(self, paths: frozenset[str], first: float) -> None:
        full = FULL_SYNC in paths or len(paths) > FULL_SYNC_PATHS or any(is_settings_file(p) for p in paths)
        try:
            event = self.indexer.sync(None if full else sorted(paths), self.hook, started_at=first)
        except LockBusy as exc:
            log.warning("%s; will retry these %d path(s) with the next batch", exc, len(paths))
            self.watcher.request(set(paths), first)
            return
        except (IndexerError, OSError, sqlite3.Error) as exc:
            log.error("sync of %d changed path(s) failed: %s", len(paths), exc)
            return
        self.syncs += 1
        self.last_event = event
        log.info("synced %s in %.1f ms from the first change (generation %d)",
                 "everything" if full else f"{len(paths)} path(s)", event.latency_ms, event.generation)
        if self.on_event is not None:
            self.on_event(event)
