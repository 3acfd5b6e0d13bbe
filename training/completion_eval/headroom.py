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
from dataclasses import dataclass, field
from pathlib import Path

from assistant.engine.candidates import is_name, tokens
from assistant.engine.hoprag import defined_names
from training.completion_eval.tasks import Task, package_folders, read_text, source_files

CLASSES = ("exact", "right line among the candidates, not chosen",
           "one rename away: a name typed on the line", "one rename away: a name visible above",
           "one rename away: a name defined in another file", "one rename away: a name seen nowhere",
           "no visible line one rename away")


@dataclass(slots=True)
class _Package:
    """A package's files read once: each file's distinct lines as token lists, by token count, and
    the names each file defines."""

    lines: dict[int, list[tuple[str, tuple[str, ...]]]] = field(default_factory=dict)
    """token count -> [(file, tokens of one distinct line of it)]"""
    defines: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def read(cls, folder: Path) -> _Package:
        pkg = cls()
        for rel in source_files(folder):
            text = read_text(folder / rel)
            pkg.defines[rel] = defined_names(text)
            for toks in {tuple(tokens(ln)) for ln in text.splitlines()}:
                pkg.lines.setdefault(len(toks), []).append((rel, toks))
        return pkg


def classify(tasks: list[Task], predictions: Path, corpus: Path) -> tuple[Counter, dict[str, str]]:
    """-> (tasks per class, class of each task id)."""
    rows = {}
    with predictions.open(encoding="utf-8") as fh:
        for raw in fh:
            if raw.strip():
                row = json.loads(raw)
                rows[row["id"]] = row
    folders = package_folders(corpus)
    packages: dict[str, _Package] = {}
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
            if t.package not in packages:
                packages[t.package] = _Package.read(folders[t.package])
            cls = _rename_class(t, packages[t.package])
        counts[cls] += 1
        classes[t.id] = cls
    return counts, classes


def _rename_class(t: Task, pkg: _Package) -> str:
    wanted = tuple(tokens((t.cursor_prefix + t.target).strip()))
    same_length = {toks for rel, toks in pkg.lines.get(len(wanted), []) if rel != t.file}
    same_length |= {toks for ln in t.prefix.splitlines() if len(toks := tuple(tokens(ln))) == len(wanted)}
    typed, above = set(tokens(t.cursor_prefix)), set(tokens(t.prefix))
    best = len(CLASSES) - 1
    for toks in same_length:
        pairs = {(a, b) for a, b in zip(toks, wanted, strict=True) if a != b}
        if len(pairs) != 1:
            continue
        (old, new), = pairs
        if not (is_name(old) and is_name(new)):
            continue
        if new in typed:
            rank = 2
        elif new in above:
            rank = 3
        else:
            rank = 4 if any(new in names for rel, names in pkg.defines.items() if rel != t.file) else 5
        best = min(best, rank)
    return CLASSES[best]
