"""`shutka tui`: options reach the app, and log lines are kept off the terminal while it runs."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from tui.app import ShutkaApp


def test_help_names_the_options() -> None:
    result = CliRunner().invoke(cli, ["tui", "--help"])
    assert result.exit_code == 0
    for option in ("PATH", "--checkpoint", "--watch", "--poll"):
        assert option in result.output


def terminal_handlers() -> list[logging.Handler]:
    """Root handlers that write to the terminal (what `shutka -v` installs)."""
    return [h for h in logging.getLogger().handlers
            if type(h) is logging.StreamHandler and getattr(h, "stream", None) in (sys.stderr, sys.stdout)]


def test_runs_the_app_with_the_options_and_logs_off_the_terminal(
        basic_workspace: Path, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def run(app: ShutkaApp) -> None:
        seen.update(path=app.workspace_path, checkpoint=app.checkpoint, watch=app.watch, poll=app.poll_interval,
                    terminal=terminal_handlers())

    monkeypatch.setattr(ShutkaApp, "run", run)
    saved = list(logging.getLogger().handlers)
    try:
        result = CliRunner().invoke(cli, ["-v", "tui", str(basic_workspace), "--checkpoint", str(tiny_checkpoint),
                                          "--watch", "--poll", "0.5"])
        assert result.exit_code == 0, result.output
        assert seen == {"path": basic_workspace, "checkpoint": tiny_checkpoint, "watch": True, "poll": 0.5,
                        "terminal": []}
        # `shutka -v`'s handler is back once the app has exited
        assert any(type(h) is logging.StreamHandler for h in logging.getLogger().handlers)
    finally:
        logging.getLogger().handlers[:] = saved


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["tui", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "does not exist" in result.output
