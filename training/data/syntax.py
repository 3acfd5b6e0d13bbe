"""What training needs from tree-sitter: function bodies (signature → body view), documented
definitions (JSDoc/comment → implementation pairs) and error counts (the syntax eval suite).

Offsets returned are *character* offsets into the Python string (tree-sitter works in UTF-8 bytes).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from itertools import accumulate

import tree_sitter

from indexer.languages import grammar_name, parser

FUNCTION_TYPES = frozenset({"function_declaration", "generator_function_declaration", "method_definition",
                            "arrow_function", "function_expression"})
DEFINITION_TYPES = frozenset({"function_declaration", "generator_function_declaration", "method_definition",
                              "class_declaration", "abstract_class_declaration", "lexical_declaration"})
MAX_BODY_CHARS = 800
"""Only the start of a body is a target: the first ~800 characters are more than any target holds."""
MAX_DEFINITION_LINES = 60
"""Mined implementations longer than this are skipped (the sequence could not hold them)."""

_JSDOC_TAG = re.compile(r"^\s*@(param|returns?|throws|example|see|since|category|deprecated|internal|"
                        r"template|typeParam|default|experimental|beta|alpha|public|private)\b")


@dataclass(frozen=True, slots=True)
class Body:
    brace: int
    """Character offset of the body's `{` (the end of the signature)."""
    text: str
    """The start of the body, without the braces, stripped."""


@dataclass(frozen=True, slots=True)
class Documented:
    comment: str
    """The comment as an instruction: markers removed, @tags after the description dropped."""
    code: str
    """The definition's text (signature and body)."""
    line: int


class CharOffsets:
    """Maps UTF-8 byte offsets of a text to character offsets (identity for ASCII)."""

    def __init__(self, text: str) -> None:
        self.ascii = text.isascii()
        self._ends = [] if self.ascii else list(accumulate(len(ch.encode("utf-8")) for ch in text))

    def __call__(self, byte: int) -> int:
        return byte if self.ascii else bisect.bisect_right(self._ends, byte)


def parse(text: str, path: str = "x.ts") -> tuple[tree_sitter.Tree, bytes]:
    """Parse with the grammar of `path`'s extension (TypeScript unless .tsx)."""
    data = text.encode("utf-8")
    return parser(grammar_name(path) or "typescript").parse(data), data


def _walk(node: tree_sitter.Node, types: frozenset[str]) -> list[tree_sitter.Node]:
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if current.type in types:
            found.append(current)
        stack.extend(reversed(current.children))
    return found


def function_bodies(text: str, path: str = "x.ts") -> list[Body]:
    """Every function/method/arrow body in `text` with a block body, in source order."""
    tree, data = parse(text, path)
    to_char = CharOffsets(text)
    bodies = []
    for fn in _walk(tree.root_node, FUNCTION_TYPES):
        body = fn.child_by_field_name("body")
        if body is None or body.type != "statement_block":
            continue
        inner = data[body.start_byte + 1 : min(body.end_byte - 1, body.start_byte + 1 + MAX_BODY_CHARS)]
        start = inner.decode("utf-8", errors="ignore").strip()
        if start:
            bodies.append(Body(to_char(body.start_byte), start))
    bodies.sort(key=lambda b: b.brace)
    return bodies


def clean_comment(raw: str) -> str:
    """A JSDoc or `//` comment as plain text: markers and leading `*` removed, tags after the description dropped."""
    lines = []
    for line in raw.splitlines():
        line = line.strip()
        line = re.sub(r"^(/\*\*?|\*/|\*|//+)", "", line).removesuffix("*/").strip()
        if _JSDOC_TAG.match(line):
            break
        lines.append(line)
    return re.sub(r"\n{2,}", "\n", "\n".join(lines)).strip()


def _definition(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The definition a comment documents: the node itself or the declaration inside an export."""
    if node.type == "export_statement":
        inner = node.child_by_field_name("declaration")
        return node if inner is not None and inner.type in DEFINITION_TYPES else None
    return node if node.type in DEFINITION_TYPES else None


def _is_function_like(node: tree_sitter.Node) -> bool:
    if node.type == "lexical_declaration" or (node.type == "export_statement" and
                                              any(c.type == "lexical_declaration" for c in node.children)):
        return bool(_walk(node, frozenset({"arrow_function", "function_expression"})))
    return True


def documented_definitions(text: str, path: str = "x.ts", min_words: int = 3) -> list[Documented]:
    """Definitions (functions, methods, classes, function-valued consts) directly preceded by a comment
    of at least `min_words` words."""
    tree, data = parse(text, path)
    found = []
    for comment in _walk(tree.root_node, frozenset({"comment"})):
        target = comment.next_named_sibling
        if target is None or target.start_point[0] - comment.end_point[0] > 1:
            continue
        definition = _definition(target)
        if definition is None or not _is_function_like(definition):
            continue
        if definition.end_point[0] - definition.start_point[0] > MAX_DEFINITION_LINES:
            continue
        start = comment
        while (start.prev_named_sibling is not None and start.prev_named_sibling.type == "comment"
               and start.prev_named_sibling.end_point[0] == start.start_point[0] - 1
               and data[start.prev_named_sibling.start_byte:].startswith(b"//")):
            start = start.prev_named_sibling  # a run of // lines documents as one comment
        raw = data[start.start_byte : comment.end_byte].decode("utf-8", errors="ignore")
        instruction = clean_comment(raw)
        if len(re.findall(r"[A-Za-z]{2,}", instruction)) < min_words:
            continue
        code = data[definition.start_byte : definition.end_byte].decode("utf-8", errors="ignore")
        found.append(Documented(instruction, code, definition.start_point[0]))
    return found


def error_count(text: str, path: str = "x.ts") -> int:
    """ERROR and MISSING nodes in `text`'s parse tree (0 = parses cleanly)."""
    tree, _ = parse(text, path)
    count, stack = 0, [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            count += 1
        stack.extend(child for child in node.children if child.has_error or child.is_missing)
    return count
