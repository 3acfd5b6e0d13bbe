"""Mid-word variants of line-completion tasks (`shutka eval --mid-word`).

A task's cursor sits at a token boundary. Editors ask in the middle of words too, so each task gets a
variant on the same line with the cursor moved two characters into the next identifier of the target:

    cursor_prefix = "    return this."   target = "handlers.get(name);"
    -> cursor_prefix = "    return this.ha"   target = "ndlers.get(name);"

"The next identifier" is the first identifier (`[A-Za-z_$][\\w$]*`, inside strings and comments too:
that is what is being typed) of at least MIN_CHARS characters that *starts* in the target: one that
merely continues a word the cursor is already inside is not reachable by moving into it. A task with
no such identifier is skipped (and counted). The variant keeps `prefix + cursor_prefix + target +
"\\n" + suffix` equal to the file, and its id is the task's with MID_WORD_SUFFIX appended.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from training.completion_eval.tasks import Task

IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")
WORD_CHAR = re.compile(r"[\w$]")
MIN_CHARS = 3
"""The identifier must keep at least one character to predict after the two typed ones."""
INTO = 2
"""Characters of the identifier typed before the cursor."""
MID_WORD_SUFFIX = "~mid"


def mid_word(task: Task) -> Task | None:
    """The task with its cursor INTO characters inside the target's next identifier, or None."""
    line = task.cursor_prefix + task.target
    base = len(task.cursor_prefix)
    for m in IDENTIFIER.finditer(line, base):
        start = m.start()
        if start > 0 and WORD_CHAR.fullmatch(line[start - 1]):
            continue  # inside a word already (the one the cursor is in, or a literal such as 0xff)
        if len(m.group()) >= MIN_CHARS:
            cut = start - base + INTO
            return replace(task, id=task.id + MID_WORD_SUFFIX, cursor_prefix=task.cursor_prefix + task.target[:cut],
                           target=task.target[cut:])
    return None


def mid_word_tasks(tasks: Iterable[Task]) -> tuple[list[Task], int]:
    """-> (the mid-word variant of every task that has one, how many tasks were skipped)."""
    out, skipped = [], 0
    for t in tasks:
        v = mid_word(t)
        if v is None:
            skipped += 1
        else:
            out.append(v)
    return out, skipped
