"""`.ci/run` runs the README's two commands, as written and in order, each in a fresh virtual environment.

The script runs in a copy of the repository root where `bash` (what runs each README command) is a stand-in
that records the command and whether it found a `.venv` or an index of the example workspace, then leaves
both behind as the real commands do.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASH = shutil.which("bash") or "/bin/bash"

FAKE_BASH = """#!/bin/sh
# stands in for `bash -c COMMAND`
if [ -e .venv ] || [ -e examples/workspace/.shutka ]; then state=stale; else state=fresh; fi
printf '%s\\t%s\\n' "$state" "$2" >> "$CI_LOG"
mkdir -p .venv examples/workspace/.shutka
"""


def readme_commands(text: str) -> list[str]:
    """The ```sh blocks of the README's "Two commands on a fresh machine" section."""
    section = text.split("\n## Two commands on a fresh machine\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)\n```$", section, re.M | re.S)


def run_ci(root: Path, readme: str, *, ci: str | None = None) -> tuple[subprocess.CompletedProcess[str], Path]:
    (root / ".ci").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / ".ci" / "run", root / ".ci" / "run")
    (root / "README.md").write_text(readme, encoding="utf-8")
    fake = root / "fake-bin" / "bash"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(FAKE_BASH)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    log = root / "calls.log"
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "VIRTUAL_ENV")}
    env |= {"PATH": f"{fake.parent}{os.pathsep}{env['PATH']}", "CI_LOG": str(log)} | ({"CI": ci} if ci else {})
    done = subprocess.run([BASH, str(root / ".ci" / "run")], capture_output=True, text=True, env=env,
                          timeout=60)
    return done, log


def test_readme_has_the_install_command_and_the_test_command() -> None:
    first, tests = readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert first.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install -e . && shutka index ")
    assert tests.startswith('python3 -m venv .venv && . .venv/bin/activate && pip install -q -e ".[dev]" && ')
    assert "pytest" in tests


def test_ci_runs_the_readme_commands_in_order_each_in_a_fresh_venv(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    done, log = run_ci(tmp_path, readme, ci="true")
    assert done.returncode == 0, done.stderr
    expected = readme_commands(readme)
    assert log.read_text().splitlines() == [f"fresh\t{command}" for command in expected]
    announced = [line for line in done.stdout.splitlines() if line.startswith("==> README")]
    assert [line.split(": ", 1)[1] for line in announced] == expected
    assert "first command" in announced[0] and "test command" in announced[1]


def test_ci_starts_clean_even_where_state_was_left(tmp_path: Path) -> None:
    (tmp_path / ".venv").mkdir()
    (tmp_path / "examples" / "workspace" / ".shutka").mkdir(parents=True)
    done, log = run_ci(tmp_path, (ROOT / "README.md").read_text(encoding="utf-8"), ci="true")
    assert done.returncode == 0, done.stderr
    assert [line.split("\t")[0] for line in log.read_text().splitlines()] == ["fresh", "fresh"]


def test_ci_outside_ci_leaves_an_existing_venv_alone(tmp_path: Path) -> None:
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    done, log = run_ci(tmp_path, (ROOT / "README.md").read_text(encoding="utf-8"))
    assert done.returncode == 2 and "fresh clone" in done.stderr
    assert (tmp_path / ".venv" / "bin").is_dir() and not log.exists()


def test_ci_refuses_a_readme_without_exactly_two_commands(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    third = readme.replace("\n## Five-minute tour\n", "\n```sh\necho three\n```\n\n## Five-minute tour\n", 1)
    assert third != readme
    done, log = run_ci(tmp_path, third, ci="true")
    assert done.returncode != 0 and "exactly two" in done.stderr and not log.exists()
