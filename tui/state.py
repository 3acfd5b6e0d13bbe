"""`AppState`: what the screens see of the app — the open runtime and its facade, the last status and
snapshot polled, the event log, the signals the views follow, this process's own edits, error reporting
— and the workers that fill it (opening the workspace, polling the shared index).

`tui.app.ShutkaApp` extends it with the wiring: the views, the keys, every message handler and which
screen shows when. The screens import this module for the app's type, never `tui.app` (which imports them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.signal import Signal
from textual.timer import Timer

from assistant.errors import BankModelMismatch
from assistant.runtime import build_runtime
from assistant.service import Assistant
from assistant.types import Status, SyncReport
from indexer.errors import ShutkaError
from tui.changes import IndexChange, IndexSnapshot, Source
from tui.health import IndexProblem
from tui.logbridge import MessageHandler
from tui.messages import IndexPolled, LogRecorded, RuntimeOpened, SyncCommitted
from tui.widgets.sync_log import LogLine

if TYPE_CHECKING:
    from assistant.runtime import Runtime

log = logging.getLogger(__name__)

DEFAULT_POLL_S = 1.0
"""How often the shared index is checked for commits of other processes (one status read)."""
MAX_EVENTS = 500
"""Events kept for the status view's log."""


class AppState(App[None]):
    """The memory browser's state and the work it does off the UI thread (no message handlers here)."""

    def __init__(self, workspace: str | os.PathLike[str], *, checkpoint: str | os.PathLike[str] | None = None,
                 watch: bool = False, poll_interval: float = DEFAULT_POLL_S,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.workspace_path = Path(workspace)
        """The workspace as given (the runtime resolves its root)."""
        self.checkpoint = checkpoint
        """The model checkpoint (None: `SHUTKA_CHECKPOINT`, then the bundled default)."""
        self.watch = watch
        """Run a watcher in this process too (keeps the index in step with the disk)."""
        self.poll_interval = poll_interval
        """Seconds between polls of the shared index; 0 turns polling off."""
        self.clock = clock
        """Time source of the event log (tests fix it)."""
        self.runtime: Runtime | None = None
        """The open runtime (None until opened); the app closes it on exit."""
        self.status: Status | None = None
        """The last status polled."""
        self.snapshot: IndexSnapshot | None = None
        """The last snapshot polled: what the views show."""
        self.events: list[LogLine] = []
        """Index events and warnings so far (the status view's log)."""
        self.index_changed: Signal[IndexChange] = Signal(self, "index-changed")
        """Published when the shared index changed (this process or another)."""
        self.status_changed: Signal[Status] = Signal(self, "status-changed")
        """Published with every status polled."""
        self.event_logged: Signal[LogLine] = Signal(self, "event-logged")
        """Published with every new event of the log."""
        self.ignored_problem: IndexProblem | None = None
        """An index problem the user chose to browse with (its rebuild screen is not offered again)."""
        self._poll_timer: Timer | None = None
        self._polling = False
        self._own_lock = threading.Lock()
        self._own_running = 0
        self._own_dirty = False
        self._log_handler = MessageHandler(self._deliver_log)

    # -- what the views use ----------------------------------------------------------------------------------

    @property
    def assistant(self) -> Assistant:
        """The facade of the open workspace."""
        if self.runtime is None:
            raise RuntimeError("the workspace is not open yet")
        return self.runtime.assistant

    @property
    def model_name(self) -> str:
        """The loaded model's name (its checkpoint file)."""
        return self.assistant.model_name if self.runtime is not None else ""

    @property
    def workspace_root(self) -> Path:
        """The workspace's root directory."""
        return self.runtime.workspace.root if self.runtime is not None else self.workspace_path

    @property
    def where(self) -> str:
        """`workspace-name · model` for the mode bar."""
        return f"{self.workspace_root.name} · {self.model_name}" if self.runtime is not None else ""

    @contextlib.contextmanager
    def own_work(self) -> Iterator[None]:
        """Mark an edit of this process (any thread): changes seen meanwhile are ours, not another's."""
        with self._own_lock:
            self._own_running += 1
        try:
            yield
        finally:
            with self._own_lock:
                self._own_running -= 1
                self._own_dirty = True

    def log_event(self, text: str, level: int = logging.INFO) -> None:
        """Add a line to the event log (UI thread)."""
        line = LogLine(self.clock(), text, level)
        self.events.append(line)
        del self.events[:-MAX_EVENTS]
        self.event_logged.publish(line)

    def report_error(self, what: str, error: BaseException) -> None:
        """A background task failed: a notification, never a traceback (that goes to the log)."""
        if isinstance(error, ShutkaError):
            self.notify(str(error), title=f"{what} failed", severity="error", timeout=8, markup=False)
            log.warning("%s failed: %s", what, error)
            if isinstance(error, BankModelMismatch):
                self.poll_now()
        else:
            self.notify(f"{type(error).__name__}: {error}", title=f"{what} failed unexpectedly",
                        severity="error", timeout=10, markup=False)
            log.error("%s failed", what, exc_info=error)
        self.log_event(f"{what} failed: {error}", logging.ERROR)

    # -- workers ---------------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="open", name="opening the workspace", exit_on_error=False)
    def open_workspace(self) -> None:
        """Load the model and open catalog and bank (no sync: the index is browsed as it is)."""
        runtime = build_runtime(self.workspace_path, checkpoint=self.checkpoint)
        try:
            status = runtime.assistant.status()
            files = {path: count for path, _, count in runtime.assistant.files()}
        except BaseException:
            runtime.close()
            raise
        self.post_message(RuntimeOpened(runtime, status, files))

    def poll_now(self) -> None:
        """Check the shared index now (one poll at a time)."""
        if self.runtime is None or self._polling or not self.is_running:
            return
        self._polling = True
        self.poll_index(self.snapshot)

    @work(thread=True, group="poll", name="checking the index", exit_on_error=False)
    def poll_index(self, previous: IndexSnapshot | None) -> None:
        """One status read; the per-file counts only when something changed."""
        assistant = self.assistant
        status = assistant.status()
        files = previous.files if previous is not None else {}
        probe = IndexSnapshot.from_status(status, files)
        if previous is None or probe.key != previous.key:
            probe = IndexSnapshot.from_status(status, {p: n for p, _, n in assistant.files()})
        self.post_message(IndexPolled(probe, status))

    def _source(self) -> Source:
        """Who made the change a poll just saw: this process while (or right after) it wrote."""
        with self._own_lock:
            ours = self._own_running > 0 or self._own_dirty or bool(self.status and self.status.indexing)
            if self._own_running == 0:
                self._own_dirty = False
        return "this process" if ours else "another process"

    def _on_sync_report(self, report: SyncReport) -> None:
        """The facade's listener, called from the syncing thread: post, never touch widgets."""
        with self._own_lock:
            self._own_dirty = True
        self.post_message(SyncCommitted(report))

    def _deliver_log(self, level: int, logger: str, text: str) -> None:
        """Called by the log handler, from any thread: post the record to the UI thread."""
        self.post_message(LogRecorded(level, logger, text))
