"""`ShutkaApp`: opens the workspace (in a worker), owns the runtime, switches views, polls the shared
index for changes made by other processes, and turns every error into a message on screen.

Views (modes): bank, titans, status, why. Each is a `ShutkaScreen` that talks to the facade in
its own workers; the app broadcasts index changes to them through `index_changed`.
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
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from assistant.errors import BankModelMismatch
from assistant.runtime import build_runtime
from assistant.service import Assistant
from assistant.types import Status, SyncReport
from indexer.errors import ShutkaError
from tui.changes import IndexChange, IndexSnapshot, Source, describe_sync, diff
from tui.health import IndexProblem, describe_open_error, diagnose
from tui.logbridge import MessageHandler
from tui.messages import IndexPolled, LogRecorded, RuntimeOpened, SyncCommitted
from tui.screens.bank import BankScreen
from tui.screens.base import ShutkaScreen
from tui.screens.help import HelpScreen
from tui.screens.setup import LoadingScreen, OpenFailedScreen, RebuildScreen
from tui.screens.status import StatusScreen
from tui.screens.titans import TitansScreen
from tui.screens.why import WhyScreen
from tui.widgets.sync_log import LogLine

if TYPE_CHECKING:
    from assistant.runtime import Runtime

log = logging.getLogger(__name__)

DEFAULT_POLL_S = 1.0
"""How often the shared index is checked for commits of other processes (one status read)."""
MAX_EVENTS = 500
"""Events kept for the status view's log."""


