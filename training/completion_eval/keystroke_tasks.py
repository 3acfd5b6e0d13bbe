"""Keystroke positions of line-completion tasks: what the ranker's gate learns from (`shutka train ranker
--keystrokes N`).

A task cuts its line at a token boundary a quarter of the way in; an editor asks after every keystroke,
from the indentation on, mid-word included (`shutka eval replay`). Each task's line also yields N
variants with the cursor at other characters of the line's body (after its indentation, at least one
character left to predict), drawn uniformly as the replay meets them and seeded by the task's id. Every
variant keeps `prefix + cursor_prefix + target + "\\n" + suffix` equal to the file; its id is the task's
with `~k<position>` appended. Variants of one line share its `(file, line_no)`: the harness writes a
line into the Titans memory once, after the last of them, so no variant sees its own line there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from assistant.selfsup import seeded
from training.completion_eval.tasks import Task


def keystroke_variants(task: Task, n: int) -> list[Task]:
    """Up to `n` variants of `task` at other cursor positions of its line (fewer on short lines)."""
    line = (task.cursor_prefix + task.target).rstrip()
    indent = len(line) - len(line.lstrip())
    here = len(task.cursor_prefix)
    positions = [p for p in range(indent, len(line)) if p != here and line[p:].strip()]
    if n <= 0 or not positions:
        return []
    chosen = sorted(seeded("keystrokes", task.id).sample(positions, min(n, len(positions))))
    full = task.cursor_prefix + task.target
    return [replace(task, id=f"{task.id}~k{p - indent}", cursor_prefix=full[:p], target=full[p:]) for p in chosen]


def with_keystrokes(tasks: Iterable[Task], n: int) -> list[Task]:
    """Each task followed by its `n` keystroke variants."""
    return [v for t in tasks for v in (t, *keystroke_variants(t, n))]
