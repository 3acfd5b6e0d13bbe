"""Parse one TypeScript file into chunks (definitions), the names each chunk uses, its import specifiers
and the line targets completion may copy.

Chunks are the definitions that matter outside their own body: top-level, namespace-level and
class-level functions, arrow functions and function expressions bound to names, classes, methods
(`Class.method`), interfaces, type aliases, enums, exported constants and namespaces (members are
`Ns.member`). A chunk starts at its leading comment/JSDoc and `export` keyword. A definition longer
than `max_chunk_lines` is split into windows of that many lines (same symbol, different start line).
Top-level code that is neither a definition nor an import becomes `window` chunks of `window_lines`.

Broken syntax still yields chunks from tree-sitter's error recovery, plus a warning. When the parser
gives up entirely the whole file is chunked into windows (logged at WARNING with the path and reason).
Minified files (any line longer than `max_line_chars`) are skipped, not windowed: one giant line per
window would flood the index with text no completion can use.

Secrets are masked in the decoded text before any of this (indexer.secrets, same length and lines), so
chunks, line targets and names only ever see the masked text; a line holding a masked secret is no
line target (completion must never offer it).
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass
from typing import cast

import tree_sitter

from indexer.config import IndexerConfig
from indexer.languages import grammar, grammar_name, parser
from indexer.reading import Decoded, content_hash, decode, has_private_key, read_bytes
from indexer.resolve import ImportResolver
from indexer.secrets import has_mask, scanner_for
from indexer.types import Chunk, ChunkKind, FileInfo, LineTarget, ParsedFile, Reference, RefKind, Skip, Span
from indexer.workspace import Workspace

log = logging.getLogger(__name__)

CHUNKER_VERSION = 1
"""Bump when chunking output changes for the same input: the catalog re-chunks every file."""

WRAPPERS = frozenset({"export_statement", "ambient_declaration", "expression_statement"})
"""Nodes between a definition and its container that belong to the definition's chunk."""
NAMESPACE_NODES = frozenset({"internal_module", "module"})
NON_CODE_TOP_LEVEL = frozenset({"import_statement", "comment", "empty_statement", "hash_bang_line"})
MAX_ERROR_LINES_REPORTED = 5
BUILTIN_NAMES = frozenset({
    "console", "Math", "JSON", "Promise", "Array", "Object", "String", "Number", "Boolean", "Error",
    "Symbol", "Map", "Set", "Date", "RegExp", "undefined", "NaN", "Infinity", "window", "document",
    "globalThis", "process", "require", "module", "exports", "this", "super", "string", "number",
    "boolean", "any", "unknown", "void", "never", "object", "Record", "Partial", "Readonly", "Pick", "Omit",
})
"""Names too common to be worth a reference row (they resolve to nothing in the workspace)."""

_REF_CAPTURES: dict[str, tuple[int, RefKind, bool]] = {
    "reference.call": (0, "calls", False),
    "reference.member_call": (0, "calls", True),
    "reference.type": (1, "type_uses", False),
    "reference.identifier": (2, "references", False),
}
_IDENTIFIER_CHAR = re.compile(r"[A-Za-z0-9_$]")


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """What `chunk_text` derives from one file's text."""

    chunks: tuple[Chunk, ...]
    references: tuple[Reference, ...]
    specifiers: tuple[str, ...]
    warnings: tuple[str, ...]


# --- lines -----------------------------------------------------------------------------------------