class ShutkaApp(App[None]):
    """The memory browser of one workspace."""

    CSS_PATH = "shutka.tcss"
    TITLE = "Shutka"
    ENABLE_COMMAND_PALETTE = False
    MODES = {"bank": BankScreen, "titans": TitansScreen, "status": StatusScreen, "why": WhyScreen}
    BINDINGS = [
        Binding("f1", "help", "Help", key_display="F1", priority=True),
        Binding("question_mark", "help", "Help", show=False),
        Binding("f2", "show('bank')", "Bank", show=False, priority=True),
        Binding("f3", "show('titans')", "Titans", show=False, priority=True),
        Binding("f4", "show('status')", "Status", show=False, priority=True),
        Binding("f5", "show('why')", "Why", show=False, priority=True),
        Binding("1", "show('bank')", "Bank", show=False),
        Binding("2", "show('titans')", "Titans", show=False),
        Binding("3", "show('status')", "Status", show=False),
        Binding("4", "show('why')", "Why", show=False),
        Binding("q", "quit", "Quit"),
    ]

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
        self._poll_timer: Timer | None = None
        self._polling = False
        self._own_lock = threading.Lock()
        self._own_running = 0
        self._own_dirty = False
        self._log_handler = MessageHandler(self._deliver_log)
        self._ignored_problem: IndexProblem | None = None

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

    # -- opening ---------------------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        """The loading screen, shown until the workspace is open."""
        return LoadingScreen(str(self.workspace_path))

    def on_mount(self) -> None:
        """Route warnings to the screen and start opening the workspace."""
        self._log_handler.install()
        self.open_workspace()

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

    def on_runtime_opened(self, message: RuntimeOpened) -> None:
        """Keep the runtime, listen for syncs, start polling, show the bank (and any index problem)."""
        self.runtime = runtime = message.runtime
        self.title = f"Shutka — {runtime.workspace.root.name}"
        runtime.assistant.add_listener(self._on_sync_report)
        self.status = message.status
        self.snapshot = IndexSnapshot.from_status(message.status, message.files)
        self.log_event(f"opened {runtime.workspace.root.name} with {self.model_name}: "
                       f"{message.status.bank.entries} entries, generation {message.status.catalog_generation}")
        if self.watch:
            runtime.start_watcher()
            self.log_event("this process: watching the workspace for changes")
        if self.poll_interval > 0:
            self._poll_timer = self.set_interval(self.poll_interval, self.poll_now)
        self.switch_mode("bank")
        self._check_health(message.status)

    def retry_open(self) -> None:
        """After a failure: show the loading screen and open again."""
        if isinstance(self.screen, OpenFailedScreen):
            self.pop_screen()
        self.open_workspace()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Failures of the app's own workers: opening (an error screen), polling, others (a notification)."""
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        if event.worker.group == "open":
            error = event.worker.error
            log.warning("opening %s failed: %s", self.workspace_path, error, exc_info=not isinstance(
                error, ShutkaError))
            self.push_screen(OpenFailedScreen(describe_open_error(error)))
        elif event.worker.group == "poll":
            self._polling = False
            self.report_error("checking the index", event.worker.error)
        else:
            self.report_error(event.worker.name or "a background task", event.worker.error)

    def _check_health(self, status: Status) -> None:
        """Show the rebuild screen for a missing or incompatible index (unless the user chose to browse)."""
        problem = diagnose(status)
        if problem is None and isinstance(self.screen, RebuildScreen) and not self.screen.fixing:
            self.screen.dismiss(True)  # fixed elsewhere (another process indexed or re-encoded)
            self.notify("The index is ready: another process built or re-encoded it.")
            return
        if problem is None or problem == self._ignored_problem:
            return
        if any(isinstance(s, RebuildScreen) for s in self.screen_stack) or not isinstance(self.screen, ShutkaScreen):
            return  # already shown, or a dialog or a task is on top: the next poll checks again
        self.log_event(f"{problem.title}: waiting for “{problem.action}”", logging.WARNING)

        def closed(fixed: bool | None) -> None:
            """The rebuild screen closed: remember a problem the user chose to browse with."""
            self._ignored_problem = None if fixed else problem
            self.poll_now()

        self.push_screen(RebuildScreen(problem), closed)

    # -- noticing changes ------------------------------------------------------------------------------------

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

    def on_index_polled(self, message: IndexPolled) -> None:
        """Publish the status; diff against the last snapshot and broadcast what changed."""
        self._polling = False
        if not self.is_running or not self.screen_stack:
            return  # shutting down: a last poll came back after the screens closed
        self.status = message.status
        self.status_changed.publish(message.status)
        if self.snapshot is not None:
            change = diff(self.snapshot, message.snapshot, self._source())
            if change is not None:
                self.snapshot = message.snapshot
                if change.source == "another process":
                    self.log_event(change.describe())
                self.index_changed.publish(change)
        else:
            self.snapshot = message.snapshot
        self._check_health(message.status)

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

    def on_sync_committed(self, message: SyncCommitted) -> None:
        """Log a sync of this process and look at the index at once."""
        self.log_event(describe_sync(message.report))
        self.poll_now()

    def _deliver_log(self, level: int, logger: str, text: str) -> None:
        """Called by the log handler, from any thread: post the record to the UI thread."""
        self.post_message(LogRecorded(level, logger, text))

    def on_log_recorded(self, message: LogRecorded) -> None:
        """Log warnings to the event log; the assistant's also as a notification."""
        self.log_event(f"{message.logger}: {message.text}", message.level)
        if message.logger.startswith("assistant"):
            self.notify(message.text, title="assistant", severity="error" if message.level >= logging.ERROR
                        else "warning", timeout=8, markup=False)

    # -- actions ---------------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Views switch only once the workspace is open and no dialog or setup screen is on top."""
        if action == "show":
            return self.runtime is not None and isinstance(self.screen, ShutkaScreen)
        return True

    def action_show(self, mode: str) -> None:
        """Switch to a view."""
        if self.current_mode != mode:
            self.switch_mode(mode)

    def action_help(self) -> None:
        """Show the keys and views."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # -- closing ---------------------------------------------------------------------------------------------

    def on_unmount(self) -> None:
        """Stop polling, detach the log handler, close the runtime this app opened."""
        self._log_handler.uninstall()
        if self._poll_timer is not None:
            self._poll_timer.stop()
        if self.runtime is not None:
            runtime, self.runtime = self.runtime, None
            runtime.close()
