"""The bank view: the file tree, the detail pane and its neighbours, search, delete, re-encode."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, ProgressBar

from assistant.errors import BankLocked
from tests.tui.conftest import active, errors, notes, opened, settle, wait_for
from tui.app import ShutkaApp
from tui.screens.bank import BankScreen
from tui.screens.dialogs import ConfirmScreen
from tui.screens.task import TaskScreen
from tui.widgets.bank_tree import BankTree, EntryNode, FileNode, LinesNode
from tui.widgets.entry_detail import EntryDetail
from tui.widgets.neighbour_list import NeighbourList
from tui.widgets.search_box import SearchBox
from tui.widgets.search_results import SearchResults


def tree_of(app: ShutkaApp) -> BankTree:
    return app.screen.query_one(BankTree)


def detail_of(app: ShutkaApp) -> EntryDetail:
    return app.screen.query_one(EntryDetail)


def file_counts(app: ShutkaApp) -> dict[str, int]:
    return {path: node.data.count for path, node in tree_of(app).file_nodes().items()
            if isinstance(node.data, FileNode)}


async def open_file(pilot: Pilot[Any], path: str) -> None:
    """Put the tree's cursor on `path` and expand it."""
    tree = tree_of(pilot.app)  # type: ignore[arg-type]
    node = tree.file_nodes()[path]
    tree.move_cursor(node)
    node.expand()
    await settle(pilot)


async def show_symbol(pilot: Pilot[Any], path: str, symbol: str) -> None:
    """Move the tree's cursor to the definition `symbol` of `path` and wait for the detail pane."""
    app = pilot.app
    await open_file(pilot, path)
    node = next(n for n in tree_of(app).file_nodes()[path].children  # type: ignore[arg-type]
                if isinstance(n.data, EntryNode) and n.data.hit.symbol == symbol)
    tree_of(app).move_cursor(node)  # type: ignore[arg-type]
    await settle(pilot)
    await wait_for(pilot, lambda: (h := detail_of(app).hit) is not None and h.symbol == symbol,  # type: ignore[arg-type]
                   what=f"{symbol} in the detail pane")


