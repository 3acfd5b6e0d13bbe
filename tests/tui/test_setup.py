"""Workspaces that cannot be browsed as they are: no index yet, or a bank another model encoded.
Each opens with a message and the action that fixes it, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from assistant.runtime import build_runtime
from tests.tui.conftest import active, errors, index_workspace, notes, opened, settle, wait_for
from tui.app import ShutkaApp
from tui.health import mismatch
from tui.screens.bank import BankScreen
from tui.screens.setup import RebuildScreen
from tui.widgets.bank_tree import BankTree


async def test_no_index_opens_with_the_build_action(basic_workspace: Path,
                                                    make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(basic_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        screen = await active(pilot, RebuildScreen)
        assert screen.problem.kind == "missing"
        assert "no index yet" in str(screen.query_one("#problem-title").render())
        await pilot.press("f3")  # the views wait until the problem is dealt with
        assert app.screen is screen
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, BankScreen), what="the index to be built")
        await settle(pilot)
        tree = app.screen.query_one(BankTree)
        await wait_for(pilot, lambda: len(tree.file_nodes()) == 4, what="the files in the tree")
        assert app.assistant.bank_stats().entries > 0
        assert any("Indexed 4 files" in n for n in notes(app))
        assert not errors(app)


async def test_an_index_built_by_another_process_closes_the_screen(
        basic_workspace: Path, tiny_checkpoint: Path, make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(basic_workspace, poll_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await active(pilot, RebuildScreen)
        index_workspace(basic_workspace, tiny_checkpoint)  # e.g. `shutka index` in another terminal
        await wait_for(pilot, lambda: isinstance(app.screen, BankScreen), what="the screen to close")
        await settle(pilot)
        await wait_for(pilot, lambda: len(app.screen.query_one(BankTree).file_nodes()) == 4, what="the files")
        assert any("The index is ready" in n for n in notes(app))
        assert not errors(app)


async def test_browsing_anyway_is_remembered(basic_workspace: Path, make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(basic_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        assert isinstance(app.screen, RebuildScreen)
        await pilot.press("escape")
        await settle(pilot)
        app.poll_now()
        await settle(pilot)
        assert isinstance(app.screen, BankScreen)  # not pushed again for the same problem


async def test_a_bank_re_encoded_by_another_model_is_re_encoded_back(
        indexed_workspace: Path, other_checkpoint: Path, make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(indexed_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        assert isinstance(app.screen, BankScreen)
        ours = app.assistant.status().model_digest
        # another process with another model opens the workspace: it re-encodes the bank (under the lock)
        other = build_runtime(indexed_workspace, checkpoint=other_checkpoint)
        other.close()
        app.poll_now()
        screen = await active(pilot, RebuildScreen)
        assert screen.problem.kind == "incompatible"
        assert ours in screen.problem.message
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, BankScreen), what="the re-encoding")
        status = app.assistant.status()
        assert status.bank.model_digest == ours and not mismatch(status)
        await settle(pilot)
        assert len(app.screen.query_one(BankTree).file_nodes()) == 4
        assert any("Re-encoded" in n for n in notes(app))


async def test_opening_with_another_model_says_the_bank_was_re_encoded(
        basic_workspace: Path, other_checkpoint: Path, make_app: Callable[..., ShutkaApp]) -> None:
    index_workspace(basic_workspace, other_checkpoint)
    app = make_app(basic_workspace)  # the tiny checkpoint, not the one that wrote the bank
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        # opening re-encodes a bank of another model (the runtime does it); the user is told so (the event
        # log keeps it; the notification may already have timed out on a slow machine)
        assert isinstance(app.screen, BankScreen)
        assert any("encoded by another model" in line.text for line in app.events)
        assert not mismatch(app.assistant.status())
        assert not errors(app)
