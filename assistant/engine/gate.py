"""What the confidence gate shows: the top option when its calibrated probability clears the threshold;
otherwise the longest start of it that the options together make likely enough.

The ranker's probabilities are of whole lines being exactly right. Typing `getWSConnectionHa`, no single
line may clear the gate while every likely one goes on with `ndler`: the probability that the line starts
with a text is at least the sum over the options that start with it, so that sum may clear the gate for a
shorter suggestion (finish the identifier, the call's name) when no whole line does. Cuts fall between
words, never inside one; a suggestion shorter than MIN_CHARS (non-blank) characters is not worth showing.

Inside a comment or a string literal (`in_prose`) a person writes words nobody can copy, and a wrong guess
there is noise in the middle of a sentence: only a whole line at PROSE_THRESHOLD or above is shown, never
an agreed start. A block comment or a template literal opened on an earlier line is known from the text
above the line (`opened_before`, read once per line: the context caches it with the prefix).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.engine.candidates import is_word_char

MIN_CHARS = 2
PROSE_THRESHOLD = 0.9
"""The gate inside a comment or a string literal (the workspace's threshold when that is higher)."""


def word_cuts(text: str) -> list[int]:
    """Lengths at which `text` may be cut without splitting a word, longest first (the whole text too)."""
    return [b for b in range(len(text), 0, -1)
            if b == len(text) or not (is_word_char(text[b - 1]) and is_word_char(text[b]))]


def first_shown(options: Sequence[tuple[str, float]], threshold: float, line: str = "",
                opened: str | None = None) -> tuple[str, float] | None:
    """What the gate shows first of `options` ((first line, probability), most probable first) with the
    cursor at the end of `line` (its line up to the cursor; `opened`: what the line starts inside of, see
    `opened_before`): the top one when it clears the threshold there (`gate_at`), else, where starts are
    offered, the start of it the options agree on (`sure_prefix`), else None."""
    bar, starts = gate_at(line, threshold, opened)
    if options and options[0][1] >= bar:
        return options[0][0], options[0][1]
    return sure_prefix(options, bar) if starts else None


def gate_at(line: str, threshold: float, opened: str | None = None) -> tuple[float, bool]:
    """The gate with the cursor at the end of `line` (which starts inside `opened`, see `opened_before`):
    (its threshold, whether an agreed start may be offered). In a comment or a string: at least
    PROSE_THRESHOLD, whole lines only."""
    if in_prose(line, opened):
        return max(threshold, PROSE_THRESHOLD), False
    return threshold, True


def in_prose(line: str, opened: str | None = None) -> bool:
    """Whether the cursor at the end of `line` (the text of its line before it) is inside a comment or a
    string literal, the line starting inside `opened` (`opened_before`: "comment", "template" or None for
    code). A line of a block comment is also known by its leading `*` (the JSDoc style), whatever the
    lines above say; `${…}` inside a template is code."""
    i = 0
    body = line.lstrip()
    if opened == COMMENT or (body.startswith("*") and not body.startswith("*/")):
        end = line.find("*/")
        if end < 0:
            return True
        i = end + 2
    return _scan(line[i:], in_template=opened == TEMPLATE) is not None


def opened_before(text: str) -> str | None:
    """What a line that follows `text` (whole lines) starts inside of: COMMENT (a block comment left
    open), TEMPLATE (a template literal left open, outside its `${…}`), or None (code: a line comment or
    a quoted string ends with its line)."""
    state = _scan(text)
    return state if state in (COMMENT, TEMPLATE) else None


COMMENT, TEMPLATE = "comment", "template"
_LINE_COMMENT, _QUOTED = "line comment", "quoted string"
_CODE_MARKS = re.compile(r"//|/\*|['\"`{}]")
_TEMPLATE_MARKS = re.compile(r"\\.|`|\$\{", re.S)
_STRING_REST = {q: re.compile(rf"(?:[^{q}\\\n]|\\.|\\\Z)*({q})?", re.S) for q in "'\""}
"""The rest of a quoted string from after its opening quote: it ends at its quote (group 1) or its line
(an escape may be cut off by the end of the text)."""


def _scan(text: str, in_template: bool = False) -> str | None:
    """What the end of `text` is inside of (`text` starting in code, or inside a template literal): None
    (code), a line comment, COMMENT, a quoted string or TEMPLATE. Line comments and quoted strings end
    with their line; `${…}` inside a template is code up to its matching `}`. A regular expression
    literal is read as code."""
    i, n = 0, len(text)
    depth = 0
    templates: list[int] = []  # brace depth at which each open `${` returns to its template literal
    while i < n:
        if in_template:
            m = _TEMPLATE_MARKS.search(text, i)
            if m is None:
                return TEMPLATE
            i = m.end()
            if m.group() == "`":
                in_template = False
            elif m.group() == "${":
                templates.append(depth)
                in_template = False
            continue
        m = _CODE_MARKS.search(text, i)
        if m is None:
            return None
        mark, i = m.group(), m.end()
        if mark == "//":
            end = text.find("\n", i)
            if end < 0:
                return _LINE_COMMENT
            i = end + 1
        elif mark == "/*":
            end = text.find("*/", i)
            if end < 0:
                return COMMENT
            i = end + 2
        elif mark in "'\"":
            rest = _STRING_REST[mark].match(text, i)
            assert rest is not None  # the pattern matches the empty string
            i = rest.end()
            if rest.group(1) is None and i == n:
                return _QUOTED
        elif mark == "`":
            in_template = True
        elif mark == "{":
            depth += 1
        elif templates and templates[-1] == depth:  # the `}` closing a `${`
            templates.pop()
            in_template = True
        else:
            depth -= 1
    return TEMPLATE if in_template else None


def sure_prefix(options: Sequence[tuple[str, float]], threshold: float) -> tuple[str, float] | None:
    """`options`: (first line of the text, probability), most probable first. -> (the longest word-cut
    start of the top option whose options' summed probability clears `threshold`, that sum), or None."""
    if not options:
        return None
    top = options[0][0]
    for cut in word_cuts(top):
        start = top[:cut]
        if len(start.strip()) < MIN_CHARS:
            break
        mass = sum(p for text, p in options if text.startswith(start))
        if mass >= threshold:
            return start, mass
    return None
