"""The dependency rule of STYLE §2.1, checked on every module's imports with `ast`."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("indexer", "assistant", "lsp", "tui", "training")

MAY_IMPORT: dict[str, set[str]] = {
    "indexer": set(),
    "assistant": {"indexer"},
    "lsp": {"assistant", "indexer"},
    "tui": {"assistant", "indexer"},
    "training": {"assistant", "indexer"},
}
# Surfaces talk to the facade and its boundary types only, never to model or bank internals.
SURFACE_ALLOWED = {
    "assistant", "assistant.types", "assistant.config", "assistant.errors", "assistant.runtime",
    "assistant.service", "assistant.home",
}


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import in the file; relative imports are resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    own = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = own.split(".")[: -node.level]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names
                      if name == "assistant"]
    return found


def _violations() -> list[str]:
    problems = []
    for path in _modules():
        rel = path.relative_to(ROOT)
        owner = rel.parts[0]
        is_surface = owner in ("lsp", "tui") or rel.parts[:2] == ("assistant", "api")
        for line, name in _imports(path):
            top = name.split(".")[0]
            where = f"{rel}:{line} imports {name}"
            if top in PACKAGES and top != owner and top not in MAY_IMPORT[owner]:
                problems.append(f"{where}: {owner} may import only {sorted(MAY_IMPORT[owner]) or 'nothing of ours'}")
            if owner == "assistant" and rel.parts[:2] != ("assistant", "api") and name.startswith("assistant.api"):
                problems.append(f"{where}: assistant/api is a surface; nothing else in assistant imports it")
            reaches_in = name not in SURFACE_ALLOWED and not any(
                name.startswith(a + ".") and a != "assistant" for a in SURFACE_ALLOWED)
            if is_surface and top == "assistant" and not name.startswith("assistant.api") and reaches_in:
                problems.append(f"{where}: surfaces use the Assistant facade, not assistant internals")
    return problems


def test_every_package_exists() -> None:
    for pkg in PACKAGES:
        assert (ROOT / pkg / "__init__.py").is_file(), pkg


def test_imports_follow_the_dependency_rule() -> None:
    problems = _violations()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source,expected", [
    ("from assistant.model import x\n", True),
    ("import lsp.server\n", True),
    ("from indexer.types import Chunk\n", False),
])
def test_the_checker_catches_violations(tmp_path: Path, source: str, expected: bool, monkeypatch) -> None:
    fake_root = tmp_path
    for pkg in PACKAGES:
        (fake_root / pkg).mkdir()
        (fake_root / pkg / "__init__.py").write_text("")
    (fake_root / "tui" / "bad.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake_root)
    assert bool(_violations()) is expected
