"""Finding code through the graph: workspace symbols by name, the definition under a cursor."""

from __future__ import annotations

from assistant.engine.candidates import IDENT_RE, KEYWORDS
from assistant.types import Hit
from indexer.graph import SymbolGraph


def symbols(graph: SymbolGraph, query: str, limit: int = 50) -> list[Hit]:
    """Definitions whose symbol contains `query` (case-insensitive): exact, then suffix, then shortest."""
    q = query.lower()
    found = []
    for path in graph.paths():
        for cid in graph.chunks_of(path):
            node = graph.node(cid)
            if node is None or node.kind == "window":
                continue
            sym = node.symbol.lower()
            if q in sym:
                rank = (sym != q, not sym.endswith(q), len(sym))
                found.append((rank, node))
    found.sort(key=lambda x: x[0])
    return [Hit(-1, 1.0, n.symbol, n.kind, n.path, n.span.start_line + 1, n.span.end_line, n.symbol,
                n.section) for _, n in found[:limit]]


def definition_at(graph: SymbolGraph, rel: str, text: str, line: int, column: int) -> Hit | None:
    """The definition of the identifier under the cursor: imported files first, then the same file."""
    lines = text.split("\n")
    if not 0 <= line < len(lines):
        return None
    row = lines[line]
    for m in IDENT_RE.finditer(row):
        if m.start() <= column <= m.end() and m.group() not in KEYWORDS:
            name = m.group()
            break
    else:
        return None
    imported = set(graph.imports_of(rel))
    defs = graph.definitions(name)
    if not defs:
        return None
    defs.sort(key=lambda cid: (graph.node(cid).path not in imported, graph.node(cid).path != rel))  # type: ignore[union-attr]
    chunk = graph.chunk(defs[0])
    if chunk is None:
        return None
    return Hit(-1, 1.0, chunk.text, chunk.kind, chunk.path, chunk.span.start_line + 1, chunk.span.end_line,
               chunk.symbol)
