"""Keystroke positions of tasks: what the ranker's gate is trained on besides the bench's cut."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.selfsup import Task
from training.completion_eval.harness import EvalSettings, open_package, run_package
from training.completion_eval.keystroke_tasks import keystroke_variants, with_keystrokes


def _task(line: str = "    const total = items.reduce((sum, x) => sum + x, 0);", cut: int = 18) -> Task:
    prefix = "function f(items: number[]) {\n"
    return Task("pkg/src/a.ts:2", "pkg", "src/a.ts", 2, prefix, line[:cut], line[cut:], "}\n")


def test_variants_cut_the_same_line_elsewhere_and_keep_the_file() -> None:
    task = _task()
    variants = keystroke_variants(task, 5)
    assert len(variants) == 5
    whole = task.prefix + task.cursor_prefix + task.target + "\n" + task.suffix
    cuts = set()
    for v in variants:
        assert v.prefix + v.cursor_prefix + v.target + "\n" + v.suffix == whole
        assert (v.file, v.line_no) == (task.file, task.line_no)
        assert len(v.cursor_prefix) >= 4, "never inside the indentation"
        assert v.target.strip(), "something is left to predict"
        assert v.cursor_prefix != task.cursor_prefix
        assert v.id == f"{task.id}~k{len(v.cursor_prefix) - 4}"
        cuts.add(len(v.cursor_prefix))
    assert len(cuts) == 5
    assert keystroke_variants(task, 5) == variants, "seeded by the task"
    assert any(v.cursor_prefix[-1].isalpha() and v.target[0].isalpha() for v in keystroke_variants(task, 30)), \
        "mid-word cuts are drawn too"


def test_short_lines_give_what_they_have_and_zero_gives_none() -> None:
    task = _task("  ab;", 3)
    assert {v.cursor_prefix for v in keystroke_variants(task, 10)} == {"  ", "  ab"}
    assert keystroke_variants(task, 0) == []
    both = with_keystrokes([task, _task()], 2)
    assert [t.id for t in both][:1] == [task.id] and len(both) == 6


def test_the_memory_learns_each_line_once_after_all_its_cursors(tmp_path: Path, tiny_checkpoint: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Variants of one line share it: the online Titans memory writes the line after the last of them,
    so none of them finds its own line recalled."""
    pkg = tmp_path / "pkg"
    (pkg / "src").mkdir(parents=True)
    text = ("export function area(width: number, height: number): number {\n"
            "  const product = width * height;\n"
            "  return Math.max(product, 0);\n"
            "}\n")
    (pkg / "src" / "a.ts").write_text(text)
    lines = text.split("\n")
    tasks = [Task(f"p/src/a.ts:{n + 1}", "p", "src/a.ts", n + 1, "\n".join(lines[:n]) + "\n", lines[n][:10],
                  lines[n][10:], "\n".join(lines[n + 1:])) for n in (1, 2)]
    events: list[tuple[str, Any]] = []
    with open_package(pkg, tiny_checkpoint, EvalSettings(online_titans=True)) as runtime:
        completer = runtime.parts.completer
        analyse, learn = completer.analyse, completer.learn
        monkeypatch.setattr(completer, "analyse", lambda request, *a, **k: (
            events.append(("ask", request.line)), analyse(request, *a, **k))[1])
        monkeypatch.setattr(completer, "learn", lambda request, line: (
            events.append(("learn", line)), learn(request, line))[1])
        run_package(runtime, with_keystrokes(tasks, 3), EvalSettings(online_titans=True))
    assert events == [("ask", 1)] * 4 + [("learn", lines[1])] + [("ask", 2)] * 4 + [("learn", lines[2])]
