"""The status view: workspace, model, bank size on disk and in memory, the last sync and its latency,
and a live log of index changes (this process, a watcher, the language server)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Footer

from assistant.types import Status
from tui.jobs import sync_job
from tui.screens.base import ShutkaScreen
from tui.screens.task import TaskScreen
from tui.widgets.status_panel import StatusPanel
from tui.widgets.sync_log import LogLine, SyncLog


class StatusScreen(ShutkaScreen):
    """Workspace, model, bank size on disk and in memory, the last sync and its latency, and a live log
    of index changes made by this and other processes (a watcher, the language server)."""

    MODE = "status"
    BINDINGS = [
        Binding("s", "sync", "Sync now", tooltip="bring the index in step with the disk now"),
        Binding("c", "clear_log", "Clear log", tooltip="empty the log (new events keep arriving)"),
    ]

    def compose(self) -> ComposeResult:
        yield self.mode_bar()
        with Vertical(id="status-body"):
            yield StatusPanel(id="status-panel")
            yield SyncLog(id="sync-log")
        yield Footer()

    def on_mount(self) -> None:
        """Replay the events so far, then follow new events and statuses."""
        log = self.query_one(SyncLog)
        for line in self.shutka.events:
            log.add(line)
        self.shutka.event_logged.subscribe(self, self.on_event_logged)
        self.shutka.status_changed.subscribe(self, self.show_status)
        super().on_mount()

    def refresh_data(self) -> None:
        """Show the last status the app polled."""
        if self.shutka.status is not None:
            self.show_status(self.shutka.status)

    def show_status(self, status: Status) -> None:
        """Render the latest status the app polled."""
        self.query_one(StatusPanel).show(status)

    def on_event_logged(self, line: LogLine) -> None:
        """Append a new event to the log."""
        self.query_one(SyncLog).add(line)

    def action_clear_log(self) -> None:
        """Empty the log (events keep arriving)."""
        self.shutka.events.clear()
        self.query_one(SyncLog).clear()

    def action_sync(self) -> None:
        """Bring the index in step with the disk now (through the facade, under the writer lock)."""
        self.app.push_screen(TaskScreen("Syncing the index with the disk", sync_job(self.assistant), unit="files"),
                             lambda summary: self.shutka.poll_now() if summary else None)
