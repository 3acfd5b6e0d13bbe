"""The app shell: opening, switching views by key and by click, help, quitting, a failed open."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.tui.conftest import active, errors, opened, settle, wait_for
from tui.app import ShutkaApp
from tui.screens.bank import BankScreen
from tui.screens.help import HelpScreen
from tui.screens.setup import OpenFailedScreen
from tui.screens.status import StatusScreen
from tui.screens.titans import TitansScreen
from tui.screens.why import WhyScreen


async def test_opens_on_the_bank_view(indexed_workspace: Path, make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(indexed_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        assert isinstance(app.screen, BankScreen)
        assert app.where == "basic · tiny.safetensors"
        assert app.events[0].text.startswith("opened ")
        assert not errors(app)


async def test_function_keys_digits_and_clicks_switch_views(indexed_workspace: Path,
                                                            make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(indexed_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        for key, screen in (("f3", TitansScreen), ("f4", StatusScreen), ("f5", WhyScreen), ("f2", BankScreen)):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, screen), key
        await pilot.press("2")
        assert isinstance(app.screen, TitansScreen)
        await pilot.press("3")
        assert isinstance(app.screen, StatusScreen)
        # the mode bar's tabs are links: " Shutka " is 8 cells, " F2 Bank " 9, then " F3 Titans "
        await pilot.click("#mode-bar", offset=(19, 0))
        await settle(pilot)
        assert isinstance(app.screen, TitansScreen)
        await pilot.press("4")  # into the why view, whose text area then takes digits as text
        await settle(pilot)
        assert isinstance(app.screen, WhyScreen)
        await pilot.press("1")
        assert isinstance(app.screen, WhyScreen)
        await pilot.press("f2")  # function keys work from inside text fields
        assert isinstance(app.screen, BankScreen)


async def test_help_opens_and_closes(indexed_workspace: Path, make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(indexed_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("f3")  # views do not switch under the help
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, BankScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        assert isinstance(app.screen, BankScreen)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to quit")
    assert app.runtime is None  # closed on exit


async def test_a_bad_checkpoint_shows_the_error_and_retry(basic_workspace: Path, tmp_path: Path,
                                                          make_app: Callable[..., ShutkaApp]) -> None:
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a checkpoint")
    app = make_app(basic_workspace, checkpoint=broken)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await active(pilot, OpenFailedScreen)
        assert "checkpoint" in screen.failure.title
        assert "Traceback" not in str(screen.query_one("#open-error").render())
        await pilot.press("f2")  # no views without a workspace
        assert isinstance(app.screen, OpenFailedScreen)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.screen is not screen, what="the retry")
        retried = await active(pilot, OpenFailedScreen)
        assert retried.failure == screen.failure
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to quit")
