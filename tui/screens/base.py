"""What every view shares: access to the facade, the mode bar, and worker errors shown, never raised."""

from __future__ import annotations

from typing import cast

from textual.screen import Screen
from textual.worker import Worker, WorkerState

from assistant.service import Assistant
from tui.changes import IndexChange
from tui.state import AppState
from tui.widgets.mode_bar import ModeBar


class ShutkaScreen(Screen[None]):
    """A view of one open workspace. Subclasses set `MODE` and implement `refresh_data`."""

    MODE = ""
    """The app mode this screen is the base of (`bank`, `titans`, `status`, `why`)."""

    @property
    def shutka(self) -> AppState:
        """The app, typed."""
        return cast(AppState, self.app)

    @property
    def assistant(self) -> Assistant:
        """The facade of the open workspace (only called once the runtime is open)."""
        return self.shutka.assistant

    def mode_bar(self) -> ModeBar:
        """The tab row for this view."""
        return ModeBar(self.MODE, self.shutka.where, id="mode-bar")

    def on_mount(self) -> None:
        """Follow index changes and load the view's data."""
        self.shutka.index_changed.subscribe(self, self.on_index_change)
        self.refresh_data()

    def refresh_data(self) -> None:
        """Reload what the view shows from the facade (in workers)."""

    def on_index_change(self, change: IndexChange) -> None:
        """The shared index changed (this process or another): reload by default."""
        self.refresh_data()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker of this view failed: tell the user, never show a traceback."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.shutka.report_error(event.worker.name or "a background task", event.worker.error)
