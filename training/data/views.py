"""Phase-1 views of TypeScript: where masking lives. Files are tokenized once, cut into windows at line
boundaries, packed into sequences (`<|file|>path\\n` before each file's tokens), and each sequence
becomes a row with up to `targets_per_sequence` JEPA targets:

  line  prefix → next line: the cursor sits at a random token boundary of line L (the part the user
        already typed, possibly nothing); the target is L's stripped text encoded alone, `<|line|>` first
  body  signature/JSDoc → body: the cursor is the body's `{`; the target is the body's start, `<|span|>` first
  use   declaration → use: a line using a name declared earlier in the window, cursor at its start
  fim   a share of sequences become `<|fim_prefix|> pre <|fim_suffix|> suf <|fim_middle|> mid <|eos|>`;
        the middle (from inside a line to the end of up to `fim_max_lines` lines) is the one target,
        predicted from `<|fim_middle|>`

A token belongs to the line its first character is on, so the newline token ending line L-1 is the
cursor when nothing of line L is typed. All randomness comes from the `rng` passed to `row()`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assistant.tokenizer import TypeScriptTokenizer
from training.config import DataConfig
from training.data.hashing import stable_hash
from training.data.rows import Row
from training.data.sources import Document
from training.data.syntax import function_bodies

FIM_RESERVE = 4
"""Tokens a FIM transform adds (<|fim_prefix|>, <|fim_suffix|>, <|fim_middle|>, <|eos|>): windows leave room."""
TYPED_NOTHING = 0.5
"""Share of line targets whose cursor is at the very start of the line (nothing typed yet)."""

_DECLARATION = re.compile(r"\b(?:const|let|var|function\*?|class|interface|type|enum|namespace)\s+([A-Za-z_$][\w$]*)")
_IMPORTED = re.compile(r"\bimport\s+(?:type\s+)?(?:\*\s+as\s+([A-Za-z_$][\w$]*)|([A-Za-z_$][\w$]*)|\{([^}]*)\})")
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")


@dataclass
class EncodedDoc:
    """A document's tokens with where each line starts, and its function bodies."""

    doc: Document
    header: list[int]
    ids: np.ndarray  # (n,) int32
    line_tok: np.ndarray  # (lines + 1,) int32: first token of each line; line_tok[-1] = n
    line_chars: list[int]  # (lines + 1,) character offset of each line start; last = len(text)
    body_tok: np.ndarray  # (bodies,) int32: token holding each body's `{`
    body_text: list[str]

    def line_text(self, line: int) -> str:
        return self.doc.text[self.line_chars[line] : self.line_chars[line + 1]]


@dataclass(frozen=True, slots=True)
class Segment:
    doc: int
    start: int
    end: int  # token range [start, end) of doc


def encode_document(doc: Document, tokenizer: TypeScriptTokenizer) -> EncodedDoc:
    ids, offsets = tokenizer.encode_with_offsets(doc.text)
    starts = np.fromiter((o[0] for o in offsets), dtype=np.int64, count=len(offsets))
    text = doc.text
    line_chars = [0, *(i + 1 for i, ch in enumerate(text) if ch == "\n" and i + 1 < len(text)), len(text)]
    line_tok = np.searchsorted(starts, np.asarray(line_chars), side="left").astype(np.int32)
    bodies = function_bodies(text, doc.path)
    body_tok = (np.searchsorted(starts, np.asarray([b.brace for b in bodies], dtype=np.int64), side="right") - 1
                ).astype(np.int32)
    header = [tokenizer.file_id, *tokenizer.encode(f"{doc.path}\n")]
    return EncodedDoc(doc, header, np.asarray(ids, dtype=np.int32), line_tok, line_chars, body_tok,
                      [b.text for b in bodies])


