"""Where the misses of an evaluation run are (`shutka eval headroom`): for each task of a predictions
file, whether the top candidate was exact, the right line was among the candidates but not chosen,
or no candidate had it; and for those, whether a visible line is one rename away from the right one
and where the new name could come from (typed on the line, visible above, defined in another file of
the package, nowhere). It bounds what better ranking, copy-and-edit or cross-file names can still win.

Visibility is the harness's: the other files of the package whole, the task's own file up to the line.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from assistant.hoprag import defined_names
from assistant.lexical import IDENT_RE, KEYWORDS, tokens
from training.completion_eval.tasks import Task, package_folders, read_text, source_files

CLASSES = ("exact", "right line among the candidates, not chosen",
           "one rename away: a name typed on the line", "one rename away: a name visible above",
           "one rename away: a name defined in another file", "one rename away: a name seen nowhere",
           "no visible line one rename away")


def classify(tasks: list[Task], predictions: Path, corpus: Path) -> tuple[Counter, dict[str, str]]:
    """-> (tasks per class, class of each task id)."""
    rows = {}
    with predictions.open(encoding="utf-8") as fh:
        for raw in fh:
            if raw.strip():
                row = json.loads(raw)
                rows[row["id"]] = row
    folders = package_folders(corpus)
    files: dict[str, dict[str, str]] = {}
    counts: Counter = Counter()
    classes: dict[str, str] = {}
    for t in tasks:
        row = rows.get(t.id)
        if row is None:
            continue
        if row["score"]["em"]:
            cls = CLASSES[0]
        elif row.get("oracle"):
            cls = CLASSES[1]
        else:
            if t.package not in files:
                folder = folders[t.package]
                files[t.package] = {rel: read_text(folder / rel) for rel in source_files(folder)}
            cls = _rename_class(t, files[t.package])
        counts[cls] += 1
        classes[t.id] = cls
    return counts, classes


def _rename_class(t: Task, files: dict[str, str]) -> str:
    wanted = tokens((t.cursor_prefix + t.target).strip())
    others = {rel: text for rel, text in files.items() if rel != t.file}
    lines = {ln.strip() for text in others.values() for ln in text.splitlines()}
    lines |= {ln.strip() for ln in t.prefix.splitlines()}
    typed, above = set(tokens(t.cursor_prefix)), set(tokens(t.prefix))
    elsewhere: set[str] | None = None
    best = len(CLASSES) - 1
    for line in lines:
        toks = tokens(line)
        if len(toks) != len(wanted):
            continue
        pairs = {(a, b) for a, b in zip(toks, wanted, strict=True) if a != b}
        if len(pairs) != 1:
            continue
        (old, new), = pairs
        if not (_is_name(old) and _is_name(new)):
            continue
        if new in typed:
            rank = 2
        elif new in above:
            rank = 3
        else:
            if elsewhere is None:
                elsewhere = set().union(*(defined_names(text) for text in others.values()))
            rank = 4 if new in elsewhere else 5
        best = min(best, rank)
    return CLASSES[best]


def _is_name(tok: str) -> bool:
    return bool(IDENT_RE.fullmatch(tok)) and tok not in KEYWORDS
