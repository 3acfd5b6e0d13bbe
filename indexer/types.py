"""Value types that cross the indexer's boundary: files, spans, chunks, lines, plans and events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Section = Literal["workspace", "library"]
"""`workspace`: the user's code. `library`: read-only `.d.ts` of direct dependencies."""

ChunkKind = Literal[
    "function", "arrow_function", "class", "method", "interface", "type_alias",
    "enum", "constant", "namespace", "window",
]
"""What a chunk defines; `window` is the line-window fallback when parsing fails."""

EdgeKind = Literal["imports", "contains", "references", "calls", "type_uses"]

RefKind = Literal["references", "calls", "type_uses"]
"""How a chunk uses a name: a plain identifier, a call (or `new`, or a JSX element), a type."""


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A file found by discovery (cheap facts only; no content read yet)."""

    path: str
    """Workspace-relative POSIX path (library files: `node_modules/<pkg>/...`)."""
    size: int
    mtime_ns: int
    section: Section = "workspace"


@dataclass(frozen=True, slots=True)
class Span:
    """0-based, end-exclusive line span plus the byte offsets in the UTF-8 text."""

    start_line: int
    end_line: int
    start_byte: int = 0
    end_byte: int = 0


@dataclass(frozen=True, slots=True)
class Chunk:
    """One definition (or a window of lines) of one file."""

    path: str
    kind: ChunkKind
    symbol: str
    """Qualified name: `foo`, `Class.method`, `Ns.Inner`; windows use `path:start-end`."""
    span: Span
    text: str
    content_hash: str
    """sha256 hex of `text` (embeddings are re-used across files by this hash)."""
    parent: str | None = None
    """Symbol of the enclosing chunk (class for a method, namespace for its members)."""
    exported: bool = False

    @property
    def chunk_id(self) -> str:
        """Stable within a file version: `path#symbol@start_line`."""
        return f"{self.path}#{self.symbol}@{self.span.start_line}"


@dataclass(frozen=True, slots=True)
class LineTarget:
    """A non-trivial line that completion may copy (a candidate continuation)."""

    path: str
    line_no: int
    """0-based line number in the file."""
    text: str
    """The line as written (indentation kept, no newline)."""
    content_hash: str
    """sha256 hex of the stripped line text."""


@dataclass(frozen=True, slots=True)
class Edge:
    """A code-graph edge between chunk ids (or chunk id -> file path for `imports`)."""

    src: str
    dst: str
    kind: EdgeKind


@dataclass(frozen=True, slots=True)
class Reference:
    """A name used inside a chunk; the code graph resolves it to the chunk(s) defining it."""

    chunk_id: str
    """`Chunk.chunk_id` of the innermost chunk the name occurs in."""
    name: str
    kind: RefKind
    member: bool = False
    """True for `obj.name(...)`: the name is a member (a method), not a free identifier."""


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """Everything the indexer derives from one file's content."""

    info: FileInfo
    content_hash: str
    """sha256 hex of the raw bytes."""
    text: str
    """The decoded text with secrets masked (same length and lines as the file)."""
    chunks: tuple[Chunk, ...]
    lines: tuple[LineTarget, ...]
    imports: tuple[str, ...]
    """Workspace-relative paths this file imports (resolved; unresolved specifiers dropped)."""
    warnings: tuple[str, ...] = ()
    """Non-fatal problems (syntax errors recovered, fallback chunking used)."""
    specifiers: tuple[str, ...] = ()
    """Import specifiers as written (`./a`, `@/lib`, `react`), in source order, de-duplicated."""
    references: tuple[Reference, ...] = ()
    """Names each chunk uses (identifiers, calls, types), de-duplicated per chunk."""
    secrets: int = 0
    """Secrets masked in `text` (and so in chunks and lines) before anything was derived from it."""


@dataclass(frozen=True, slots=True)
class Skip:
    """A file discovery or parsing declined, with the reason logged and reported."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class IndexPlan:
    """What a sync must do; computed without writing anything."""

    compute: tuple[FileInfo, ...]
    """New or changed files (by content hash) that must be parsed and encoded."""
    delete: tuple[str, ...]
    """Paths in the catalog that are gone from disk (or now excluded)."""
    moved: tuple[tuple[str, str], ...] = ()
    """(old_path, new_path) pairs with identical content: re-use everything, encode nothing."""
    touched: tuple[FileInfo, ...] = ()
    """Same content, new stat: only the catalog's size/mtime are refreshed. The new path of every
    `moved` pair is here too (its stat is refreshed after the rename)."""
    unchanged: int = 0
    skipped: tuple[Skip, ...] = ()
    generation: int = -1
    """Catalog generation the plan was computed against (-1: unknown); apply re-plans if it moved."""
    scope: tuple[str, ...] | None = None
    """The paths the plan was restricted to (None: the whole workspace), for re-planning."""
    checked_ns: int = 0
    """Wall-clock ns (`time.time_ns`) taken before the plan's first stat; stored with the rows so the
    next plan can tell a racy mtime (see indexer.plan.RACY_WINDOW_NS)."""

    @property
    def is_empty(self) -> bool:
        return not (self.compute or self.delete or self.moved or self.touched)


@dataclass(frozen=True, slots=True)
class IndexEvent:
    """Emitted after a sync commit: what changed, in which catalog generation."""

    generation: int
    added: tuple[str, ...] = ()
    """Paths whose content is new or changed."""
    removed: tuple[str, ...] = ()
    moved: tuple[tuple[str, str], ...] = ()
    skipped: tuple[Skip, ...] = ()
    chunks_added: int = 0
    chunks_removed: int = 0
    started_at: float = 0.0
    """`time.monotonic()` when the triggering change was seen (for latency)."""
    committed_at: float = 0.0
    """`time.monotonic()` right after the commit."""
    stats: dict[str, int] = field(default_factory=dict)
    """Counters from the sync hook: encoded, reused, ..."""

    @property
    def latency_ms(self) -> float:
        return (self.committed_at - self.started_at) * 1000.0
