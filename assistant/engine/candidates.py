"""The lexical line store: every visible workspace line with its context window, for candidate
generation and BM25 context similarity (the RepoCoder / CrossCodeEval retrieval signal).

A line's *window* is the multiset of tokens of the `window` previous non-blank lines of its file.
Files are added, replaced and removed one at a time (what a sync or an unsaved buffer changes), so
the store is always current without a rebuild: the prefix index is a sorted list, the document
frequencies are per-file counters that are subtracted when a file goes.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sortedcontainers import SortedList

TOKEN_RE = re.compile(
    r"[A-Za-z_$][\w$]*|\d[\w.]*|===|!==|\*\*=|\.\.\.|=>|==|!=|<=|>=|&&|\|\||\?\?|\?\.|\+\+|--"
    r"|[+\-*/%&|^]=|\S")
IDENT_RE = re.compile(r"[A-Za-z_$][\w$]*")
TRAILING_NAME_RE = re.compile(r"[A-Za-z_$][\w$]*$")
"""The identifier the text ends with (the word the cursor is in)."""
KEYWORDS = frozenset(["abstract", "any", "as", "asserts", "async", "await", "bigint", "boolean", "break", "case", "catch", "class", "const", "constructor", "continue", "debugger", "declare", "default", "delete", "do", "else", "enum", "export", "extends", "false", "finally", "for", "from", "function", "get", "if", "implements", "import", "in", "infer", "instanceof", "interface", "is", "keyof", "let", "module", "namespace", "never", "new", "null", "number", "object", "of", "package", "private", "protected", "public", "readonly", "require", "return", "satisfies", "set", "static", "string", "super", "switch", "symbol", "this", "throw", "true", "try", "type", "typeof", "undefined", "unique", "unknown", "var", "void", "while", "with", "yield"])
K1, B = 1.2, 0.75
MAX_BACKOFF = 3
PARTIAL_LEVEL = 4
"""Level of candidates found by completing a partially typed identifier (tried last)."""
PARTIAL_MIN = 2
PARTIAL_NAMES = 64
PARTIAL_CANDIDATES = 400
WINDOW = 4
SHAPE_SCAN = 2000
"""Lines of the typed text's shape examined per request (the cursor's own file first)."""
SIBLINGS = 4
"""Lines of a lone typed name's block made into renamed options."""
_PREFIX_END = "\U0010ffff"
_NAME_SLOT = "\x01"


