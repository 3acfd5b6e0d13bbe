"""The Titans view: statistics, the surprise histogram, most/least accessed; forget N, save, load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from assistant.types import CompletionRequest
from tests.tui.conftest import active, errors, opened, settle, wait_for
from tui.app import ShutkaApp
from tui.render import first_line
from tui.screens.dialogs import PromptScreen
from tui.screens.titans import TitansScreen
from tui.widgets.episode_table import EpisodeTable
from tui.widgets.histogram import SurpriseHistogram

LINES = [("export function twice(n: number): number {\n  return ", "n * 2;"),
         ("const origin = { x: 0, y: 0 };\nconst label = ", "formatPoint(origin);"),
         ("class Stack<T> {\n  private items: T[] = [];\n  push(item: T): void {\n    ", "this.items.push(item);"),
         ("function area(r: number) {\n  return ", "Math.PI * r * r;")]


def learn(workspace: Path, checkpoint: Path, lines: list[tuple[str, str]]) -> int:
    """Accept completions in a runtime of its own (what an editor's feedback does): the Titans
    memory keeps the surprising ones as episodes. -> episodes now."""
    from assistant.runtime import open_runtime

    with open_runtime(workspace, checkpoint=checkpoint, sync=False) as rt:
        for prefix, text in lines:
            rt.assistant.feedback(CompletionRequest.from_prefix(prefix, path="src/main.ts"), text, True)
        return rt.assistant.titans_stats().episodes


@pytest.fixture
def titans_workspace(indexed_workspace: Path, tiny_checkpoint: Path) -> Path:
    """The indexed basic workspace whose Titans memory holds a few episodes."""
    assert learn(indexed_workspace, tiny_checkpoint, LINES) >= 2
    return indexed_workspace


async def show_titans(pilot: Pilot[ShutkaApp]) -> TitansScreen:
    await opened(pilot)
    await pilot.press("f3")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, TitansScreen)
    await wait_for(pilot, lambda: screen.stats is not None, what="the statistics")
    return screen


async def answer(pilot: Pilot[ShutkaApp], key: str, text: str) -> PromptScreen:
    """Press `key`, type `text` into the prompt that opens, press Enter; -> the prompt."""
    await pilot.press(key)
    prompt = await active(pilot, PromptScreen)
    prompt.query_one("#prompt-input").value = text  # type: ignore[attr-defined]
    await pilot.press("enter")
    await settle(pilot)
    return prompt


async def test_counts_histogram_and_most_least_accessed(titans_workspace: Path,
                                                       make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(titans_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await show_titans(pilot)
        stats = app.assistant.titans_stats()
        assert screen.stats.episodes == stats.episodes
        summary = str(screen.query_one("#titans-summary").render())
        assert f"episodes {stats.episodes} / {stats.capacity} capacity" in summary
        histogram = str(screen.query_one(SurpriseHistogram).render())
        assert histogram.count("\n") + 1 == len(stats.surprise_histogram)
        assert "█" in histogram
        most, least = screen.query_one("#titans-most", EpisodeTable), screen.query_one("#titans-least", EpisodeTable)
        assert most.row_count == len(stats.most_accessed) and least.row_count == len(stats.least_accessed)
        assert [str(least.get_row_at(i)[2]) for i in range(least.row_count)] == \
            [first_line(ep.text, 32) for ep in stats.least_accessed]
        assert all(any(ep.text.endswith(text) for _, text in LINES) for ep in stats.least_accessed)


async def test_forget_n(titans_workspace: Path, make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(titans_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await show_titans(pilot)
        before = screen.stats.episodes
        prompt = await answer(pilot, "f", "many")  # not a number: the prompt says so and stays
        assert app.screen is prompt and "whole number" in str(prompt.query_one("#prompt-error").render())
        await pilot.press("escape")
        assert app.screen is screen and app.assistant.titans_stats().episodes == before
        await answer(pilot, "f", "1")
        await wait_for(pilot, lambda: screen.stats.episodes == before - 1, what="one episode fewer")
        assert app.assistant.titans_stats().episodes == before - 1
        assert not errors(app)


async def test_save_then_load(titans_workspace: Path, tiny_checkpoint: Path,
                              make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(titans_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await show_titans(pilot)
        saved = screen.stats.episodes
        await answer(pilot, "s", "saved_titans.pt")  # relative: from .shutka/titans/, never the user's files
        saved_file = titans_workspace / ".shutka" / "titans" / "saved_titans.pt"
        await wait_for(pilot, saved_file.is_file, what="the saved file")
        await answer(pilot, "f", "1")
        await wait_for(pilot, lambda: screen.stats.episodes == saved - 1, what="forgetting")
        # loading a path that does not exist is refused in the prompt
        prompt = await answer(pilot, "l", "nowhere.pt")
        assert app.screen is prompt and "not a file written" in str(prompt.query_one("#prompt-error").render())
        await pilot.press("escape")
        # nor is one outside .shutka/titans/, with the same words whether it exists or not
        for outside in ("/etc/passwd", "/etc/no-such-file", "../../src/main.ts"):
            prompt = await answer(pilot, "l", outside)
            assert app.screen is prompt and "only inside" in str(prompt.query_one("#prompt-error").render())
            await pilot.press("escape")
        # loading the saved memory keeps only the episodes it knows that are still in the workspace
        await answer(pilot, "l", "saved_titans.pt")
        await wait_for(pilot, lambda: any("Loaded the Titans memory" in line.text for line in app.events),
                       what="the load")
        await settle(pilot)
        assert screen.stats.episodes == app.assistant.titans_stats().episodes == saved - 1
        assert not errors(app)