def windows(doc: EncodedDoc, budget: int) -> list[tuple[int, int]]:
    """Token ranges of at most `budget` tokens, cut at line starts (mid-line only for a longer line)."""
    n = len(doc.ids)
    cuts = doc.line_tok
    out, start = [], 0
    while start < n:
        limit = start + budget
        i = int(np.searchsorted(cuts, limit, side="right")) - 1
        end = int(cuts[i]) if i >= 0 and cuts[i] > start else min(limit, n)
        out.append((start, end))
        start = end
    return out


def pack(docs: Sequence[EncodedDoc], max_len: int) -> list[tuple[Segment, ...]]:
    """Windows of consecutive documents packed greedily into sequences of at most `max_len - FIM_RESERVE`."""
    room = max_len - FIM_RESERVE
    items: list[tuple[Segment, ...]] = []
    current: list[Segment] = []
    used = 0
    for d, doc in enumerate(docs):
        budget = room - len(doc.header)
        if budget < 8:
            continue  # a path so long it leaves no room for code
        for start, end in windows(doc, budget):
            size = len(doc.header) + end - start
            if current and used + size > room:
                items.append(tuple(current))
                current, used = [], 0
            current.append(Segment(d, start, end))
            used += size
    if current:
        items.append(tuple(current))
    return items


def _declared(line: str) -> set[str]:
    names = set(_DECLARATION.findall(line))
    for star, default, braced in _IMPORTED.findall(line):
        names.update(n for n in (star, default) if n)
        for part in braced.split(","):
            name = part.split(" as ")[-1].strip().removeprefix("type ").strip()
            if _IDENTIFIER.fullmatch(name):
                names.add(name)
    return names


