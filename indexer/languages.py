"""Tree-sitter grammars and queries: which grammar parses which extension, and the cached parsers.

`.ts/.mts/.cts` use the TypeScript grammar with `queries/typescript.scm`; `.tsx` the TSX grammar with
`typescript.scm` followed by `queries/tsx.scm` (JSX additions). Queries are package data, loaded on
first use. Languages and queries are built once per process; a `Parser` is not thread-safe, so each
thread gets its own (tree-sitter 0.26: `Query(language, source)`, `QueryCursor(query)`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources

import tree_sitter
import tree_sitter_typescript

from indexer.errors import IndexerError

GRAMMAR_BY_EXTENSION = {".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx"}
QUERY_FILES = {"typescript": ("typescript.scm",), "tsx": ("typescript.scm", "tsx.scm")}

_lock = threading.Lock()
_local = threading.local()


@dataclass(frozen=True)
class Grammar:
    """A tree-sitter language with its compiled Shutka query."""

    name: str
    language: tree_sitter.Language
    query: tree_sitter.Query


def grammar_name(path: str) -> str | None:
    """`typescript` or `tsx` for an indexed extension, None otherwise."""
    for ext, name in GRAMMAR_BY_EXTENSION.items():
        if path.endswith(ext):
            return name
    return None


def query_source(name: str) -> str:
    """The concatenated query files of grammar `name` (read from package data)."""
    folder = resources.files("indexer") / "queries"
    return "\n".join((folder / file).read_text(encoding="utf-8") for file in QUERY_FILES[name])


@cache
def _grammar(name: str) -> Grammar:
    raw = tree_sitter_typescript.language_tsx() if name == "tsx" else tree_sitter_typescript.language_typescript()
    language = tree_sitter.Language(raw)
    try:
        query = tree_sitter.Query(language, query_source(name))
    except tree_sitter.QueryError as exc:  # a broken .scm is a packaging bug; say which file
        raise IndexerError(f"indexer/queries for {name} do not compile ({exc}); reinstall Shutka") from exc
    return Grammar(name, language, query)


def grammar(name: str) -> Grammar:
    """The cached Grammar `typescript` or `tsx` (built once per process, thread-safe)."""
    with _lock:
        return _grammar(name)


def parser(name: str) -> tree_sitter.Parser:
    """This thread's Parser for grammar `name`."""
    parsers: dict[str, tree_sitter.Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    found = parsers.get(name)
    if found is None:
        found = parsers[name] = tree_sitter.Parser(grammar(name).language)
    return found
