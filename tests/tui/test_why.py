"""Why-this-completion: candidates with scores and features, hops, the gate's decision."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input, TextArea

from assistant.errors import InvalidRequest
from assistant.types import CompletionRequest
from tests.tui.conftest import errors, notes, opened, settle, wait_for
from tui.app import ShutkaApp
from tui.render import first_line
from tui.screens.why import WhyScreen
from tui.widgets.candidate_table import CandidateTable
from tui.widgets.feature_table import FeatureTable
from tui.widgets.hop_table import HopTable

CONTEXT = 'import { add, origin } from "./point";\n\nexport function run(): void {\n  const p = '


async def test_explain_shows_candidates_features_hops_and_the_gate(indexed_workspace: Path,
                                                                   make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(indexed_workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await opened(pilot)
        await pilot.press("f5")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WhyScreen)
        await pilot.press("ctrl+r")  # nothing typed yet: a warning, no request
        assert any("Type or paste" in n for n in notes(app)) and screen.explanation is None
        area = screen.query_one("#why-context", TextArea)
        area.focus()
        await pilot.press(*"const x = ")  # typed, like a user would
        area.text = CONTEXT  # pasted
        screen.query_one("#why-path", Input).value = "src/run.ts"
        await pilot.press("ctrl+r")
        await settle(pilot)
        await wait_for(pilot, lambda: screen.explanation is not None, what="the explanation")
        ex = screen.explanation
        assert ex is not None
        expected = app.assistant.explain(CompletionRequest.from_prefix(CONTEXT, path="src/run.ts"))
        assert [c.text for c in ex.candidates] == [c.text for c in expected.candidates]
        table = screen.query_one(CandidateTable)
        assert table.row_count == len(ex.candidates) > 0
        first = ex.candidates[0]
        assert str(table.get_row_at(0)[2]) == first_line(first.text, 40)
        assert str(table.get_row_at(0)[1]) == f"{first.confidence:.2f}"
        features = screen.query_one(FeatureTable)
        assert features.row_count == len(first.features)
        assert screen.query_one(HopTable).row_count == len(ex.hops)
        decision = str(screen.query_one("#why-decision").render())
        assert ex.decision in decision and f"threshold {ex.threshold:.2f}" in decision
        if len(ex.candidates) > 1:  # moving through the candidates shows each one's features
            table.focus()
            await pilot.press("down")
            await settle(pilot)
            assert features.border_title == f"features of {ex.candidates[1].source}"
        await pilot.press("ctrl+l")
        assert table.row_count == 0 and area.text == ""
        assert not errors(app)


async def test_enter_in_the_path_explains_and_a_failure_is_a_notification(
        indexed_workspace: Path, make_app: Callable[..., ShutkaApp], monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(indexed_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("f5")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WhyScreen)
        screen.query_one("#why-context", TextArea).text = "const total = "
        screen.query_one("#why-path", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        await wait_for(pilot, lambda: screen.explanation is not None, what="the explanation")
        assert not errors(app)

        def refuse(request: CompletionRequest) -> None:
            raise InvalidRequest("position must be non-negative (line -1, column 0)")

        monkeypatch.setattr(app.assistant, "explain", refuse)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert any("explaining a completion failed: position must be non-negative" in n for n in notes(app))
        assert errors(app) and app.is_running
