"""A long task (build the index, re-encode the bank, sync) in a worker, with a progress bar.

The facade's long calls take a `progress(done, total)` callback; it is called from the worker
thread, so it only posts messages (throttled), and the dialog updates its bar on the UI thread.
A failure is shown in the dialog, with its message, never as a traceback.
"""

from __future__ import annotations

from typing import cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, ProgressBar, Static
from textual.worker import Worker, WorkerState

from tui.jobs import Job
from tui.messages import TaskFinished, TaskProgress
from tui.state import AppState


class TaskScreen(ModalScreen[str | None]):
    """Runs `job` once; dismisses with its summary, or None after a failure (Escape closes then)."""

    BINDINGS = [Binding("escape", "close", "Close", show=False)]

    def __init__(self, title: str, job: Job, *, unit: str = "") -> None:
        super().__init__()
        self.title_text = title
        """What the task does, e.g. `Re-encoding the memory bank`."""
        self.job = job
        """The work, run in a thread."""
        self.unit = unit
        """What progress counts (`files`, `entries`)."""
        self.failed = False
        """True once the job raised."""
        self._last_posted = -1

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="task-dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield ProgressBar(total=None, show_eta=False, id="task-progress")
            yield Static("starting…", id="task-status")
            yield Static("", id="task-error", classes="dialog-error")
            yield Label("runs to the end; the app stays usable afterwards", classes="dialog-hint",
                        id="task-hint")

    def on_mount(self) -> None:
        """Start the job."""
        self.run_job()

    @work(thread=True, exclusive=True, group="task", name="task", exit_on_error=False)
    def run_job(self) -> None:
        """Run the job off the UI thread; progress and the result come back as messages."""
        with cast(AppState, self.app).own_work():
            summary = self.job(self._progress)
        self.post_message(TaskFinished(summary))

    def _progress(self, done: int, total: int) -> None:
        """Called from the worker thread: post at most one message per percent."""
        step = done * 100 // total if total else done
        if step != self._last_posted or done == total:
            self._last_posted = step
            self.post_message(TaskProgress(done, total))

    def on_task_progress(self, message: TaskProgress) -> None:
        """Move the bar."""
        bar = self.query_one("#task-progress", ProgressBar)
        bar.update(total=message.total or None, progress=message.done)
        unit = f" {self.unit}" if self.unit else ""
        self.query_one("#task-status", Static).update(f"{message.done} / {message.total}{unit}")

    def on_task_finished(self, message: TaskFinished) -> None:
        """Close with the summary."""
        self.dismiss(message.summary)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The job raised: show its error here (not as a traceback) and let Escape close."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.failed = True
            error = event.worker.error
            self.log.error(f"{self.title_text} failed: {error!r}")
            self.query_one("#task-status", Static).update("failed")
            self.query_one("#task-error", Static).update(Content(f"{type(error).__name__}: {error}"))
            self.query_one("#task-hint", Label).update("Escape: close")

    def action_close(self) -> None:
        """Close after a failure (a running task cannot be stopped)."""
        if self.failed:
            self.dismiss(None)
