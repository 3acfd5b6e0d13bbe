"""HopRAG: from the identifiers around the cursor to the definitions they name, then along the code
graph (imports, calls, references, type uses, containment) up to `max_hops`, keeping at each hop
the neighbours most similar to the query latent.

What it yields to the engine: the reached chunks (shown by `explain`), their latents (memory slots
for the JEPA predictor), the names they define (a candidate that uses an identifier the cursor has
not seen is plausible when a reached definition provides it — members and properties, not every
identifier of their bodies, which made the signal fire for nearly anything), and their files.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.engine.candidates import KEYWORDS
from assistant.memory.bank import MemoryBank
from assistant.memory.sync_hooks import SPAN_HASH_PREFIX
from assistant.types import Hop
from indexer.graph import SymbolGraph
from indexer.types import Chunk

log = logging.getLogger(__name__)

SEEDS_PER_NAME = 3
BEAM = 6
MAX_NAMES = 10
MAX_REACHED = 24
CACHE_SIZE = 4096
RESULTS = 32
"""HopRAG results kept (LRU) by (graph generation, path, names, hops, slots): the keystrokes of one line
mostly ask with the same names."""


@dataclass(slots=True)
class HopResult:
    hops: list[Hop] = field(default_factory=list)
    known: frozenset[str] = frozenset()
    files: frozenset[str] = frozenset()
    latents: np.ndarray | None = None  # (K, L) of the best reached chunks


class HopRetriever:
    """Multi-hop retrieval over one workspace's graph and bank (thread-safe, cached by chunk)."""

    def __init__(self, graph: Callable[[], SymbolGraph | None], bank: MemoryBank) -> None:
        self._graph = graph
        self.bank = bank
        self._cache: OrderedDict[tuple[str, str], tuple[frozenset[str], np.ndarray | None]] = OrderedDict()
        self._results: OrderedDict[tuple[object, ...], HopResult] = OrderedDict()
        self._lock = threading.Lock()

    def clear_results(self) -> None:
        with self._lock:
            self._results.clear()

    def retrieve(self, path: str, near: list[str], query: np.ndarray | None, max_hops: int,
                 slots: int = 4, keep: bool = False) -> HopResult:
        """The reached chunks from the names `near` the cursor in `path`. Without a `query` the result
        depends only on the graph's generation and the arguments: a kept one is reused (a new generation,
        i.e. any re-index, misses), and with `keep` this one is kept for the next keystrokes. The result
        is shared: callers must not change it."""
        graph = self._graph()
        if graph is None or max_hops <= 0 or not near:
            return HopResult()
        key = None if query is not None else (id(graph), graph.generation, path, tuple(near[-MAX_NAMES:]),
                                              max_hops, slots)
        if key is not None:
            with self._lock:
                hit = self._results.get(key)
                if hit is not None:
                    self._results.move_to_end(key)
                    return hit
        result = self._retrieve(graph, path, near, query, max_hops, slots)
        if key is not None and keep:
            with self._lock:
                self._results[key] = result
                while len(self._results) > RESULTS:
                    self._results.popitem(last=False)
        return result

    def _retrieve(self, graph: SymbolGraph, path: str, near: list[str], query: np.ndarray | None, max_hops: int,
                  slots: int) -> HopResult:
        imported = set(graph.imports_of(path))
        seeds: dict[str, float] = {}
        for name in near[-MAX_NAMES:]:
            # the current file comes from the editor's buffer; its indexed copy may be stale (or, in
            # evaluation, hold the very line being completed)
            defs = _definitions_outside(graph, name, path)
            ranked = sorted(defs, key=lambda cid: -_locality(graph, cid, path, imported))[:SEEDS_PER_NAME]
            for cid in ranked:
                seeds[cid] = max(seeds.get(cid, 0.0), _locality(graph, cid, path, imported))
        if not seeds:
            return HopResult()
        reached: dict[str, tuple[int, float]] = {cid: (0, 1.0 + w) for cid, w in seeds.items()}
        frontier = list(seeds)
        for hop in range(1, max_hops):
            around: dict[str, float] = {}
            for cid in frontier:
                for other, _ in graph.neighbours(cid, 1, limit=32):
                    node = graph.node(other)
                    if other not in reached and other not in around and node is not None and node.path != path:
                        around[other] = self._similarity(graph, other, query)
            frontier = sorted(around, key=lambda c: -around[c])[:BEAM]  # prune by similarity to the query
            for cid in frontier:
                reached[cid] = (hop, around[cid])
            if not frontier:
                break
        best = sorted(reached.items(), key=lambda kv: (kv[1][0], -kv[1][1]))[:MAX_REACHED]
        known: set[str] = set()
        files: set[str] = set()
        hops: list[Hop] = []
        latents = []
        for cid, (hop, score) in best:
            node = graph.node(cid)
            if node is None:
                continue
            names, vector = self._chunk_facts(graph, cid)
            known |= names
            known.add(node.name)
            files.add(node.path)
            hops.append(Hop(cid, node.symbol, node.path, hop, float(score)))
            if vector is not None and len(latents) < slots:
                latents.append(vector)
        return HopResult(hops, frozenset(known), frozenset(files),
                         np.stack(latents) if latents else None)

    def defined_elsewhere(self, names: list[str], path: str) -> bool:
        """Whether the code graph defines every one of `names` outside `path` (one graph refresh)."""
        graph = self._graph()
        return graph is not None and all(_definitions_outside(graph, name, path) for name in names)

    def _similarity(self, graph: SymbolGraph, cid: str, query: np.ndarray | None) -> float:
        if query is None:
            return 0.0
        _, vector = self._chunk_facts(graph, cid)
        return float(vector @ query) if vector is not None else -1.0

    def _chunk_facts(self, graph: SymbolGraph, cid: str) -> tuple[frozenset[str], np.ndarray | None]:
        """Identifiers a chunk mentions and its bank vector, cached by (chunk id, content)."""
        node = graph.node(cid)
        if node is None:
            return frozenset(), None
        key = (cid, f"{node.span.start_byte}:{node.span.end_byte}")
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        chunk: Chunk | None = graph.chunk(cid)
        names = defined_names(chunk.text) if chunk else frozenset()
        vector = None
        if chunk is not None:
            found = self.bank.find_by_hash([SPAN_HASH_PREFIX + chunk.content_hash])
            if found:
                vector = self.bank.vectors(list(found.values()))[0]
        with self._lock:
            self._cache[key] = (names, vector)
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return names, vector


