"""What the README says its first command prints, the command prints: the main job's completion on the
bundled example workspace with the bundled model, run as the README writes it (on a copy of the example,
so the repository's own `examples/workspace/.shutka/` is left alone)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = "examples/workspace"


def first_command() -> str:
    """The first ```sh block of the "Two commands on a fresh machine" section."""
    section = README.split("## Two commands on a fresh machine", 1)[1]
    return re.search(r"```sh\n(.*?)\n```", section, re.S).group(1).strip()  # type: ignore[union-attr]


def shutka_steps(command: str) -> list[list[str]]:
    """The `shutka …` steps of a `&&` chain, as argument lists."""
    return [shlex.split(step)[1:] for step in command.split("&&") if step.strip().startswith("shutka ")]


@pytest.mark.slow
def test_the_first_command_prints_what_the_readme_says(tmp_path: Path) -> None:
    steps = shutka_steps(first_command())
    assert [s[0] for s in steps] == ["index", "complete"], steps
    promised = re.search(r"it prints one completion as JSON:\n`(.+?)`, copied from `(.+?)`, with its confidence "
                         r"\(`([\d.]+)`\)\nand the gate's `threshold` \(`([\d.]+)`\)", README)
    assert promised is not None, "the README's sentence about the main job's output moved: update this test"
    text, source, confidence, threshold = promised.groups()

    workspace = tmp_path / "workspace"
    shutil.copytree(ROOT / EXAMPLE, workspace, ignore=shutil.ignore_patterns(".shutka"))
    runner = CliRunner()
    for step in steps:
        args = [str(workspace) if a == EXAMPLE else a for a in step]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [item["text"] for item in out["items"]] == [text]
    top = out["items"][0]
    assert top["source"] == source and top["kind"] == "copy"
    decimals = len(confidence.partition(".")[2])
    assert f"{top['confidence']:.{decimals}f}" == confidence  # as precise as the README says it
    assert out["threshold"] == float(threshold)


def test_no_edit_writes_a_fragment_of_the_word_being_typed(tmp_path: Path) -> None:
    """`import { f` mid-word: no candidate renames a line's name to `f` or its path to `../models/F`."""
    workspace = tmp_path / "workspace"
    shutil.copytree(ROOT / EXAMPLE, workspace, ignore=shutil.ignore_patterns(".shutka"))
    result = CliRunner().invoke(cli, ["complete", str(workspace), "src/services/orders.ts", "2", "11", "--no-gate",
                                      "--explain"])
    assert result.exit_code == 0, result.output
    texts = [c["text"] for c in json.loads(result.stdout)["candidates"]]
    assert texts and all("models/F" not in t and "./pricing" not in t for t in texts), texts
