"""The Titans view: how full the episodic store is, the surprise histogram, the most and least
accessed episodes; forget the n least accessed, save and load the memory."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Static

from assistant.errors import InvalidRequest, TitansPathRefused
from assistant.types import TitansStats
from tui.messages import TitansChanged, TitansLoaded
from tui.render import bar
from tui.screens.base import ShutkaScreen
from tui.screens.dialogs import PromptScreen
from tui.widgets.episode_table import EpisodeTable
from tui.widgets.histogram import SurpriseHistogram

CAPACITY_BAR = 24
"""Cells of the capacity gauge."""


class TitansScreen(ShutkaScreen):
    """The test-time memory: episodes kept against its capacity, the surprise histogram, the most and
    least recalled episodes."""

    MODE = "titans"
    BINDINGS = [
        Binding("f", "forget", "Forget N", tooltip="forget the N least-accessed episodes"),
        Binding("s", "save", "Save", tooltip="save the memory (a path; empty: the workspace's own file)"),
        Binding("l", "load", "Load", tooltip="load a saved memory (relative paths start at the workspace)"),
        Binding("r", "refresh", "Refresh", tooltip="read the statistics again"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.stats: TitansStats | None = None
        """The last `Assistant.titans_stats()` (None until loaded, or without a Titans memory)."""

    def compose(self) -> ComposeResult:
        yield self.mode_bar()
        with Horizontal(id="titans-body"):
            with Vertical(id="titans-left"):
                yield Static("loading…", id="titans-summary")
                yield SurpriseHistogram(id="titans-histogram")
            with Vertical(id="titans-right"):
                yield EpisodeTable("most accessed", id="titans-most")
                yield EpisodeTable("least accessed", id="titans-least")
        yield Footer()

    # -- loading ---------------------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        """Reload the statistics."""
        self.load_stats()

    def action_refresh(self) -> None:
        """Read the statistics again."""
        self.load_stats()

    @work(thread=True, exclusive=True, group="titans", name="reading the Titans memory", exit_on_error=False)
    def load_stats(self) -> None:
        """The store's statistics (a model without Titans memory says so instead)."""
        try:
            self.post_message(TitansLoaded(self.assistant.titans_stats()))
        except InvalidRequest as exc:
            self.post_message(TitansLoaded(None, str(exc)))

    def on_titans_loaded(self, message: TitansLoaded) -> None:
        """Show the summary, the histogram and both tables."""
        self.stats = stats = message.stats
        summary = self.query_one("#titans-summary", Static)
        if stats is None:
            summary.update(Text(message.unavailable, style="yellow"))
            self.query_one(SurpriseHistogram).show([])
            return
        used = stats.episodes / stats.capacity if stats.capacity else 0.0
        summary.update(Text.assemble(
            ("episodes ", "dim"), (f"{stats.episodes}", "bold"), (f" / {stats.capacity} capacity", "dim"), "\n",
            (bar(used, CAPACITY_BAR), "green on grey23"), (f" {used:.1%} used", "dim"), "\n",
            ("writes ", "dim"), (f"{stats.writes}", "bold"), (" since loaded", "dim")))
        self.query_one(SurpriseHistogram).show(stats.surprise_histogram)
        self.query_one("#titans-most", EpisodeTable).show(stats.most_accessed)
        self.query_one("#titans-least", EpisodeTable).show(stats.least_accessed)

    # -- actions ---------------------------------------------------------------------------------------------

    def action_forget(self) -> None:
        """Ask for n, then drop the n least-accessed episodes."""
        episodes = self.stats.episodes if self.stats is not None else 0

        def check(text: str) -> str | None:
            return None if text.strip().isdigit() else "Type a whole number (0 or more)."

        self.app.push_screen(
            PromptScreen(f"Forget how many of the least-accessed episodes? ({episodes} kept now)",
                         value="10", check=check),
            lambda text: self.forget(int(text)) if text is not None else None)

    @work(thread=True, group="titans-edit", name="forgetting episodes", exit_on_error=False)
    def forget(self, n: int) -> None:
        """Forget through the facade."""
        with self.shutka.own_work():
            dropped = self.assistant.titans_forget(n)
        self.post_message(TitansChanged(f"Forgot {dropped} episode{'s' if dropped != 1 else ''}"))

    def action_save(self) -> None:
        """Ask for a path (empty: the workspace's own file), then save the memory there."""
        self.app.push_screen(
            PromptScreen("Save the Titans memory in .shutka/titans/ as (empty: workspace_titans.pt)",
                         placeholder="memory_titans.pt"),
            lambda text: self.save(text.strip()) if text is not None else None)

    @work(thread=True, group="titans-edit", name="saving the Titans memory", exit_on_error=False)
    def save(self, path: str) -> None:
        """Save through the facade."""
        saved = self.assistant.titans_save(path or None)
        self.post_message(TitansChanged(f"Saved the Titans memory to {saved}"))

    def action_load(self) -> None:
        """Ask for a path, then load the memory saved there."""

        def check(text: str) -> str | None:
            if not text.strip():
                return "Type the name of a saved Titans memory."
            try:
                self.assistant.titans_path(text.strip(), writing=False)
            except TitansPathRefused as exc:
                return str(exc)
            return None

        self.app.push_screen(PromptScreen("Load a Titans memory from .shutka/titans/", placeholder="memory_titans.pt",
                                          check=check),
                             lambda text: self.load(text.strip()) if text else None)

    @work(thread=True, group="titans-edit", name="loading a Titans memory", exit_on_error=False)
    def load(self, path: str) -> None:
        """Load through the facade."""
        with self.shutka.own_work():
            self.assistant.titans_load(path)
        self.post_message(TitansChanged(f"Loaded the Titans memory from {path}"))

    def on_titans_changed(self, message: TitansChanged) -> None:
        """Say what happened and reload."""
        self.notify(message.summary, markup=False)
        self.shutka.log_event(f"this process: {message.summary}")
        self.load_stats()

