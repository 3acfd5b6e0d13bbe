"""Screens shown before the views can be used: opening, a workspace that failed to open (with retry),
and an index that must be built or re-encoded first (with the action that does it, and `offer_rebuild`,
which decides after every status poll whether to show it)."""

from __future__ import annotations

import logging
from typing import cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Footer, Label, LoadingIndicator, Static

from assistant.types import Status
from tui.health import IndexProblem, OpenFailure, diagnose
from tui.jobs import index_job, reencode_job
from tui.screens.base import ShutkaScreen
from tui.screens.task import TaskScreen
from tui.state import AppState


class LoadingScreen(Screen[None]):
    """Shown while the model loads and the workspace opens (in a worker)."""

    def __init__(self, workspace: str) -> None:
        super().__init__()
        self.workspace = workspace
        """The workspace being opened."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="setup"):
            yield Label(Content(f"Opening {self.workspace}"), classes="setup-title")
            yield Static("loading the model and the memory bank…", classes="setup-text")
            yield LoadingIndicator()


class OpenFailedScreen(Screen[None]):
    """The workspace could not be opened: what went wrong and what to try; retry or quit."""

    BINDINGS = [
        Binding("r", "retry", "Retry"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, failure: OpenFailure) -> None:
        super().__init__()
        self.failure = failure
        """The error, in words."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="setup"):
            yield Label(self.failure.title, classes="setup-title error")
            yield Static(Text(self.failure.message), classes="setup-text", id="open-error")
            yield Static(Text(self.failure.hint, style="italic"), classes="setup-text")
        yield Footer()

    def action_retry(self) -> None:
        """Show the loading screen and open the workspace again."""
        app = cast(AppState, self.app)
        if app.screen is self:
            app.pop_screen()
        app.open_workspace()


class RebuildScreen(Screen[bool]):
    """The index cannot be browsed as it is: say why, and (re)build it with progress.
    Dismisses with True once fixed, False when the user browses anyway."""

    BINDINGS = [
        Binding("r", "rebuild", "Fix it"),
        Binding("escape", "browse", "Browse anyway"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, problem: IndexProblem) -> None:
        super().__init__()
        self.problem = problem
        """What is wrong."""
        self.fixing = False
        """True from the fixing action's start until its dialog closed (the app then leaves this screen be)."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="setup"):
            yield Label(self.problem.title, classes="setup-title warning", id="problem-title")
            yield Static(Text(self.problem.message), classes="setup-text", id="problem-text")
            with Center():
                yield Button(f"{self.problem.action} (r)", variant="primary", id="rebuild")
        yield Footer()

    def on_mount(self) -> None:
        """Focus the fixing action."""
        self.query_one("#rebuild", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The fixing action's button."""
        event.stop()
        self.action_rebuild()

    def action_rebuild(self) -> None:
        """Run the fixing action in a task dialog."""
        assistant = cast(AppState, self.app).assistant
        self.fixing = True
        if self.problem.kind == "missing":
            task = TaskScreen("Building the index", index_job(assistant), unit="files")
        else:
            task = TaskScreen("Re-encoding the memory bank", reencode_job(assistant), unit="entries")
        self.app.push_screen(task, self._done)

    def _done(self, summary: str | None) -> None:
        """The task finished: close with success, or stay after a failure."""
        self.fixing = False
        if summary:
            self.notify(summary, markup=False)
            cast(AppState, self.app).log_event(f"this process: {summary}")
            if self.is_current:
                self.dismiss(True)

    def action_browse(self) -> None:
        """Leave the problem as it is and show the views."""
        self.dismiss(False)


def offer_rebuild(app: AppState, status: Status) -> None:
    """After every status read: show the rebuild screen for a missing or incompatible index (unless the
    user chose to browse with that problem), and close it when another process fixed the index."""
    problem = diagnose(status)
    if problem is None and isinstance(app.screen, RebuildScreen) and not app.screen.fixing:
        app.screen.dismiss(True)  # fixed elsewhere (another process indexed or re-encoded)
        app.notify("The index is ready: another process built or re-encoded it.")
        return
    if problem is None or problem == app.ignored_problem:
        return
    if any(isinstance(s, RebuildScreen) for s in app.screen_stack) or not isinstance(app.screen, ShutkaScreen):
        return  # already shown, or a dialog or a task is on top: the next poll checks again
    app.log_event(f"{problem.title}: waiting for “{problem.action}”", logging.WARNING)

    def closed(fixed: bool | None) -> None:
        """The rebuild screen closed: remember a problem the user chose to browse with."""
        app.ignored_problem = None if fixed else problem
        app.poll_now()

    app.push_screen(RebuildScreen(problem), closed)
