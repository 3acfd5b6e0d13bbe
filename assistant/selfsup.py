"""Self-supervised completion tasks from code: hide the rest of a line, keep what came before.

What the ranker is trained on (training packages) and adapts on (the user's own workspace). A line is
eligible when, stripped, it has at least `min_chars` characters and an identifier, is not a comment
and not part of an import or re-export statement. The cursor goes after the leading whitespace plus
the shortest run of whole tokens covering `prefix_frac` of the stripped line (at least one token).
Sampling is seeded by the package and file, so the same inputs always give the same tasks.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from assistant.engine.candidates import IDENT_RE, TOKEN_RE

TEST_PATH = re.compile(r"(^|/)(__tests__|__test__|tests?|__mocks__|test-utils?|testing)/"
                       r"|\.(test|spec|bench)(-d)?\.(ts|tsx|mts|cts)$")
IMPORT_START = re.compile(r"^(import\b|export\s+(\*|\{[^}]*\}?|type\s+\{)[^;]*\bfrom\b|export\s+\*)")


@dataclass(frozen=True, slots=True)
class Task:
    """One cursor position: `prefix + cursor_prefix + target + "\\n" + suffix` is the file."""

    id: str
    package: str
    file: str
    line_no: int
    """1-based, as in the bench's JSONL."""
    prefix: str
    cursor_prefix: str
    target: str
    suffix: str

    @property
    def line(self) -> int:
        """0-based line of the cursor."""
        return self.line_no - 1


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
            in_comment = "*/" not in s
            continue
        if s.startswith("/*"):
            in_comment = "*/" not in s
            continue
        if in_import:
            in_import = not (";" in s or s.startswith("}"))
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


def seeded(*parts: str) -> random.Random:
    return random.Random(int(hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16], 16))


def tasks_from_texts(files: Iterable[tuple[str, str]], package: str, files_per_package: int = 20,
                     lines_per_file: int = 5, seed: int = 0, max_files_per_dir: int = 3,
                     include_tests: bool = False) -> list[Task]:
    """Tasks from (path, text) pairs of one package (texts read lazily by the caller's iterable)."""
    pool = [(rel, text) for rel, text in files if include_tests or not TEST_PATH.search(rel)]
    rng = seeded(str(seed), package)
    rng.shuffle(pool)
    per_dir: dict[str, int] = defaultdict(int)
    tasks: list[Task] = []
    picked_files = 0
    for rel, text in pool:
        if picked_files >= files_per_package:
            break
        folder = rel.rsplit("/", 1)[0] if "/" in rel else ""
        if per_dir[folder] >= max_files_per_dir:
            continue
        lines = eligible_lines(text)
        if len(lines) < lines_per_file:
            continue
        per_dir[folder] += 1
        picked_files += 1
        raw = text.split("\n")
        for n in sorted(seeded(str(seed), package, rel).sample(lines, lines_per_file)):
            split = split_cursor(raw[n])
            if split is None:
                continue
            cursor_prefix, target = split
            prefix = "\n".join(raw[:n]) + ("\n" if n else "")
            tasks.append(Task(f"{package}/{rel}:{n + 1}", package, rel, n + 1, prefix, cursor_prefix, target,
                              "\n".join(raw[n + 1 :])))
    return tasks
