"""The Kaggle notebook's install cell installs what pyproject.toml declares, torch aside.

The cell installs the project with `--no-deps` (Kaggle's CUDA torch stays), so its second `pip install`
must name every other runtime dependency and the `train` extra, with the same specifiers; a hand list
drifts and `import training.cli` fails on Kaggle.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "training" / "kaggle" / "shutka_kaggle.ipynb"
KEPT_FROM_KAGGLE = {"torch"}  # Kaggle's CUDA build; the project pins a CPU one


def split_requirement(requirement: str) -> tuple[str, str]:
    """`"Tree_Sitter >=0.26, <0.27"` → `("tree-sitter", "<0.27,>=0.26")`: PEP 503 name, sorted specifiers."""
    match = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*", requirement)
    assert match, f"not a requirement: {requirement!r}"
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    specifiers = ",".join(sorted(s.replace(" ", "") for s in match.group(3).split(",") if s.strip()))
    return name, specifiers


def declared() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["train"]]
    return {name: spec for name, spec in map(split_requirement, requirements) if name not in KEPT_FROM_KAGGLE}


def install_cell() -> str:
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    cells = ["".join(c["source"]) for c in notebook["cells"]
             if c["cell_type"] == "code" and "".join(c["source"]).startswith("# 1. Install.")]
    assert len(cells) == 1, "one code cell starts with '# 1. Install.'"
    return cells[0]


def pip_installs(cell: str) -> list[list[str]]:
    """The arguments of each `pip install` in the cell's shell lines (`!…`, with `\\` continuations)."""
    shell = re.findall(r"^!((?:.*\\\n)*.*)", cell, re.M)
    steps = [shlex.split(step) for line in shell for step in line.replace("\\\n", " ").split("&&")]
    return [step[2:] for step in steps if step[:2] == ["pip", "install"]]


def test_the_project_is_installed_without_its_dependencies() -> None:
    project, *_ = pip_installs(install_cell())
    assert "--no-deps" in project and "." in project


def test_the_install_cell_names_every_declared_dependency_but_torch_with_its_specifier() -> None:
    _, dependencies = pip_installs(install_cell())
    listed = dict(split_requirement(r) for r in dependencies if not r.startswith("-"))
    expected = declared()
    problems = [f"missing: {name}{spec}" for name, spec in expected.items() if name not in listed]
    problems += [f"{name}: Kaggle's CUDA build stays; installing it pulls another" if name in KEPT_FROM_KAGGLE
                 else f"not declared in pyproject.toml: {name}{spec}" for name, spec in listed.items()
                 if name not in expected]
    problems += [f"{name}: the cell says {listed[name]!r}, pyproject.toml {spec!r}"
                 for name, spec in expected.items() if name in listed and listed[name] != spec]
    assert not problems, "\n".join(problems)


def test_specifiers_are_quoted_for_the_shell() -> None:
    cell = install_cell()
    _, dependencies = pip_installs(cell)
    unquoted = [r for r in dependencies if re.search(r"[<>]", r) and f'"{r}"' not in cell]
    assert not unquoted, f"a bare < or > is a shell redirection: quote {unquoted}"


def test_the_checker_reads_names_and_specifiers() -> None:
    assert split_requirement("Tree_Sitter >=0.26, <0.27") == ("tree-sitter", "<0.27,>=0.26")
    assert split_requirement("uvicorn[standard]>=0.30") == ("uvicorn", ">=0.30")
    assert split_requirement("click") == ("click", "")
    cell = '# x\n!cd a && pip install -q --no-deps . \\\n    && pip install -q "a>=1" b\n%cd a\n'
    assert pip_installs(cell) == [["-q", "--no-deps", "."], ["-q", "a>=1", "b"]]
