"""Every third-party module the five packages import at run time comes from a declared distribution.

`pip install -e .` installs `[project] dependencies` and nothing else, so a module that only arrives through
the dev extra (or through another package's requirements) breaks a user's install while every test passes.
Each module is parsed with `ast`: imports inside functions count (they run when that path runs), imports
under `if TYPE_CHECKING:` do not. `training/` may also use the `train` extra.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("indexer", "assistant", "lsp", "tui", "training")
TRAIN_ONLY = ("training",)  # packages that may import the `train` extra

# Distributions for modules whose name is not their distribution's, where metadata cannot tell (the
# package is not installed here). Otherwise a module nobody installed is taken to be its own distribution.
PROVIDERS_WHEN_NOT_INSTALLED: dict[str, tuple[str, ...]] = {
    "faiss": ("faiss-cpu", "faiss-gpu"),
    "yaml": ("pyyaml",),
}


# helpers

def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares it: lowercase, runs of `-`, `_`, `.` as one `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """`"tree_sitter[x]>=0.26,<0.27 ; python_version>'3'"` → `"tree-sitter"` (extras, specifiers, markers gone)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, f"not a requirement: {requirement!r}"
    return normalise(match.group(1))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _RunTimeImports(ast.NodeVisitor):
    """(line, top-level module) of every absolute import that can run; `if TYPE_CHECKING:` bodies skipped."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if not node.level and node.module:  # relative imports are our own
            self.found.append((node.lineno, node.module.split(".")[0]))


def run_time_imports(source: str) -> list[tuple[int, str]]:
    visitor = _RunTimeImports()
    visitor.visit(ast.parse(source))
    return visitor.found


def third_party(modules: list[tuple[int, str]]) -> list[tuple[int, str]]:
    return [(line, m) for line, m in modules if m not in sys.stdlib_module_names and m not in PACKAGES]


def declared() -> tuple[set[str], set[str]]:
    """(normalised `[project] dependencies`, normalised `train` extra)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return ({requirement_name(r) for r in project["dependencies"]},
            {requirement_name(r) for r in project["optional-dependencies"]["train"]})


def providers(module: str, installed: dict[str, list[str]]) -> set[str]:
    """The normalised distributions that can provide a top-level module."""
    names = installed.get(module) or PROVIDERS_WHEN_NOT_INSTALLED.get(module) or (module,)
    return {normalise(n) for n in names}


def undeclared_imports() -> list[str]:
    dependencies, train = declared()
    installed = importlib.metadata.packages_distributions()
    missing: dict[str, list[str]] = {}  # module → the places that import it
    for path in sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")):
        rel = path.relative_to(ROOT)
        allowed = dependencies | train if rel.parts[0] in TRAIN_ONLY else dependencies
        for line, module in third_party(run_time_imports(path.read_text(encoding="utf-8"))):
            if not providers(module, installed) & allowed:
                missing.setdefault(module, []).append(f"{rel.as_posix()}:{line}")
    return [f"{module!r} (from {' or '.join(sorted(providers(module, installed)))}) is imported by "
            f"{', '.join(places)} but pyproject.toml does not declare it in [project] dependencies"
            f"{' or the train extra' if all(p.startswith(TRAIN_ONLY) for p in places) else ''}"
            for module, places in sorted(missing.items())]


# the rule

def test_every_run_time_import_is_a_declared_dependency() -> None:
    problems = undeclared_imports()
    assert not problems, "\n".join(problems)


# the checker itself

def test_lazy_imports_count_and_type_checking_imports_do_not() -> None:
    source = (
        "from __future__ import annotations\n"
        "import typing\n"
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "from .sibling import x\n"
        "import assistant.types\n"
        "if TYPE_CHECKING:\n"
        "    import only_for_types\n"
        "else:\n"
        "    import fallback\n"
        "if typing.TYPE_CHECKING:\n"
        "    from also_for_types import T\n"
        "def f():\n"
        "    import lazy.sub\n"
        "    from lazier.sub import g\n"
        "try:\n"
        "    import optional\n"
        "except ImportError:\n"
        "    pass\n"
    )
    assert [m for _, m in third_party(run_time_imports(source))] == ["fallback", "lazy", "lazier", "optional"]


def test_requirement_names_are_normalised_without_specifiers() -> None:
    assert requirement_name("Tree_Sitter>=0.26,<0.27") == "tree-sitter"
    assert requirement_name("faiss-cpu >= 1.15 ; platform_system != 'Windows'") == "faiss-cpu"
    assert requirement_name("uvicorn[standard]>=0.30") == "uvicorn"
    assert normalise("Zope.Interface") == normalise("zope_interface") == "zope-interface"


def test_providers_come_from_metadata_then_the_table_then_the_name() -> None:
    installed = {"faiss": ["faiss-gpu"], "PIL": ["Pillow"]}
    assert providers("faiss", installed) == {"faiss-gpu"}
    assert providers("PIL", installed) == {"pillow"}
    assert providers("faiss", {}) == {"faiss-cpu", "faiss-gpu"}
    assert providers("sortedcontainers", {}) == {"sortedcontainers"}
