"""The `shutka` command: subcommands listed, domain errors become one line and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from assistant.cli import cli, render_defaults

ROOT = Path(__file__).resolve().parents[1]
SUBCOMMANDS = ("index", "watch", "complete", "lsp", "serve", "tui", "train", "eval", "bench", "config", "locate")


def test_help_lists_every_subcommand() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in SUBCOMMANDS:
        assert f"  {name} " in result.output, name


def test_installed_console_script_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "assistant", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and "index" in result.stdout


def test_config_error_exits_2_with_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "shutka.toml").write_text("[indexer]\nmax_file_bytes = 'big'\n")
    result = CliRunner().invoke(cli, ["config", "check", str(tmp_path)])
    assert result.exit_code == 2
    assert "shutka.toml [indexer] max_file_bytes" in result.output
    assert "Traceback" not in result.output


def test_unknown_section_is_reported(tmp_path: Path) -> None:
    (tmp_path / "shutka.toml").write_text("[indexr]\n")
    result = CliRunner().invoke(cli, ["config", "check", str(tmp_path)])
    assert result.exit_code == 2 and "indexr" in result.output


def test_valid_config_checks(tmp_path: Path) -> None:
    (tmp_path / "shutka.toml").write_text("[indexer]\ndebounce_ms = 20\n[completion]\nmax_items = 2\n")
    result = CliRunner().invoke(cli, ["config", "check", str(tmp_path)])
    assert result.exit_code == 0, result.output


def test_domain_error_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "shutka.toml").write_text("[indexer\n")
    result = CliRunner().invoke(cli, ["config", "check", str(tmp_path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "not valid TOML" in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1


def test_example_config_is_in_sync_with_the_sections() -> None:
    """shutka.example.toml is what `shutka config defaults` prints; regenerate it when this fails."""
    assert (ROOT / "shutka.example.toml").read_text(encoding="utf-8") == render_defaults()


def test_complete_never_sees_the_rest_of_the_file(basic_workspace: Path, tiny_checkpoint: Path,
                                                  monkeypatch) -> None:
    """The file at the cursor is the buffer up to the cursor, not its indexed copy (relative paths too)."""
    import json

    monkeypatch.chdir(basic_workspace.parent)
    runner = CliRunner()
    assert runner.invoke(cli, ["index", basic_workspace.name, "--checkpoint", str(tiny_checkpoint)]).exit_code == 0
    result = runner.invoke(cli, ["complete", basic_workspace.name, "src/main.ts", "9", "20", "--checkpoint",
                                 str(tiny_checkpoint), "--no-gate"])
    assert result.exit_code == 0, result.output
    sources = [item["source"] for item in json.loads(result.output)["items"]]
    assert "src/main.ts:9" not in sources
