"""`--saved-as-visible`: the evaluations' runtime (code graph, bank, imports) sees the task's file as it
stands at the task's line, on a copy of the package, never the package itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.selfsup import Task
from tests.conftest import write_workspace
from training.completion_eval.harness import EvalSettings, SavedAsVisible, open_package, run_package
from training.completion_eval.replay import replay_package

MAIN = ("import { helper } from './helper';\n"
        "\n"
        "export function first(x: number): number {\n"
        "  return helper(x) + 1;\n"
        "}\n"
        "\n"
        "import { late } from './late';\n"
        "\n"
        "export function belowOnly(y: number): number {\n"
        "  return late(y) * 2;\n"
        "}\n")
PACKAGE = {
    "package.json": '{"name": "pkg", "version": "1.0.0"}\n',
    "src/main.ts": MAIN,
    "src/helper.ts": "export function helper(x: number): number {\n  return x;\n}\n",
    "src/late.ts": "export function late(x: number): number {\n  return x - 1;\n}\n",
}
TASK_LINE = 3
"""0-based line of `  return helper(x) + 1;`: `belowOnly`, `late` and the import of ./late come after it."""


def _task() -> Task:
    lines = MAIN.split("\n")
    line = lines[TASK_LINE]
    return Task(f"pkg/src/main.ts:{TASK_LINE + 1}", "pkg", "src/main.ts", TASK_LINE + 1,
                "\n".join(lines[:TASK_LINE]) + "\n", line[:9], line[9:], "\n".join(lines[TASK_LINE + 1:]))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _index_view(runtime: Any) -> dict[str, Any]:
    """What the index (not the editor buffer) knows of src/main.ts and its names."""
    graph = runtime.parts.indexer.graph()
    lines = runtime.assistant.entries("src/main.ts", kind="line")
    return {"belowOnly": bool(graph.definitions("belowOnly")),
            "imports_late": "src/late.ts" in graph.imports_of("src/main.ts"),
            "last_line": max(h.start_line for h in lines),
            "catalog": runtime.parts.indexer.catalog.file_text("src/main.ts")}


def _watch(runtime: Any, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The index view at every analysis the evaluation asks for."""
    seen: list[dict[str, Any]] = []
    completer = runtime.parts.completer
    analyse = completer.analyse
    monkeypatch.setattr(completer, "analyse", lambda *a, **k: (seen.append(_index_view(runtime)), analyse(*a, **k))[1])
    return seen


def test_the_index_knows_the_lines_below_the_task_only_without_the_flag(
        tmp_path: Path, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = write_workspace(tmp_path / "pkg", PACKAGE)
    task = _task()
    with open_package(package, tiny_checkpoint, EvalSettings()) as runtime:
        seen = _watch(runtime, monkeypatch)
        run_package(runtime, [task], EvalSettings())
    assert seen and all(v["belowOnly"] and v["imports_late"] and v["catalog"] == MAIN for v in seen), \
        "the leak the flag closes: the indexed copy holds the whole file"
    before = _snapshot(package)

    settings = EvalSettings(saved_as_visible=True)
    with open_package(package, tiny_checkpoint, settings) as runtime:
        copy = runtime.assistant.workspace.root
        assert copy != package.resolve()
        seen = _watch(runtime, monkeypatch)
        run_package(runtime, [task], settings)
        assert seen and all(not v["belowOnly"] and not v["imports_late"] and v["catalog"] == task.prefix
                            and v["last_line"] <= TASK_LINE for v in seen)
        after = _index_view(runtime)  # the file whole again once its tasks are done
        assert after["belowOnly"] and after["imports_late"] and after["catalog"] == MAIN
        assert (copy / "src/main.ts").read_text() == MAIN
    assert not copy.exists(), "the copy is removed"
    assert _snapshot(package) == before, "the package given is only read"


def test_the_replay_sees_the_same_index_and_only_copies_are_rewritten(
        tmp_path: Path, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = write_workspace(tmp_path / "pkg", PACKAGE)
    settings = EvalSettings(saved_as_visible=True)
    with open_package(package, tiny_checkpoint, EvalSettings()) as runtime, \
            pytest.raises(ValueError, match="no evaluation copy"):
        SavedAsVisible(runtime)
    before = _snapshot(package)
    with open_package(package, tiny_checkpoint, settings) as runtime:
        seen = _watch(runtime, monkeypatch)
        replay_package(runtime, [_task()], settings=settings)
        assert seen and not any(v["belowOnly"] or v["imports_late"] for v in seen)
        assert _index_view(runtime)["belowOnly"]
    assert _snapshot(package) == before