def split_lines(text: str) -> list[str]:
    """Lines as tree-sitter counts them (`\\n` only), without the `\\r` of CRLF endings."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def line_targets(path: str, text: str) -> tuple[LineTarget, ...]:
    """Every line completion may copy: its stripped text has an identifier character (so blank lines
    and lone punctuation such as `}`, `});`, `{`, `*/` are left out) and no masked secret."""
    targets = []
    for number, line in enumerate(split_lines(text)):
        stripped = line.strip()
        if stripped and _IDENTIFIER_CHAR.search(stripped) and not has_mask(stripped):
            targets.append(LineTarget(path, number, line, content_hash(stripped)))
    return tuple(targets)


def longest_line(text: str) -> int:
    return max((len(line) for line in text.split("\n")), default=0)


class _Lines:
    """Byte offset of every line start of a UTF-8 source (for whole-line windows)."""

    def __init__(self, source: bytes) -> None:
        self.source = source
        self.starts = [0, *itertools.accumulate(len(line) + 1 for line in source.split(b"\n")[:-1])]

    def __len__(self) -> int:
        return len(self.starts)

    def offset(self, line: int) -> int:
        return self.starts[line] if line < len(self.starts) else len(self.source)


# --- windows ---------------------------------------------------------------------------------------


def window_symbol(path: str, start_line: int, end_line: int) -> str:
    """`path:first-last`, 1-based and inclusive, as users read line numbers."""
    return f"{path}:{start_line + 1}-{end_line}"


def _windows(path: str, lines: _Lines, start: int, end: int, size: int) -> list[Chunk]:
    chunks = []
    for lo in range(start, end, size):
        hi = min(end, lo + size)
        b0, b1 = lines.offset(lo), lines.offset(hi)
        text = lines.source[b0:b1].decode("utf-8")
        if not text.strip():
            continue
        chunks.append(Chunk(path, "window", window_symbol(path, lo, hi), Span(lo, hi, b0, b1), text,
                            content_hash(text)))
    return chunks


def window_chunks(path: str, text: str, config: IndexerConfig) -> tuple[Chunk, ...]:
    """The whole file as windows of `window_lines` (the fallback when parsing fails)."""
    lines = _Lines(text.encode("utf-8"))
    return tuple(_windows(path, lines, 0, len(lines), config.window_lines))


# --- definitions -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Def:
    node: tree_sitter.Node
    kind: ChunkKind
    name: str
    pattern: int


def _name_of(node: tree_sitter.Node | None) -> str:
    if node is None:
        return "default"
    text = (node.text or b"").decode("utf-8", errors="replace")
    if node.type == "string":
        text = text.strip("'\"`")
    return text


def _collect(tree: tree_sitter.Tree, query: tree_sitter.Query) -> tuple[
        dict[int, _Def], dict[int, tuple[int, RefKind, bool, tree_sitter.Node]], list[str], set[str], set[int]]:
    """Run the query once; dedupe captures per node (specific captures win)."""
    defs: dict[int, _Def] = {}
    refs: dict[int, tuple[int, RefKind, bool, tree_sitter.Node]] = {}
    imports: list[tuple[int, str]] = []
    exports: set[str] = set()
    name_nodes: set[int] = set()
    for pattern, captures in tree_sitter.QueryCursor(query).matches(tree.root_node):
        for capture, nodes in captures.items():
            if capture.startswith("definition."):
                node = nodes[0]
                name_node = captures.get("name", [None])[0]
                if name_node is not None:
                    name_nodes.add(name_node.id)
                known = defs.get(node.id)
                if known is None or pattern < known.pattern:
                    kind = cast(ChunkKind, capture.removeprefix("definition."))
                    defs[node.id] = _Def(node, kind, _name_of(name_node), pattern)
            elif capture in _REF_CAPTURES:
                priority, kind, member = _REF_CAPTURES[capture]
                for node in nodes:
                    known_ref = refs.get(node.id)
                    if known_ref is None or priority < known_ref[0]:
                        refs[node.id] = (priority, kind, member, node)
            elif capture == "import":
                imports += [(n.start_byte, (n.text or b"").decode("utf-8", errors="replace")) for n in nodes]
            elif capture == "export":
                exports.update((n.text or b"").decode("utf-8", errors="replace") for n in nodes)
    specifiers = list(dict.fromkeys(text for _, text in sorted(imports)))
    return defs, refs, specifiers, exports, name_nodes


@dataclass(slots=True)
class _Placed:
    """A definition that becomes a chunk: its span node and place in the tree."""

    definition: _Def
    span_node: tree_sitter.Node
    owner: tree_sitter.Node | None
    """The namespace/class node this definition belongs to (None at top level)."""
    exported: bool


def _place(d: _Def, dts: bool) -> _Placed | None:
    """Where `d` sits; None when it is local to a function body (not a chunk)."""
    decl = d.node
    if decl.type == "variable_declarator":
        parent = decl.parent
        if parent is None or parent.type not in ("lexical_declaration", "variable_declaration"):
            return None
        single = len([c for c in parent.named_children if c.type == "variable_declarator"]) == 1
        decl = parent
    else:
        single = True
    outer = decl
    exported = False
    while outer.parent is not None and outer.parent.type in WRAPPERS:
        outer = outer.parent
        if outer.type == "export_statement" or (outer.type == "ambient_declaration" and dts):
            exported = True
    container = outer.parent
    if container is None:
        return None
    if container.type == "program":
        owner = None
    elif container.type == "statement_block" and container.parent is not None \
            and container.parent.type in NAMESPACE_NODES:
        owner = container.parent
        exported = exported or dts
    elif container.type == "class_body" and d.kind == "method" and container.parent is not None:
        owner = container.parent
    else:
        return None
    span_node = outer if single else d.node
    return _Placed(d, span_node, owner, exported)


def _leading_start(node: tree_sitter.Node) -> tree_sitter.Node:
    """The first of the comments directly above `node` (no blank line between), or `node`."""
    first = node
    prev = node.prev_named_sibling
    while prev is not None and prev.type == "comment" and prev.end_point.row >= first.start_point.row - 1:
        first = prev
        prev = prev.prev_named_sibling
    return first


def _definition_chunks(path: str, lines: _Lines, placed: list[_Placed], exports: set[str],
                       config: IndexerConfig) -> tuple[list[Chunk], list[tuple[int, int]]]:
    """Chunks for placed definitions (outer before inner) and the line ranges of top-level ones."""
    symbols: dict[int, str] = {}
    owners_exported: dict[int, bool] = {}
    chunks: list[Chunk] = []
    covered: list[tuple[int, int]] = []
    for p in sorted(placed, key=lambda p: (p.span_node.start_byte, -p.span_node.end_byte)):
        d = p.definition
        parent: str | None = None
        exported = p.exported
        if p.owner is not None:
            if p.owner.id not in symbols:
                continue  # the enclosing class/namespace is not a chunk (e.g. a class expression)
            parent = symbols[p.owner.id]
            if d.kind == "method":
                exported = owners_exported[p.owner.id]
        elif d.name in exports:
            exported = True
        if d.kind == "constant" and not exported:
            continue
        symbol = f"{parent}.{d.name}" if parent else d.name
        symbols[d.node.id] = symbol
        owners_exported[d.node.id] = exported
        first = _leading_start(p.span_node)
        start_byte, end_byte = first.start_byte, p.span_node.end_byte
        start_line, end_line = first.start_point.row, p.span_node.end_point.row + 1
        if p.owner is None:
            covered.append((start_line, end_line))
        chunks += _split(path, lines, d.kind, symbol, parent, exported, start_line, end_line,
                         start_byte, end_byte, config.max_chunk_lines)
    return chunks, covered


def _split(path: str, lines: _Lines, kind: ChunkKind, symbol: str, parent: str | None, exported: bool,
           start_line: int, end_line: int, start_byte: int, end_byte: int, size: int) -> list[Chunk]:
    """One chunk, or windows of `size` lines when the definition is longer than that."""
    bounds = [(start_line, start_byte)]
    for line in range(start_line + size, end_line, size):
        bounds.append((line, lines.offset(line)))
    parts = []
    for i, (line, b0) in enumerate(bounds):
        last = i + 1 == len(bounds)
        hi_line = end_line if last else bounds[i + 1][0]
        b1 = end_byte if last else bounds[i + 1][1]
        text = lines.source[b0:b1].decode("utf-8")
        parts.append(Chunk(path, kind, symbol, Span(line, hi_line, b0, b1), text, content_hash(text),
                           parent, exported))
    return parts


def _top_level_windows(path: str, lines: _Lines, root: tree_sitter.Node, covered: list[tuple[int, int]],
                       size: int) -> list[Chunk]:
    """Windows over top-level code that no definition chunk covers (imports and re-exports left out)."""
    covered_lines = set()
    for lo, hi in covered:
        covered_lines.update(range(lo, hi))
    runs: list[tuple[int, int]] = []
    for child in root.named_children:
        if child.type in NON_CODE_TOP_LEVEL:
            continue
        if child.type == "export_statement" and (
                child.child_by_field_name("source") is not None
                or (child.child_by_field_name("declaration") is None and child.child_by_field_name("value") is None)):
            continue  # `export * from`, `export { a } from`, `export { a, b }`
        lo, hi = child.start_point.row, child.end_point.row + 1
        if all(line in covered_lines for line in range(lo, hi)):
            continue
        if runs and not any(line in covered_lines for line in range(runs[-1][1], lo)):
            runs[-1] = (runs[-1][0], hi)
        else:
            runs.append((lo, hi))
    windows = []
    for lo, hi in runs:
        windows += _windows(path, lines, lo, hi, size)
    return windows


def _error_lines(root: tree_sitter.Node) -> list[int]:
    rows: list[int] = []
    stack = [root]
    while stack and len(rows) < MAX_ERROR_LINES_REPORTED:
        node = stack.pop()
        if node.is_error or node.is_missing:
            rows.append(node.start_point.row + 1)
            continue
        if node.has_error:
            stack.extend(reversed(node.children))
    return sorted(rows)


def _assign_references(path: str, chunks: list[Chunk], refs: dict[int, tuple[int, RefKind, bool, tree_sitter.Node]],
                       name_nodes: set[int], n_lines: int) -> list[Reference]:
    """Each reference goes to the innermost chunk covering its line."""
    owner: list[str | None] = [None] * (n_lines + 1)
    for chunk in sorted(chunks, key=lambda c: c.span.end_line - c.span.start_line, reverse=True):
        for line in range(chunk.span.start_line, min(chunk.span.end_line, n_lines + 1)):
            owner[line] = chunk.chunk_id
    found: dict[tuple[str, str, RefKind, bool], None] = {}
    for node_id, (_, kind, member, node) in refs.items():
        parent = node.parent
        if node_id in name_nodes or (parent is not None and parent.id in name_nodes):
            continue  # a definition's own name (or a part of `A.B`)
        name = (node.text or b"").decode("utf-8", errors="replace")
        if not name or name in BUILTIN_NAMES:
            continue
        row = node.start_point.row
        chunk_id = owner[row] if row < len(owner) else None
        if chunk_id is not None:
            found[(chunk_id, name, kind, member)] = None
    return [Reference(c, n, k, m) for c, n, k, m in sorted(found)]


def chunk_text(path: str, text: str, config: IndexerConfig) -> ChunkResult:
    """Chunks, references, specifiers and warnings of a file's text (no I/O)."""
    name = grammar_name(path)
    if name is None:
        raise ValueError(f"{path}: not a TypeScript file (extensions: {', '.join(config.extensions)})")
    source = text.encode("utf-8")
    lines = _Lines(source)
    try:
        tree = parser(name).parse(source)
    except ValueError as exc:  # tree-sitter refuses the input; keep the file, as windows
        reason = f"parser failed ({exc}); indexed as line windows"
        log.warning("%s: %s", path, reason)
        return ChunkResult(window_chunks(path, text, config), (), (), (reason,))
    defs, refs, specifiers, exports, name_nodes = _collect(tree, grammar(name).query)
    dts = path.endswith((".d.ts", ".d.mts", ".d.cts"))
    placed = [p for p in (_place(d, dts) for d in defs.values()) if p is not None]
    chunks, covered = _definition_chunks(path, lines, placed, exports, config)
    chunks += _top_level_windows(path, lines, tree.root_node, covered, config.window_lines)
    unique: dict[str, Chunk] = {}
    for chunk in sorted(chunks, key=lambda c: (c.span.start_byte, -c.span.end_byte)):
        unique.setdefault(chunk.chunk_id, chunk)
    ordered = list(unique.values())
    warnings: list[str] = []
    if tree.root_node.has_error:
        rows = _error_lines(tree.root_node)
        warnings.append(f"syntax errors near line(s) {', '.join(map(str, rows))} (recovered; "
                        "chunks around them may be incomplete)")
    references = _assign_references(path, ordered, refs, name_nodes, len(lines))
    return ChunkResult(tuple(ordered), tuple(references), tuple(specifiers), tuple(warnings))