async def test_files_with_counts_then_definitions_and_lines(indexed_workspace: Path,
                                                            make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(indexed_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        expected = {path: count for path, _, count in app.assistant.files()}
        assert file_counts(app) == expected and sum(expected.values()) == app.assistant.bank_stats().entries
        await open_file(pilot, "src/shapes.ts")
        children = tree_of(app).file_nodes()["src/shapes.ts"].children
        definitions = [n.data.hit.symbol for n in children if isinstance(n.data, EntryNode)]
        assert definitions == ["Shape", "Circle", "Circle.constructor", "Circle.area", "distance"]
        group = children[-1]
        assert isinstance(group.data, LinesNode)
        lines = [n.data.hit for n in group.children if isinstance(n.data, EntryNode)]
        assert len(definitions) + len(lines) == expected["src/shapes.ts"]
        assert all(h.kind == "line" for h in lines)


async def test_detail_pane_and_navigable_neighbours(indexed_workspace: Path,
                                                    make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(indexed_workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await opened(pilot)
        await show_symbol(pilot, "src/shapes.ts", "distance")
        detail = detail_of(app)
        header = str(detail.query_one("#detail-header").render())
        assert "function distance" in header and "src/shapes.ts:16–20" in header
        assert detail.hit is not None and detail.hit.content_hash[:12] in header
        code = detail.query_one("#detail-code").render()
        assert "Math.sqrt" in str(code.renderable if hasattr(code, "renderable") else code) or \
            "Math.sqrt" in detail.hit.text
        neighbours = detail.query_one(NeighbourList)
        symbols = [h.symbol for h in neighbours.hops]
        assert "Point" in symbols and "main" in symbols
        # choose the neighbour `Point` (defined in another file): it opens in the detail pane
        neighbours.focus()
        neighbours.highlighted = symbols.index("Point")
        await pilot.press("enter")
        await settle(pilot)
        await wait_for(pilot, lambda: detail.hit is not None and detail.hit.symbol == "Point",
                       what="the neighbour to open")
        assert detail.hit is not None and detail.hit.path == "src/point.ts"
        await pilot.press("b")  # back to where the walk started
        await settle(pilot)
        await wait_for(pilot, lambda: detail.hit is not None and detail.hit.symbol == "distance", what="going back")
        assert not errors(app)


async def test_text_and_semantic_search(indexed_workspace: Path, make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(indexed_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        box = app.screen.query_one(SearchBox)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press("ctrl+t")  # semantic → text
        assert box.mode == "text"
        await pilot.press(*"toFixed", "enter")
        await settle(pilot)
        results = app.screen.query_one(SearchResults)
        assert app.screen.query_one("#bank-lists").current == "search-results"
        assert "text hits for 'toFixed'" in str(results.border_title)
        assert results.option_count >= 1
        await wait_for(pilot, lambda: detail_of(app).hit is not None, what="the first hit's detail")
        assert "toFixed" in detail_of(app).hit.text  # type: ignore[union-attr]
        # toggling with a query typed searches again, through the model
        await pilot.press("slash", "ctrl+t")
        await settle(pilot)
        assert box.mode == "semantic"
        assert "semantic hits" in str(results.border_title) and results.option_count >= 1
        await pilot.press("escape")
        assert app.screen.query_one("#bank-lists").current == "bank-tree"
        assert box.query_text == ""


async def test_delete_an_entry_after_confirming(indexed_workspace: Path, make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(indexed_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        before = file_counts(app)["src/shapes.ts"]
        await show_symbol(pilot, "src/shapes.ts", "distance")
        entry_id = detail_of(app).hit.id  # type: ignore[union-attr]
        await pilot.press("d")
        await active(pilot, ConfirmScreen)
        await pilot.press("n")  # cancelled: nothing happens
        assert isinstance(app.screen, BankScreen) and app.assistant.entry(entry_id) is not None
        await pilot.press("d")
        await pilot.press("y")
        await settle(pilot)
        await wait_for(pilot, lambda: file_counts(app)["src/shapes.ts"] == before - 1, what="the new count")
        assert app.assistant.entry(entry_id) is None
        assert detail_of(app).hit is None
        assert any("Forgot 1 entry" in n for n in notes(app))
        children = tree_of(app).file_nodes()["src/shapes.ts"].children
        assert "distance" not in [n.data.hit.symbol for n in children if isinstance(n.data, EntryNode)]


async def test_delete_all_of_a_files_entries(indexed_workspace: Path, make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(indexed_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        tree = tree_of(app)
        tree.focus()
        tree.move_cursor(tree.file_nodes()["src/point.ts"])
        await pilot.press("d")  # on a file node, d deletes the whole file's entries
        assert "src/point.ts" in (await active(pilot, ConfirmScreen)).question
        await pilot.press("y")
        await settle(pilot)
        await wait_for(pilot, lambda: "src/point.ts" not in file_counts(app), what="the file to leave")
        assert app.assistant.entries("src/point.ts") == []
        assert not errors(app)


async def test_reencode_with_progress(indexed_workspace: Path, make_app: Callable[..., ShutkaApp],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(indexed_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        entries = app.assistant.bank_stats().entries
        real, release = app.assistant.reencode, threading.Event()

        def held(progress: Callable[[int, int], None]) -> int:
            """The real re-encode, then wait, so the dialog can be looked at with its progress."""
            done = real(progress)
            release.wait(10)
            return done

        monkeypatch.setattr(app.assistant, "reencode", held)
        await pilot.press("e")
        bar = (await active(pilot, TaskScreen)).query_one(ProgressBar)
        await wait_for(pilot, lambda: bar.total == entries and bar.progress == entries, what="full progress")
        assert f"{entries} / {entries} entries" in str(app.screen.query_one("#task-status").render())
        release.set()
        await wait_for(pilot, lambda: any(f"Re-encoded {entries} entries" in n for n in notes(app)),
                       what="the task to finish")
        assert isinstance(app.screen, BankScreen)
        assert app.assistant.bank_stats().entries == entries
        assert not errors(app)


async def test_a_failing_task_shows_its_error(indexed_workspace: Path, make_app: Callable[..., ShutkaApp],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(indexed_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)

        def locked(progress: Callable[[int, int], None]) -> int:
            raise BankLocked("another process holds the writer lock")

        monkeypatch.setattr(app.assistant, "reencode", locked)
        await pilot.press("e")
        screen = await active(pilot, TaskScreen)
        await wait_for(pilot, lambda: screen.failed, what="the failure")
        assert "BankLocked: another process holds the writer lock" in str(screen.query_one("#task-error").render())
        await pilot.press("escape")
        assert isinstance(app.screen, BankScreen)