class CodeRows:
    """Phase-1 rows over packed sequences of encoded documents."""

    def __init__(self, docs: list[EncodedDoc], tokenizer: TypeScriptTokenizer, config: DataConfig,
                 max_seq_len: int) -> None:
        self.docs, self.tokenizer, self.config, self.max_seq_len = docs, tokenizer, config, max_seq_len
        self.items = pack(docs, max_seq_len)
        self.kinds = ("line", "body", "use")
        self.weights = (config.line_weight, config.body_weight, config.use_weight)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def num_tokens(self) -> int:
        return sum(seg.end - seg.start + len(self.docs[seg.doc].header) for item in self.items for seg in item)

    # -- the row ----------------------------------------------------------------------------------------

    def row(self, index: int, rng: random.Random) -> Row:
        item = self.items[index]
        tokens: list[int] = []
        offsets = []  # row position of each segment's first code token
        for seg in item:
            doc = self.docs[seg.doc]
            tokens += doc.header
            offsets.append(len(tokens))
            tokens += doc.ids[seg.start : seg.end].tolist()
        lines = [self._lines(seg) for seg in item]
        if rng.random() < self.config.fim_rate:
            fim = self._fim(item, offsets, lines, tokens, rng)
            if fim is not None:
                return fim
        return self._targets(item, offsets, lines, tokens, rng)

    def _lines(self, seg: Segment) -> list[int]:
        """Lines fully inside the segment that make good targets."""
        doc = self.docs[seg.doc]
        lt = doc.line_tok
        lo = int(np.searchsorted(lt, seg.start, side="left"))
        hi = int(np.searchsorted(lt, seg.end, side="right")) - 1
        out = []
        for line in range(lo, min(hi, len(lt) - 1)):
            if lt[line + 1] <= lt[line]:
                continue
            text = doc.line_text(line).strip()
            if len(text) >= self.config.min_target_chars and any(ch.isalnum() for ch in text):
                out.append(line)
        return out

    def _target(self, marker: int, text: str) -> tuple[list[int], int]:
        ids = [marker, *self.tokenizer.encode(text)][: self.config.max_target_tokens]
        return ids, stable_hash(text)

    def _targets(self, item: tuple[Segment, ...], offsets: list[int], lines: list[list[int]],
                 tokens: list[int], rng: random.Random) -> Row:
        pools: dict[str, list[tuple[int, int]]] = {"line": [], "body": [], "use": []}
        for s, seg in enumerate(item):
            doc = self.docs[seg.doc]
            pools["line"] += [(s, line) for line in lines[s]]
            in_seg = np.nonzero((doc.body_tok >= seg.start) & (doc.body_tok < seg.end))[0]
            pools["body"] += [(s, int(b)) for b in in_seg]
            if self.config.use_weight > 0:
                pools["use"] += [(s, line) for line in self._uses(seg, lines[s])]
        cursors, targets, hashes = [], [], []
        taken: set[tuple[str, int, int]] = set()
        for _ in range(self.config.targets_per_sequence):
            kinds = [(k, w) for k, w in zip(self.kinds, self.weights, strict=True) if w > 0 and pools[k]]
            if not kinds:
                break
            kind = rng.choices([k for k, _ in kinds], weights=[w for _, w in kinds])[0]
            pool = pools[kind]
            s, what = pool.pop(rng.randrange(len(pool)))
            key = ("body" if kind == "body" else "line", s, what)
            if key in taken:
                continue
            taken.add(key)
            seg, doc = item[s], self.docs[item[s].doc]
            if kind == "body":
                cursor = offsets[s] + int(doc.body_tok[what]) - seg.start
                ids, h = self._target(self.tokenizer.span_id, doc.body_text[what])
            else:
                first = int(doc.line_tok[what])
                n = int(doc.line_tok[what + 1]) - first
                typed = 0 if kind == "use" or n == 1 or rng.random() < TYPED_NOTHING else rng.randrange(1, n)
                cursor = offsets[s] + first - seg.start + typed - 1
                ids, h = self._target(self.tokenizer.line_id, doc.line_text(what).strip())
            cursors.append(cursor)
            targets.append(ids)
            hashes.append(h)
        return Row(tokens, 0, cursors, targets, hashes)

    def _uses(self, seg: Segment, candidates: list[int]) -> list[int]:
        """Candidate lines that use a name declared on an earlier line of the segment."""
        doc = self.docs[seg.doc]
        if not candidates:
            return []
        lt = doc.line_tok
        first = int(np.searchsorted(lt, seg.start, side="left"))
        wanted = set(candidates)
        declared: set[str] = set()
        out = []
        for line in range(first, max(candidates) + 1):
            text = doc.line_text(line)
            if line in wanted and declared:
                names = _declared(text)
                if any(name in declared and name not in names for name in _IDENTIFIER.findall(text)):
                    out.append(line)
            declared |= _declared(text)
        return out

    def _fim(self, item: tuple[Segment, ...], offsets: list[int], lines: list[list[int]], tokens: list[int],
             rng: random.Random) -> Row | None:
        s = max(range(len(item)), key=lambda i: len(lines[i]))
        seg, doc = item[s], self.docs[item[s].doc]
        choices = lines[s][1:]  # keep at least one target-worthy line before the middle
        if not choices:
            return None
        line = rng.choice(choices)
        lt = doc.line_tok
        n = int(lt[line + 1] - lt[line])
        start = int(lt[line]) + (0 if n == 1 else rng.randrange(0, n))
        last_line = min(line + rng.randrange(self.config.fim_max_lines), len(lt) - 2)
        end = min(int(lt[last_line + 1]), seg.end)
        middle_text = self.tokenizer.decode(doc.ids[start:end].tolist()).strip()
        if not middle_text:
            return None
        a, b = offsets[s] + start - seg.start, offsets[s] + end - seg.start
        tok = self.tokenizer
        out = [tok.fim_prefix_id, *tokens[:a], tok.fim_suffix_id, *tokens[b:], tok.fim_middle_id,
               *tokens[a:b], tok.eos_id]
        cursor = 2 + a + len(tokens) - b  # the <|fim_middle|> position
        ids, h = self._target(tok.span_id, middle_text)
        return Row(out, 0, [cursor], [ids], [h])


def encode_documents(docs: list[Document], tokenizer: TypeScriptTokenizer) -> list[EncodedDoc]:
    return [encode_document(d, tokenizer) for d in docs]
