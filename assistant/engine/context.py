"""The context of a cursor: the lines before it, what is typed on its line, the retrieval query,
the identifiers in scope, and the tokens the model reads.

Requests are bounded here: a position past the end is clamped, a huge document is cut to a window
around the cursor, so no request can make the engine slow.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

from assistant.engine.candidates import WINDOW, FileLines, identifiers, query_window, split_file
from assistant.engine.gate import opened_before
from assistant.types import CompletionRequest

MAX_CONTEXT_LINES = 4000
"""Lines before the cursor kept from a huge document (the rest cannot change a one-line answer)."""
MAX_LINE_CHARS = 2000
"""A (minified) cursor line is cut to this many characters before the cursor."""
UNNAMED = "<buffer>"


@dataclass(frozen=True, slots=True)
class CursorContext:
    path: str
    line_no: int
    """0-based line of the cursor in the (possibly windowed) document."""
    cursor_prefix: str
    """The cursor line up to the cursor."""
    suffix: str
    """Text after the cursor (used only in fill-in-the-middle mode)."""
    before: FileLines
    """The visible lines before the cursor line (the current file as the engine sees it)."""
    prefix_text: str
    """Everything before the cursor line (joined lines), for the model."""
    query: dict[str, int]
    """Tokens of the previous non-blank lines (the BM25 query)."""
    scope: frozenset[str]
    """Identifiers already written before the cursor."""
    indent: str
    fill_in_middle: bool
    opened: str | None = None
    """What the cursor's line starts inside of (`gate.opened_before`): a block comment, a template literal,
    or None (code)."""


class ContextBuilder:
    """Builds CursorContexts; the split of a buffer's prefix is cached by content."""

    def __init__(self, window: int = WINDOW, cache_size: int = 64) -> None:
        self.window = window
        self._cache: OrderedDict[str, tuple[FileLines, frozenset[str], str | None]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def build(self, request: CompletionRequest, fill_in_middle: bool, max_bytes: int) -> CursorContext:
        lines = request.text.split("\n")
        line_no = max(0, min(request.line, len(lines) - 1))
        current = lines[line_no] if lines else ""
        column = max(0, min(request.column, len(current)))
        cursor_prefix = current[:column][-MAX_LINE_CHARS:]
        start = max(0, line_no - MAX_CONTEXT_LINES)
        before_lines = lines[start:line_no]
        prefix_text = "\n".join(before_lines) + ("\n" if before_lines else "")
        if len(prefix_text) > max_bytes:
            prefix_text = prefix_text[-max_bytes:]
            prefix_text = prefix_text[prefix_text.find("\n") + 1 :]
        suffix = ""
        if fill_in_middle:
            suffix = "\n".join([current[column:], *lines[line_no + 1 : line_no + 1 + MAX_CONTEXT_LINES]])
            suffix = suffix[:max_bytes]
        path = request.path or UNNAMED
        rel_line = prefix_text.count("\n")
        before, scope, opened = self._split(path, prefix_text, rel_line)
        indent = cursor_prefix[: len(cursor_prefix) - len(cursor_prefix.lstrip())]
        return CursorContext(path, rel_line, cursor_prefix, suffix, before, prefix_text,
                             query_window(before, rel_line, self.window), scope, indent, fill_in_middle, opened)

    def _split(self, path: str, prefix_text: str, line_no: int) -> tuple[FileLines, frozenset[str], str | None]:
        key = hashlib.blake2b(f"{path}\0{prefix_text}".encode("utf-8", "replace"), digest_size=16).hexdigest()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        before = split_file(path, prefix_text, self.window, stop_line=line_no)
        scope = frozenset(identifiers(prefix_text))
        opened = opened_before(prefix_text)
        with self._lock:
            self._cache[key] = (before, scope, opened)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return before, scope, opened
