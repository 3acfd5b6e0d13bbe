"""Line-completion tasks made from any TypeScript package: what the ranker is trained on, and what a
workspace adapts on (its own files). Same shape and rules as the bench's tasks:

A line is eligible when, stripped, it has at least `min_chars` characters and an identifier, is not
a comment and not part of an import or re-export statement. The cursor is placed after the leading
whitespace plus the shortest run of whole tokens covering `prefix_frac` of the stripped line (at
least one token); the target is the rest of the line. Sampling is seeded by the package and file,
so the same inputs always give the same tasks.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import defaultdict
from pathlib import Path

from assistant.lexical import IDENT_RE, TOKEN_RE
from training.completion_eval.tasks import Task, read_text, source_files

TEST_PATH = re.compile(r"(^|/)(__tests__|__test__|tests?|__mocks__|test-utils?|testing)/"
                       r"|\.(test|spec|bench)(-d)?\.(ts|tsx|mts|cts)$")
IMPORT_START = re.compile(r"^(import\b|export\s+(\*|\{[^}]*\}?|type\s+\{)[^;]*\bfrom\b|export\s+\*)")


def split_cursor(line: str, frac: float = 0.25) -> tuple[str, str] | None:
    """(cursor_prefix, target) at a token boundary, or None when nothing is left to predict."""
    stripped = line.strip()
    indent = line[: len(line) - len(line.lstrip())]
    ends = [m.end() for m in TOKEN_RE.finditer(stripped)]
    if len(ends) < 2:
        return None
    need = max(1, int(len(stripped) * frac + 0.999))
    cut = next((e for e in ends if e >= need), ends[-1])
    target = stripped[cut:]
    if not target.strip():
        return None
    return indent + stripped[:cut], target


def eligible_lines(text: str, min_chars: int = 12) -> list[int]:
    """0-based numbers of the lines a task may target."""
    out = []
    in_comment = in_import = False
    for n, raw in enumerate(text.split("\n")):
        s = raw.strip()
        if in_comment:
            if "*/" in s:
                in_comment = False
            continue
        if s.startswith("/*"):
            in_comment = "*/" not in s
            continue
        if in_import:
            if ";" in s or s.startswith("}"):
                in_import = False
            continue
        if IMPORT_START.match(s):
            in_import = not (";" in s or (" from " in s and not s.endswith("{")))
            continue
        if len(s) < min_chars or s.startswith(("//", "*")) or not IDENT_RE.search(s):
            continue
        if split_cursor(raw) is None:
            continue
        out.append(n)
    return out


def _rng(*parts: str) -> random.Random:
    return random.Random(int(hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16], 16))


def make_tasks(package_dir: Path, package: str, files_per_package: int = 20, lines_per_file: int = 5,
               seed: int = 0, max_files_per_dir: int = 3, exclude: frozenset[str] = frozenset(),
               include_tests: bool = False) -> list[Task]:
    """Tasks from one package folder; files in `exclude` are never targeted (they stay context)."""
    pool = []
    for rel in source_files(package_dir):
        if rel in exclude or (not include_tests and TEST_PATH.search(rel)):
            continue
        pool.append(rel)
    rng = _rng(str(seed), package)
    rng.shuffle(pool)
    per_dir: dict[str, int] = defaultdict(int)
    tasks: list[Task] = []
    files = 0
    for rel in pool:
        if files >= files_per_package:
            break
        folder = rel.rsplit("/", 1)[0] if "/" in rel else ""
        if per_dir[folder] >= max_files_per_dir:
            continue
        text = read_text(package_dir / rel)
        lines = eligible_lines(text)
        if len(lines) < lines_per_file:
            continue
        per_dir[folder] += 1
        files += 1
        picked = sorted(_rng(str(seed), package, rel).sample(lines, lines_per_file))
        raw = text.split("\n")
        for n in picked:
            split = split_cursor(raw[n])
            if split is None:
                continue
            cursor_prefix, target = split
            prefix = "\n".join(raw[:n]) + ("\n" if n else "")
            suffix = "\n".join(raw[n + 1 :])
            tasks.append(Task(f"{package}/{rel}:{n + 1}", package, rel, n + 1, prefix, cursor_prefix, target, suffix))
    return tasks