# --- files -----------------------------------------------------------------------------------------


def decode_source(info: FileInfo, data: bytes, config: IndexerConfig) -> Decoded | Skip:
    """Text of a file's bytes with its secrets masked (indexer.secrets: same length, same lines), or
    why it is skipped (binary, not UTF-8, minified; a private key only while `scan_secrets` is off).
    Every path that turns file bytes into stored text (sync, verify) goes through here."""
    scanner = scanner_for(config)
    if not scanner.enabled and has_private_key(data):
        return Skip(info.path, "contains a private key (never indexed; scan_secrets is off)")
    decoded = decode(info.path, data)
    if isinstance(decoded, Skip):
        return decoded
    longest = longest_line(decoded.text)
    if longest > config.max_line_chars:
        return Skip(info.path, f"minified or generated (a line of {longest} characters > max_line_chars "
                               f"{config.max_line_chars})")
    masked = scanner.mask(decoded.text)
    if masked.count:
        log.info("%s: masked %d secret(s)", info.path, masked.count)
        return Decoded(masked.text, decoded.warning, masked.count)
    return decoded


def parse_file(workspace: Workspace, info: FileInfo, data: bytes | None = None, *,
               config: IndexerConfig | None = None, resolver: ImportResolver | None = None) -> ParsedFile | Skip:
    """Read (unless `data` is given), decode and chunk one file.

    Returns a Skip (logged at WARNING) when the file cannot be indexed. `resolver` resolves import
    specifiers to files for `ParsedFile.imports` (default: against the disk)."""
    config = config or IndexerConfig()
    if data is None:
        read = read_bytes(workspace.root, info.path, config.max_file_bytes)
        if isinstance(read, Skip):
            log.warning("skipped %s: %s", read.path, read.reason)
            return read
        data = read
    decoded = decode_source(info, data, config)
    if isinstance(decoded, Skip):
        log.warning("skipped %s: %s", decoded.path, decoded.reason)
        return decoded
    result = chunk_text(info.path, decoded.text, config)
    warnings = ((decoded.warning,) if decoded.warning else ()) + result.warnings
    for warning in warnings:
        log.warning("%s: %s", info.path, warning)
    resolver = resolver or ImportResolver(workspace.root)
    imports = tuple(dict.fromkeys(r for r in (resolver.resolve(info.path, s) for s in result.specifiers)
                                  if r is not None and r != info.path))
    return ParsedFile(info=info, content_hash=content_hash(data), text=decoded.text, chunks=result.chunks,
                      lines=line_targets(info.path, decoded.text), imports=imports, warnings=warnings,
                      specifiers=result.specifiers, references=result.references, secrets=decoded.secrets)