def tokens(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


def identifiers(text: str) -> list[str]:
    """Identifiers of `text`, keywords excluded."""
    return [t for t in IDENT_RE.findall(text) if t not in KEYWORDS]


def is_word_char(ch: str) -> bool:
    """Whether a character may be part of an identifier."""
    return ch.isalnum() or ch in "_$"


def is_name(tok: str) -> bool:
    """Whether a token is an identifier that is not a keyword."""
    return bool(IDENT_RE.fullmatch(tok)) and tok not in KEYWORDS


def shape(toks: list[str]) -> str:
    """A token list with every name replaced by one slot: lines of one shape say the same thing about
    different names. Each token ends with NUL, so shapes compare by prefix."""
    return "".join((_NAME_SLOT if is_name(t) else t) + "\0" for t in toks)


def normalize(text: str) -> str:
    """Whitespace-normalised form used to compare continuations (and by the scorer)."""
    return " ".join(text.split())


@dataclass(slots=True)
class StoredLine:
    """One non-blank line of a file."""

    gid: int
    path: str
    line_no: int
    """0-based line number in its file."""
    text: str
    """Stripped text."""
    toks: list[str]
    ends: list[int]
    """End offset (in `text`) of each token."""
    window: dict[str, int]
    wlen: int


@dataclass(slots=True)
class FileLines:
    path: str
    lines: list[StoredLine]
    df: Counter = field(default_factory=Counter)
    """Windows of this file containing each token."""
    wlen: int = 0
    raw_lines: list[str] = field(default_factory=list)
    """Every line of the file as written (indentation kept), for multi-line completion."""


def split_file(path: str, text: str, window: int = WINDOW, gid_start: int = 0,
               stop_line: int | None = None) -> FileLines:
    """Lines of `text` (up to `stop_line`, exclusive) with their windows; gids from `gid_start`."""
    raw = text.split("\n")
    out = FileLines(path, [], raw_lines=raw)
    recent: list[list[str]] = []
    for line_no, line in enumerate(raw if stop_line is None else raw[:stop_line]):
        stripped = line.strip()
        if not stripped:
            continue
        toks, ends = [], []
        for m in TOKEN_RE.finditer(stripped):
            toks.append(m.group())
            ends.append(m.end())
        win: Counter = Counter()
        for t in recent[-window:]:
            win.update(t)
        wlen = sum(win.values())
        out.lines.append(StoredLine(gid_start + len(out.lines), path, line_no, stripped, toks, ends, dict(win), wlen))
        out.df.update(win.keys())
        out.wlen += wlen
        recent.append(toks)
        if len(recent) > window:
            recent.pop(0)
    return out


def query_window(current: FileLines, line_no: int, window: int = WINDOW) -> dict[str, int]:
    """Tokens of the `window` non-blank lines before `line_no` in the current buffer."""
    before = [ln for ln in current.lines if ln.line_no < line_no][-window:]
    win: Counter = Counter()
    for ln in before:
        win.update(ln.toks)
    return dict(win)


@dataclass(slots=True)
class Candidate:
    """A visible line that could continue the cursor's line."""

    line: StoredLine
    continuation: str
    level: int
    """0: the line starts with the typed text; k: it contains the last k typed tokens."""
    bm25: float = 0.0


class LineStore:
    """All indexed lines of a workspace (+ unsaved buffers as overlays). Thread-safe. Texts arrive with
    their secrets masked (by the indexer, or by the `Assistant` for buffers); lines holding a mask are
    still context, but the engine never offers them (indexer.secrets.has_mask)."""

    def __init__(self, window: int = WINDOW) -> None:
        self.window = window
        self._files: dict[str, FileLines] = {}
        self._overlaid: dict[str, FileLines] = {}  # saved version hidden by an unsaved buffer
        self._by_gid: dict[int, StoredLine] = {}
        self._sorted: SortedList = SortedList()  # (stripped text, gid)
        self._tok_lines: dict[str, set[int]] = {}
        self._tokens: SortedList = SortedList()  # distinct identifier tokens, for partial identifiers
        self._shapes: SortedList = SortedList()  # (shape of the line's tokens, gid)
        self._df: Counter = Counter()
        self._n_win = 0
        self._total_wlen = 0
        self._next_gid = 0
        self._lock = threading.RLock()

    # -- maintenance -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._n_win

    def paths(self) -> list[str]:
        with self._lock:
            return list(self._files)

    def file(self, path: str) -> FileLines | None:
        return self._files.get(path)

    def set_file(self, path: str, text: str) -> None:
        """Add or replace a file's lines (a sync committed a new version)."""
        with self._lock:
            if path in self._overlaid:  # an unsaved buffer is shown: replace what it hides
                self._overlaid[path] = split_file(path, text, self.window, gid_start=-1)
                return
            self._remove(path)
            self._insert(split_file(path, text, self.window, gid_start=self._next_gid))

    def remove_file(self, path: str) -> None:
        with self._lock:
            self._overlaid.pop(path, None)
            self._remove(path)

    def rename_file(self, old: str, new: str) -> None:
        with self._lock:
            current = self._files.get(old)
            if current is None:
                return
            text = "\n".join(current.raw_lines)
            self._remove(old)
            self._insert(split_file(new, text, self.window, gid_start=self._next_gid))

    def overlay(self, path: str, text: str) -> None:
        """An unsaved editor buffer wins over the saved file until `clear_overlay`."""
        with self._lock:
            if path not in self._overlaid:
                self._overlaid[path] = self._files.get(path) or FileLines(path, [])
            self._remove(path)
            self._insert(split_file(path, text, self.window, gid_start=self._next_gid))

    def clear_overlay(self, path: str) -> None:
        with self._lock:
            saved = self._overlaid.pop(path, None)
            self._remove(path)
            if saved is not None and saved.raw_lines:
                self._insert(split_file(path, "\n".join(saved.raw_lines), self.window, gid_start=self._next_gid))

    def _insert(self, fl: FileLines) -> None:
        # gids were assigned from _next_gid by split_file; re-base defensively
        base = self._next_gid
        for i, ln in enumerate(fl.lines):
            ln.gid = base + i
        self._next_gid = base + len(fl.lines)
        self._files[fl.path] = fl
        for ln in fl.lines:
            self._by_gid[ln.gid] = ln
            self._sorted.add((ln.text, ln.gid))
            self._shapes.add((shape(ln.toks), ln.gid))
            for t in set(ln.toks):
                bucket = self._tok_lines.get(t)
                if bucket is None:
                    bucket = self._tok_lines[t] = set()
                    if t[0].isalpha() or t[0] in "_$":
                        self._tokens.add(t)
                bucket.add(ln.gid)
        self._df.update(fl.df)
        self._n_win += len(fl.lines)
        self._total_wlen += fl.wlen

    def _remove(self, path: str) -> None:
        fl = self._files.pop(path, None)
        if fl is None:
            return
        for ln in fl.lines:
            self._by_gid.pop(ln.gid, None)
            self._sorted.discard((ln.text, ln.gid))
            self._shapes.discard((shape(ln.toks), ln.gid))
            for t in set(ln.toks):
                bucket = self._tok_lines.get(t)
                if bucket is not None:
                    bucket.discard(ln.gid)
                    if not bucket:
                        del self._tok_lines[t]
                        self._tokens.discard(t)
        self._df.subtract(fl.df)
        self._n_win -= len(fl.lines)
        self._total_wlen -= fl.wlen

    # -- queries -----------------------------------------------------------------------------------

    def candidates(self, current: FileLines, line_no: int, cursor_prefix: str,
                   limit: int | None = None) -> tuple[int | None, list[Candidate]]:
        """Visible lines continuing `cursor_prefix`: level 0 (line starts with the typed text),
        else back-off to lines holding the last k = 3, 2, 1 typed tokens. The current file comes
        from `current` (its lines before `line_no`), never from the store. Preference order:
        same file nearest first, then store order."""
        typed = cursor_prefix.lstrip()
        with self._lock:
            own = [ln for ln in current.lines if ln.line_no < line_no]
            if typed:
                n = len(typed)
                out = [Candidate(ln, ln.text[n:], 0) for ln in own
                       if ln.text.startswith(typed) and ln.text[n:].strip()]
                out.reverse()  # nearest first
                lo = self._sorted.bisect_left((typed,))
                hi = self._sorted.bisect_left((typed + _PREFIX_END,))
                for text, gid in self._sorted.islice(lo, hi):
                    ln = self._by_gid[gid]
                    if ln.path != current.path and text[n:].strip():
                        out.append(Candidate(ln, text[n:], 0))
                if out:
                    return 0, self._order(out, current.path, limit)
            toks = tokens(typed)
            for k in range(min(MAX_BACKOFF, len(toks)), 0, -1):
                anchor = toks[-k:]
                out = [c for c in (self._anchor(ln, anchor, k) for ln in reversed(own)) if c]
                rare = min(anchor, key=lambda t: len(self._tok_lines.get(t, ())))
                for gid in sorted(self._tok_lines.get(rare, ())):
                    ln = self._by_gid[gid]
                    if ln.path != current.path:
                        cand = self._anchor(ln, anchor, k)
                        if cand:
                            out.append(cand)
                if out:
                    return k, self._order(out, current.path, limit)
            partial = toks[-1] if toks and IDENT_RE.fullmatch(toks[-1]) and typed.endswith(toks[-1]) else ""
            if len(partial) >= PARTIAL_MIN:
                out = self._partial(own, current.path, toks, partial)
                if out:
                    return PARTIAL_LEVEL, self._order(out, current.path, limit)
            return None, []

    def same_shape(self, current: FileLines, line_no: int, cursor_prefix: str) -> list[Candidate]:
        """Lines that start like the typed text with other names in its name slots (`this.maxTimeMS =
        maxTimeMS;` for `this.timeoutMS`), for copy-and-edit: the continuation is the source's, not yet
        renamed. Only when the typed text has a name and something else; lines that start with the
        typed text itself are left out (they are ordinary candidates). Own file nearest first, then
        store order, at most SHAPE_SCAN."""
        typed = cursor_prefix.strip()
        toks = tokens(typed)
        key = shape(toks)
        if len(toks) == 1 and is_name(toks[0]):
            return self._siblings(current, line_no, cursor_prefix, toks[0])
        if len(toks) < 2 or _NAME_SLOT not in key:
            return []
        m = len(toks)
        out: list[Candidate] = []
        with self._lock:
            for ln in reversed([ln for ln in current.lines if ln.line_no < line_no]):
                if len(ln.toks) > m and ln.toks[:m] != toks and shape(ln.toks[:m]) == key:
                    out.append(Candidate(ln, ln.text[ln.ends[m - 1]:], 0))
            for _, gid in self._shapes.irange((key,), (key + _PREFIX_END,)):
                if len(out) >= SHAPE_SCAN:
                    break
                ln = self._by_gid[gid]
                if ln.path != current.path and len(ln.toks) > m and ln.toks[:m] != toks:
                    out.append(Candidate(ln, ln.text[ln.ends[m - 1]:], 0))
        return out

    def _siblings(self, current: FileLines, line_no: int, cursor_prefix: str, name: str) -> list[Candidate]:
        """A lone name typed at the start of a line: the lines above it in its block (same indentation,
        nearest first, up to the line that opens the block) that start with another name, for their
        continuation (`tokenName` under `blockSeparator?: string` -> `?: string`)."""
        indent = cursor_prefix[: len(cursor_prefix) - len(cursor_prefix.lstrip())]
        out: list[Candidate] = []
        for ln in reversed([ln for ln in current.lines if ln.line_no < line_no]):
            raw = current.raw_lines[ln.line_no]
            own = raw[: len(raw) - len(raw.lstrip())]
            if len(own) < len(indent):
                break
            if own != indent or len(ln.toks) < 2 or not is_name(ln.toks[0]) or ln.toks[0] == name:
                continue
            out.append(Candidate(ln, ln.text[ln.ends[0]:], 0))
            if len(out) >= SIBLINGS:
                break
        return out

    def _partial(self, own: list[StoredLine], path: str, toks: list[str], partial: str) -> list[Candidate]:
        """The cursor is inside an identifier: lines with a token that extends it (after the same
        preceding token when there is one); the continuation starts inside that token."""
        before = toks[-2] if len(toks) >= 2 else None
        names = self._tokens.irange(partial, partial + _PREFIX_END)
        gids: set[int] = set()
        for name in itertools.islice(names, PARTIAL_NAMES):
            if name != partial:
                gids |= self._tok_lines.get(name, set())
        found = [ln for ln in reversed(own)] + [self._by_gid[g] for g in sorted(gids)
                                                if self._by_gid[g].path != path]
        out: list[Candidate] = []
        for need_before in ((before,) if before is None else (before, None)):  # same preceding token first
            for ln in found:
                for p, tok in enumerate(ln.toks):
                    if tok != partial and tok.startswith(partial) and (
                            need_before is None or (p > 0 and ln.toks[p - 1] == need_before)):
                        start = ln.ends[p] - len(tok) + len(partial)
                        out.append(Candidate(ln, ln.text[start:], PARTIAL_LEVEL))
                        break
                if len(out) >= PARTIAL_CANDIDATES:
                    break
            if out:
                break
        return out

    @staticmethod
    def _anchor(ln: StoredLine, anchor: list[str], k: int) -> Candidate | None:
        lt = ln.toks
        for p in range(len(lt) - k + 1):
            if lt[p : p + k] == anchor:
                cont = ln.text[ln.ends[p + k - 1] :]
                return Candidate(ln, cont, k) if cont.strip() else None
        return None

    @staticmethod
    def _order(cands: list[Candidate], path: str, limit: int | None) -> list[Candidate]:
        own = [c for c in cands if c.line.path == path]
        rest = sorted((c for c in cands if c.line.path != path), key=lambda c: c.line.gid)
        out = own + rest
        return out[:limit] if limit else out

    def score_bm25(self, cands: Iterable[Candidate], query: dict[str, int], exclude_path: str) -> None:
        """Set each candidate's BM25 score of its window against `query` (k1 = 1.2, b = 0.75);
        document frequencies leave out `exclude_path` (the file being edited)."""
        with self._lock:
            skip = self._files.get(exclude_path)
            n_eff = max(1, self._n_win - (len(skip.lines) if skip else 0))
            avgdl = max(1e-9, (self._total_wlen - (skip.wlen if skip else 0)) / n_eff)
            idf = {}
            for t in query:
                df = self._df.get(t, 0) - (skip.df.get(t, 0) if skip else 0)
                idf[t] = math.log(1.0 + (n_eff - df + 0.5) / (df + 0.5))
        terms = list(idf.items())
        for c in cands:
            w = c.line.window
            norm_len = K1 * (1 - B + B * c.line.wlen / avgdl)
            score = 0.0
            for t, wt in terms:
                tf = w.get(t)
                if tf:
                    score += wt * tf * (K1 + 1) / (tf + norm_len)
            c.bm25 = score

    def extends(self, prefix: str) -> bool:
        """Whether some indexed identifier is longer than `prefix` and starts with it."""
        with self._lock:
            return any(name != prefix for name in itertools.islice(self._tokens.irange(prefix, prefix + _PREFIX_END), 2))

    def written_elsewhere(self, name: str, path: str) -> bool:
        """Whether some indexed line of a file other than `path` contains the token `name`."""
        with self._lock:
            return any(self._by_gid[g].path != path for g in self._tok_lines.get(name, ()) if g in self._by_gid)

    def lines_of(self, path: str) -> Iterator[StoredLine]:
        fl = self._files.get(path)
        return iter(fl.lines if fl else ())

    def line(self, gid: int) -> StoredLine | None:
        return self._by_gid.get(gid)
