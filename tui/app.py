"""`ShutkaApp`: the wiring of the memory browser — its views (modes) and keys, and what happens on each
message: the workspace opened (show the bank, offer a rebuild), it failed to open (the error screen), a
poll came back (broadcast what changed), a sync or a warning arrived (the event log).

The state and the workers live in `tui.state.AppState`, which this class extends; each view's behaviour
lives in its own module (`tui.screens`). The screens see the app as an `AppState` and never import this
module, so the import graph runs one way: app → screens → state.
"""

from __future__ import annotations

import logging

from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from indexer.errors import ShutkaError
from tui.changes import IndexSnapshot, describe_sync, diff
from tui.health import describe_open_error
from tui.messages import IndexPolled, LogRecorded, RuntimeOpened, SyncCommitted
from tui.screens.bank import BankScreen
from tui.screens.base import ShutkaScreen
from tui.screens.help import HelpScreen
from tui.screens.setup import LoadingScreen, OpenFailedScreen, offer_rebuild
from tui.screens.status import StatusScreen
from tui.screens.titans import TitansScreen
from tui.screens.why import WhyScreen
from tui.state import AppState

log = logging.getLogger(__name__)


class ShutkaApp(AppState):
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

    # -- opening ---------------------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        """The loading screen, shown until the workspace is open."""
        return LoadingScreen(str(self.workspace_path))

    def on_mount(self) -> None:
        """Route warnings to the screen and start opening the workspace."""
        self._log_handler.install()
        self.open_workspace()

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
        offer_rebuild(self, message.status)

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

    # -- noticing changes ------------------------------------------------------------------------------------

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
        offer_rebuild(self, message.status)

    def on_sync_committed(self, message: SyncCommitted) -> None:
        """Log a sync of this process and look at the index at once."""
        self.log_event(describe_sync(message.report))
        self.poll_now()

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