MEMBER_RE = re.compile(
    r"^\s*(?:(?:public|private|protected|readonly|static|abstract|async|get|set|declare|export|override|"
    r"function|const|let|var|class|interface|type|enum|namespace)\s+)*\*?([A-Za-z_$][\w$]*)\s*[?!]?\s*[(:=<{]",
    re.M)


PARAMETER_PROPERTY_RE = re.compile(r"\b(?:public|private|protected|readonly)\s+(?:readonly\s+)?([A-Za-z_$][\w$]*)\s*\??:")


def defined_names(text: str) -> frozenset[str]:
    """Names a chunk defines: its members, properties (constructor parameter properties too), methods
    (what a cross-file completion borrows), not every identifier its body mentions."""
    names = {m.group(1) for m in MEMBER_RE.finditer(text)} | {m.group(1) for m in PARAMETER_PROPERTY_RE.finditer(text)}
    return frozenset(n for n in names if n not in KEYWORDS and n != "constructor")


def _definitions_outside(graph: SymbolGraph, name: str, path: str) -> list[str]:
    """Chunk ids defining `name` in files other than `path`."""
    return [cid for cid in graph.definitions(name) if (node := graph.node(cid)) is not None and node.path != path]


def _locality(graph: SymbolGraph, cid: str, path: str, imported: set[str]) -> float:
    node = graph.node(cid)
    if node is None:
        return 0.0
    if node.path in imported:
        return 2.0
    if node.path == path:
        return 1.0
    return 0.5 if node.section == "workspace" else 0.25
