"""The code graph HopRAG walks: chunks linked by containment, imports, references, calls and type uses.

Built in memory from the catalog's per-file facts (chunks, the names each chunk uses, import
specifiers) and kept current by `refresh()`, which reloads only the files whose rows changed since
the generation it last saw. Cross-file links are resolved lazily and cached until the next change:

- imports: specifiers → files with `indexer.resolve` (relative paths, index files, tsconfig paths),
  against the files the catalog holds;
- a name used by a chunk → the chunk(s) defining it: in files its file imports first, then in its own
  file, then anywhere when exactly one exported (or library) definition has that name. Member calls
  (`x.run()`) match methods, type uses match types, plain names match non-methods.

A definition split into several windows is one node for resolution (its first part, the head);
the head `contains` its other parts, as a class contains its methods and a namespace its members.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from indexer.catalog import Catalog
from indexer.resolve import ImportResolver
from indexer.types import Chunk, Edge, EdgeKind, RefKind, Span

log = logging.getLogger(__name__)

TYPE_KINDS = frozenset({"class", "interface", "type_alias", "enum", "namespace"})
SQL_BATCH = 500
"""Ids per `IN (...)` query (SQLite's default limit on host parameters is far higher; this keeps
statements small)."""


@dataclass(frozen=True, slots=True)
class GraphChunk:
    """A chunk as the graph knows it (no text; `SymbolGraph.chunk` reads the text from the catalog)."""

    chunk_id: str
    row_id: int
    path: str
    kind: str
    symbol: str
    name: str
    parent: str | None
    span: Span
    exported: bool
    section: str


@dataclass(slots=True)
class _FileFacts:
    file_id: int
    section: str
    generation: int
    chunks: list[str]
    specifiers: tuple[str, ...]


class SymbolGraph:
    """Definitions, imports and references of the indexed workspace; see the module docstring."""

    def __init__(self, catalog: Catalog, root: Path) -> None:
        self.catalog = catalog
        self.root = root
        self.generation = -1
        """The catalog generation this graph reflects (-1: never loaded)."""
        self._lock = threading.RLock()
        self._files: dict[str, _FileFacts] = {}
        self._chunks: dict[str, GraphChunk] = {}
        self._refs: dict[str, tuple[tuple[str, RefKind, bool], ...]] = {}
        self._defs: dict[str, set[str]] = {}
        self._users: dict[str, set[str]] = {}
        self._heads: dict[tuple[str, str, str], str] = {}
        self._resolver = ImportResolver(root, exists=lambda rel: rel in self._files)
        self._reset_caches()

    def _reset_caches(self) -> None:
        self._imports: dict[str, tuple[str, ...]] = {}
        self._importers: dict[str, set[str]] | None = None
        self._specifiers: set[str] | None = None
        self._out: dict[str, tuple[Edge, ...]] = {}
        self._in: dict[str, tuple[Edge, ...]] = {}

    # --- loading ----------------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Catch up with the catalog (only changed files are reloaded); True when anything changed."""
        with self._lock, self.catalog.read() as conn:
            generation = int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
            if generation == self.generation:
                return False
            current = {path: (fid, section, gen) for path, fid, section, gen in
                       conn.execute("SELECT path, id, section, generation FROM files")}
            for path in [p for p, f in self._files.items() if current.get(p, (None,))[0] != f.file_id]:
                self._drop(path)
            changed = {fid: path for path, (fid, _, gen) in current.items()
                       if path not in self._files or gen > self.generation}
            for path in changed.values():
                self._drop(path)
            if changed:
                self._load(conn, changed, current, everything=not self._files)
            self.generation = generation
            self._reset_caches()
            self._resolver.invalidate()
            log.debug("graph at generation %d: %d files reloaded, %d chunks", generation, len(changed),
                      len(self._chunks))
            return True

    def _load(self, conn: sqlite3.Connection, changed: dict[int, str], current: dict[str, tuple[int, str, int]],
              everything: bool) -> None:
        for fid, path in changed.items():
            self._files[path] = _FileFacts(fid, current[path][1], current[path][2], [], ())
        ids = list(changed)
        batches = [None] if everything else [ids[i:i + SQL_BATCH] for i in range(0, len(ids), SQL_BATCH)]
        specifiers: dict[int, list[str]] = {}
        chunk_by_row: dict[int, str] = {}
        for batch in batches:
            where = "" if batch is None else f" WHERE file_id IN ({','.join('?' * len(batch))})"
            params = () if batch is None else tuple(batch)
            for fid, spec in conn.execute(f"SELECT file_id, specifier FROM imports{where} ORDER BY file_id, position",
                                          params):
                specifiers.setdefault(fid, []).append(spec)
            for row in conn.execute(
                    "SELECT id, file_id, chunk_key, kind, symbol, name, parent, start_line, end_line, start_byte, "
                    f"end_byte, exported FROM chunks{where}", params):
                rid, fid, key, kind, symbol, name, parent, l0, l1, b0, b1, exported = row
                path = changed[fid]
                node = GraphChunk(key, rid, path, kind, symbol, name, parent, Span(l0, l1, b0, b1), bool(exported),
                                  current[path][1])
                self._add_chunk(node)
                chunk_by_row[rid] = key
            ref_where = "" if batch is None else (
                f" WHERE chunk_id IN (SELECT id FROM chunks WHERE file_id IN ({','.join('?' * len(batch))}))")
            refs: dict[str, list[tuple[str, RefKind, bool]]] = {}
            for rid, name, kind, member in conn.execute(f"SELECT chunk_id, name, kind, member FROM refs{ref_where}",
                                                        params):
                key = chunk_by_row.get(rid)
                if key is not None:
                    refs.setdefault(key, []).append((name, kind, bool(member)))
            for key, items in refs.items():
                self._refs[key] = tuple(items)
                for name, _, _ in items:
                    self._users.setdefault(name, set()).add(key)
        for fid, specs in specifiers.items():
            self._files[changed[fid]].specifiers = tuple(specs)

    def _add_chunk(self, node: GraphChunk) -> None:
        self._chunks[node.chunk_id] = node
        self._files[node.path].chunks.append(node.chunk_id)
        if node.kind == "window":
            return
        key = (node.path, node.symbol, node.kind)
        head = self._heads.get(key)
        if head is None or self._chunks[head].span.start_line > node.span.start_line:
            if head is not None:
                self._defs.get(self._chunks[head].name, set()).discard(head)
            self._heads[key] = node.chunk_id
            self._defs.setdefault(node.name, set()).add(node.chunk_id)

    def _drop(self, path: str) -> None:
        facts = self._files.pop(path, None)
        if facts is None:
            return
        for key in facts.chunks:
            node = self._chunks.pop(key)
            self._defs.get(node.name, set()).discard(key)
            self._heads.pop((node.path, node.symbol, node.kind), None)
            for name, _, _ in self._refs.pop(key, ()):
                users = self._users.get(name)
                if users is not None:
                    users.discard(key)

    # --- lookups ----------------------------------------------------------------------------------

    def node(self, chunk_id: str) -> GraphChunk | None:
        """A chunk's metadata (no text)."""
        return self._chunks.get(chunk_id)

    def chunk(self, chunk_id: str) -> Chunk | None:
        """A chunk with its text, read from the catalog."""
        return self.catalog.chunk(chunk_id) if chunk_id in self._chunks else None

    def chunks_of(self, path: str) -> list[str]:
        """Chunk ids of one file, in source order."""
        facts = self._files.get(path)
        if facts is None:
            return []
        return sorted(facts.chunks, key=lambda k: (self._chunks[k].span.start_byte, k))

    def paths(self) -> list[str]:
        return sorted(self._files)

    def definitions(self, name: str) -> list[str]:
        """Chunk ids defining `name` (a plain name, or a qualified symbol such as `Class.method`)."""
        with self._lock:
            short = name.rsplit(".", 1)[-1]
            found = [k for k in self._defs.get(short, ()) if "." not in name or self._chunks[k].symbol == name]
            return sorted(found, key=lambda k: (self._chunks[k].section != "workspace", k))

    def imports_of(self, path: str) -> list[str]:
        """Files `path` imports (resolved, in specifier order; unresolved specifiers dropped)."""
        with self._lock:
            return list(self._imports_of(path))

    def _imports_of(self, path: str) -> tuple[str, ...]:
        cached = self._imports.get(path)
        if cached is None:
            facts = self._files.get(path)
            found: dict[str, None] = {}
            for spec in facts.specifiers if facts else ():
                target = self._resolver.resolve(path, spec)
                if target is not None and target != path:
                    found[target] = None
            cached = self._imports[path] = tuple(found)
        return cached

    def specifier_resolves(self, from_path: str, specifier: str) -> bool:
        """Whether an import of `specifier` written in `from_path` names something real: a workspace file
        (relative path, tsconfig paths, node_modules), or a package another file of the workspace imports."""
        with self._lock:
            if self._resolver.resolve(from_path, specifier) is not None:
                return True
            if specifier.startswith((".", "/")):
                return False
            if self._specifiers is None:
                self._specifiers = {s for facts in self._files.values() for s in facts.specifiers}
            return specifier in self._specifiers

    def importers_of(self, path: str) -> list[str]:
        """Files that import `path`."""
        with self._lock:
            if self._importers is None:
                importers: dict[str, set[str]] = {}
                for source in self._files:
                    for target in self._imports_of(source):
                        importers.setdefault(target, set()).add(source)
                self._importers = importers
            return sorted(self._importers.get(path, ()))

    def file_edges(self, path: str) -> list[Edge]:
        """`imports` edges from a file to the files it imports."""
        return [Edge(path, target, "imports") for target in self.imports_of(path)]

    # --- resolution -------------------------------------------------------------------------------

    def _head(self, node: GraphChunk) -> str:
        return self._heads.get((node.path, node.symbol, node.kind), node.chunk_id)

    def resolve(self, chunk_id: str, name: str, kind: RefKind = "references", member: bool = False) -> list[str]:
        """The chunk(s) that `name`, used in `chunk_id` as `kind`, refers to (see the module docstring)."""
        with self._lock:
            src = self._chunks.get(chunk_id)
            return [] if src is None else self._resolve(src, name, kind, member)

    def _resolve(self, src: GraphChunk, name: str, kind: RefKind, member: bool) -> list[str]:
        own = self._head(src)
        candidates = []
        for key in self._defs.get(name, ()):
            node = self._chunks[key]
            if key == own or (node.kind == "method") != member:
                continue
            if kind == "type_uses" and node.kind not in TYPE_KINDS:
                continue
            candidates.append(node)
        if not candidates:
            return []
        imported = set(self._imports_of(src.path))
        for pick in ([n for n in candidates if n.path in imported],
                     [n for n in candidates if n.path == src.path]):
            if pick:
                return sorted(n.chunk_id for n in pick)
        visible = [n for n in candidates if n.exported or n.section == "library"]
        return [visible[0].chunk_id] if len(visible) == 1 else []

    def _children(self, node: GraphChunk) -> list[str]:
        if node.kind == "window" or self._head(node) != node.chunk_id:
            return []
        found = []
        for key in self._files[node.path].chunks:
            other = self._chunks[key]
            if key == node.chunk_id:
                continue
            if other.parent == node.symbol and self._head(other) == key:
                found.append(key)
            elif other.symbol == node.symbol and other.kind == node.kind:
                found.append(key)  # another window of the same long definition
        return sorted(found)

    def edges_from(self, chunk_id: str) -> list[Edge]:
        """Outgoing edges: `contains` (members, parts) and resolved references, calls and type uses."""
        with self._lock:
            return list(self._edges_from(chunk_id))

    def _edges_from(self, chunk_id: str) -> tuple[Edge, ...]:
        cached = self._out.get(chunk_id)
        if cached is not None:
            return cached
        node = self._chunks.get(chunk_id)
        if node is None:
            return ()
        edges: dict[tuple[str, EdgeKind], None] = {(child, "contains"): None for child in self._children(node)}
        for name, kind, member in self._refs.get(chunk_id, ()):
            for target in self._resolve(node, name, kind, member):
                edges[(target, kind)] = None
        result = tuple(Edge(chunk_id, dst, kind) for dst, kind in edges)
        self._out[chunk_id] = result
        return result

    def _edges_to(self, chunk_id: str) -> tuple[Edge, ...]:
        cached = self._in.get(chunk_id)
        if cached is not None:
            return cached
        node = self._chunks.get(chunk_id)
        if node is None:
            return ()
        edges: dict[tuple[str, EdgeKind], None] = {}
        head = self._head(node)
        if head != chunk_id:
            edges[(head, "contains")] = None
        elif node.parent is not None:
            for key in self._files[node.path].chunks:
                other = self._chunks[key]
                if other.symbol == node.parent and self._head(other) == key:
                    edges[(key, "contains")] = None
        if head == chunk_id:
            for user in self._users.get(node.name, ()):
                if user == chunk_id:
                    continue
                src = self._chunks[user]
                for name, kind, member in self._refs.get(user, ()):
                    if name == node.name and chunk_id in self._resolve(src, name, kind, member):
                        edges[(user, kind)] = None
        result = tuple(Edge(src, chunk_id, kind) for src, kind in edges)
        self._in[chunk_id] = result
        return result

    def neighbours(self, chunk_id: str, hops: int = 1, *, limit: int | None = None,
                   kinds: Iterable[EdgeKind] | None = None) -> list[tuple[str, int]]:
        """Chunks within `hops` edges of `chunk_id` (either direction), breadth-first, as (chunk_id, hop);
        the start is excluded; at most `limit` results; `kinds` restricts the edge kinds followed."""
        allowed = set(kinds) if kinds is not None else None
        with self._lock:
            if chunk_id not in self._chunks or hops <= 0:
                return []
            seen = {chunk_id}
            found: list[tuple[str, int]] = []
            queue = deque([(chunk_id, 0)])
            while queue:
                current, depth = queue.popleft()
                if depth >= hops:
                    continue
                around = [(e.dst, e.kind) for e in self._edges_from(current)]
                around += [(e.src, e.kind) for e in self._edges_to(current)]
                for other, kind in sorted(around):
                    if other in seen or (allowed is not None and kind not in allowed):
                        continue
                    seen.add(other)
                    found.append((other, depth + 1))
                    if limit is not None and len(found) >= limit:
                        return found
                    queue.append((other, depth + 1))
            return found

    def stats(self) -> dict[str, int]:
        return {"files": len(self._files), "chunks": len(self._chunks), "definitions": len(self._heads),
                "generation": self.generation}
