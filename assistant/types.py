"""Value types at the assistant's boundary: what surfaces (LSP, HTTP, TUI, CLI) send and receive."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

CompletionKind = Literal["copy", "copy_edit", "generated"]


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """A cursor in a document. The text is the buffer as the editor has it (unsaved edits win)."""

    text: str
    line: int
    """0-based line of the cursor."""
    column: int
    """0-based column, in characters (Python str indices) of that line."""
    path: str | None = None
    """Workspace-relative (or absolute) path of the document; None for an unnamed buffer."""
    fill_in_middle: bool | None = None
    """Also read the code after the cursor (None: the workspace's [completion] setting)."""
    use_gate: bool = True
    """Hide completions below the confidence threshold."""
    max_items: int | None = None
    multiline: bool | None = None
    """None: several lines only when the cursor opens a block."""

    @classmethod
    def from_prefix(cls, prefix: str, suffix: str = "", path: str | None = None, **kw: Any) -> CompletionRequest:
        """A request whose cursor sits between `prefix` and `suffix` (OpenAI-style prompt/suffix)."""
        lines = prefix.split("\n")
        return cls(prefix + suffix, len(lines) - 1, len(lines[-1]), path, **kw)


@dataclass(frozen=True, slots=True)
class Completion:
    """One suggestion: the text to insert at the cursor, where it came from, how sure we are."""

    text: str
    """Text inserted at the cursor (the rest of the line, or several lines)."""
    confidence: float
    """Calibrated probability that this is exactly what comes next."""
    source: str
    """`path:line` (1-based) of the copied line, or `generated`."""
    kind: CompletionKind = "copy"
    shown: bool = True
    """False when the gate would hide it (returned only when the gate is off)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CompletionResult:
    items: tuple[Completion, ...]
    request_id: str
    latency_ms: float
    hidden: int = 0
    """Candidates that scored but were held back by the gate."""
    threshold: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"items": [c.to_json() for c in self.items], "request_id": self.request_id,
                "latency_ms": round(self.latency_ms, 2), "hidden": self.hidden, "threshold": self.threshold}


@dataclass(frozen=True, slots=True)
class ScoredCandidate:
    """A candidate as the ranker saw it (for `explain`, the TUI's why-this-completion)."""

    text: str
    source: str
    kind: CompletionKind
    features: dict[str, float]
    score: float
    confidence: float
    shown: bool


@dataclass(frozen=True, slots=True)
class Hop:
    """A chunk reached by HopRAG from the cursor, with how far and how relevant."""

    chunk_id: str
    symbol: str
    path: str
    hop: int
    score: float


@dataclass(frozen=True, slots=True)
class Explanation:
    candidates: tuple[ScoredCandidate, ...]
    hops: tuple[Hop, ...]
    threshold: float
    decision: str
    """What the gate did: 'shown: …' or 'silent: …'."""
    latency_ms: float
    complexity: float | None = None
    skipped_blocks: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Hit:
    """A memory-bank entry found by a search."""

    id: int
    score: float
    text: str
    kind: str
    path: str | None
    start_line: int | None
    end_line: int | None
    symbol: str | None
    section: str = "workspace"
    content_hash: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class ChatAnswer:
    text: str
    citations: tuple[str, ...]
    """`path:line` of every piece of code the answer used."""


@dataclass(frozen=True, slots=True)
class BankStats:
    entries: int
    by_kind: dict[str, int]
    by_section: dict[str, int]
    files: int
    generation: int
    bytes_on_disk: int
    """Vector generation file + the SQLite database (catalog and Titans share it)."""
    memory_bytes: int
    """Vectors held in RAM (a memory-mapped generation counts only its delta)."""
    mmapped: bool
    model_digest: str | None
    delta: int = 0
    tombstones: int = 0
    index_type: str = "flat"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Episode:
    """One association the Titans memory keeps (shown in the memory browser; `forget` drops the least used)."""

    id: int
    file: str | None
    text: str
    surprise: float
    access: int
    added_at: float


@dataclass(frozen=True, slots=True)
class TitansStats:
    episodes: int
    capacity: int
    writes: int
    surprise_histogram: list[tuple[float, float, int]]
    """(low, high, count) bins of episode surprise."""
    most_accessed: list[Episode]
    least_accessed: list[Episode]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one sync did, for status lines and `shutka watch` logs."""

    generation: int
    added: int
    removed: int
    moved: int
    skipped: int
    encoded: int
    reused: int
    latency_ms: float
    paths: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Status:
    workspace: str
    model: str
    model_digest: str
    bank: BankStats
    catalog_generation: int
    files: int
    last_sync: SyncReport | None
    titans_episodes: int
    indexing: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Answered:
    """A completion remembered for feedback (`Assistant.remember`)."""

    request: CompletionRequest
    texts: tuple[str, ...] = ()
    """The choices' texts as sent, without an echoed prompt, by choice index."""
