"""Screenshots of the main screens (pytest-textual-snapshot), at 80×24 and a larger size.

Kept reproducible: the app does not poll, its clock is fixed, and values that differ between runs
or machines are replaced before the screenshot: the workspace path and sizes in the status view,
and model-computed numbers (Titans surprise, candidate scores), which are drawn from fixed values
here (the pilot tests check the real ones). Update with `pytest tests/tui --snapshot-update` and
look at the SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from assistant.types import Episode, Explanation, Hop, ScoredCandidate, TitansStats
from tests.tui.conftest import opened, settle, wait_for
from tui.app import ShutkaApp
from tui.messages import ExplanationReady, TitansLoaded
from tui.widgets.bank_tree import BankTree, EntryNode
from tui.widgets.entry_detail import EntryDetail

SnapCompare = Callable[..., bool]


async def on_formatter(pilot: Pilot[Any]) -> None:
    """Open the bank on `class Formatter` (src/lib/format.ts), its code and neighbours in the detail."""
    app = pilot.app
    await opened(pilot)
    tree = app.screen.query_one(BankTree)
    node = tree.file_nodes()["src/lib/format.ts"]
    node.expand()
    await settle(pilot)
    target = next(n for n in node.children if isinstance(n.data, EntryNode) and n.data.hit.symbol == "Formatter")
    tree.move_cursor(target)
    await settle(pilot)
    detail = app.screen.query_one(EntryDetail)
    await wait_for(pilot, lambda: detail.hit is not None and detail.hit.symbol == "Formatter")


def test_bank_80x24(snap_compare: SnapCompare, indexed_workspace: Path, make_app: Callable[..., ShutkaApp]) -> None:
    assert snap_compare(make_app(indexed_workspace), terminal_size=(80, 24), run_before=on_formatter)


def test_bank_text_search_120x36(snap_compare: SnapCompare, indexed_workspace: Path,
                                 make_app: Callable[..., ShutkaApp]) -> None:
    async def search(pilot: Pilot[Any]) -> None:
        await opened(pilot)
        await pilot.press("slash", "ctrl+t", *"format", "enter")
        await settle(pilot)
        await wait_for(pilot, lambda: pilot.app.screen.query_one(EntryDetail).hit is not None)

    assert snap_compare(make_app(indexed_workspace), terminal_size=(120, 36), run_before=search)


TITANS_STATS = TitansStats(
    episodes=37, capacity=256, writes=52,
    surprise_histogram=[(0.5 + i * 0.1, 0.6 + i * 0.1, n) for i, n in enumerate([3, 8, 12, 6, 4, 2, 1, 0, 0, 1])],
    most_accessed=[Episode(i, "src/main.ts", t, s, a, 0.0)
                   for i, (t, s, a) in enumerate([("return formatPoint(p);", 0.91, 7), ("const c = new Circle(2);", 1.2, 4),
                                                  ("return { x: a.x + b.x };", 0.64, 2)])],
    least_accessed=[Episode(10 + i, "src/shapes.ts", t, s, 0, 0.0)
                    for i, (t, s) in enumerate([("const dx = a.x - b.x;", 0.55), ("name = \"circle\";", 0.72)])],
)
"""Fixed statistics (surprise is model arithmetic; the pilot tests read the real store)."""


def test_titans_80x24(snap_compare: SnapCompare, indexed_workspace: Path, make_app: Callable[..., ShutkaApp]) -> None:
    async def titans(pilot: Pilot[Any]) -> None:
        await opened(pilot)
        await pilot.press("f3")
        await settle(pilot)
        pilot.app.screen.post_message(TitansLoaded(TITANS_STATS))
        await pilot.pause()

    assert snap_compare(make_app(indexed_workspace), terminal_size=(80, 24), run_before=titans)


def test_status_80x24(snap_compare: SnapCompare, indexed_workspace: Path, make_app: Callable[..., ShutkaApp]) -> None:
    async def status(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, ShutkaApp)
        await opened(pilot)
        await pilot.press("f4")
        await settle(pilot)
        real = app.assistant.status()
        masked = replace(real, workspace="/home/user/basic", model_digest="0123456789abcdef-int8",
                         bank=replace(real.bank, bytes_on_disk=151_552, memory_bytes=5_888,
                                      model_digest="0123456789abcdef-int8"))
        app.screen.show_status(masked)  # type: ignore[attr-defined]
        app.log_event("another process: generation 1 → 2; entries 46 → 51; src/extra.ts (new, 5)")
        await pilot.pause()

    assert snap_compare(make_app(indexed_workspace), terminal_size=(80, 24), run_before=status)


EXPLANATION = Explanation(
    candidates=(
        ScoredCandidate("add(origin, { x: 1, y: 2 });", "src/main.ts:6", "copy",
                        {"bm25_rel": 1.0, "votes_log": 0.693, "same_dir": 1.0, "latent_sim": 0.06, "lm_scored": 1.0},
                        3.856, 0.913, True),
        ScoredCandidate("[p, ...rest][i] = new Circle(2);", "src/main.ts:7", "copy_edit",
                        {"bm25_rel": 0.41, "votes_log": 0.0, "same_dir": 1.0, "latent_sim": 0.02, "lm_scored": 1.0},
                        1.204, 0.377, False),
    ),
    hops=(Hop("src/point.ts#add@4", "add", "src/point.ts", 1, 0.82),
          Hop("src/point.ts#Point@0", "Point", "src/point.ts", 2, 0.41)),
    threshold=0.5, decision="shown: top confidence 0.91 >= threshold 0.50", latency_ms=12.0, complexity=0.5)
"""A fixed explanation (scores are model arithmetic; the pilot tests run the real engine). The second
candidate's brackets must show as typed, not as markup."""


def test_why_120x36(snap_compare: SnapCompare, indexed_workspace: Path, make_app: Callable[..., ShutkaApp]) -> None:
    async def why(pilot: Pilot[Any]) -> None:
        await opened(pilot)
        await pilot.press("f5")
        await settle(pilot)
        await pilot.press(*"const p = ")
        pilot.app.screen.post_message(ExplanationReady(EXPLANATION))
        await pilot.pause()

    assert snap_compare(make_app(indexed_workspace), terminal_size=(120, 36), run_before=why)


def test_help_80x24(snap_compare: SnapCompare, indexed_workspace: Path, make_app: Callable[..., ShutkaApp]) -> None:
    async def help_(pilot: Pilot[Any]) -> None:
        await opened(pilot)
        await pilot.press("f1")

    assert snap_compare(make_app(indexed_workspace), terminal_size=(80, 24), run_before=help_)


def test_no_index_80x24(snap_compare: SnapCompare, basic_workspace: Path, make_app: Callable[..., ShutkaApp]) -> None:
    async def no_index(pilot: Pilot[Any]) -> None:
        await opened(pilot)

    assert snap_compare(make_app(basic_workspace), terminal_size=(80, 24), run_before=no_index)
