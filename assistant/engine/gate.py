"""What the confidence gate shows: the top option when its calibrated probability clears the threshold;
otherwise the longest start of it that the options together make likely enough.

The ranker's probabilities are of whole lines being exactly right. Typing `getWSConnectionHa`, no single
line may clear the gate while every likely one goes on with `ndler`: the probability that the line starts
with a text is at least the sum over the options that start with it, so that sum may clear the gate for a
shorter suggestion (finish the identifier, the call's name) when no whole line does. Cuts fall between
words, never inside one; a suggestion shorter than MIN_CHARS (non-blank) characters is not worth showing.

Inside a comment or a string literal (`in_prose`) a person writes words nobody can copy, and a wrong guess
there is noise in the middle of a sentence: only a whole line at PROSE_THRESHOLD or above is shown, never
an agreed start.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.engine.candidates import is_word_char

MIN_CHARS = 2
PROSE_THRESHOLD = 0.9
"""The gate inside a comment or a string literal (the workspace's threshold when that is higher)."""


def word_cuts(text: str) -> list[int]:
    """Lengths at which `text` may be cut without splitting a word, longest first (the whole text too)."""
    return [b for b in range(len(text), 0, -1)
            if b == len(text) or not (is_word_char(text[b - 1]) and is_word_char(text[b]))]


def first_shown(options: Sequence[tuple[str, float]], threshold: float, line: str = ""
                ) -> tuple[str, float] | None:
    """What the gate shows first of `options` ((first line, probability), most probable first) with the
    cursor at the end of `line` (its line up to the cursor): the top one when it clears the threshold
    there (`gate_at`), else, where starts are offered, the start of it the options agree on
    (`sure_prefix`), else None."""
    bar, starts = gate_at(line, threshold)
    if options and options[0][1] >= bar:
        return options[0][0], options[0][1]
    return sure_prefix(options, bar) if starts else None


def gate_at(line: str, threshold: float) -> tuple[float, bool]:
    """The gate with the cursor at the end of `line`: (its threshold, whether an agreed start may be
    offered). In a comment or a string: at least PROSE_THRESHOLD, whole lines only."""
    if in_prose(line):
        return max(threshold, PROSE_THRESHOLD), False
    return threshold, True


def in_prose(line: str) -> bool:
    """Whether the cursor at the end of `line` (the text of its line before it) is inside a comment or a
    string literal. One line is read: a line of a block comment is known by its leading `*` (the JSDoc
    style), a template literal opened on an earlier line is not seen; `${…}` inside a template is code."""
    i, n = 0, len(line)
    body = line.lstrip()
    if body.startswith("*") and not body.startswith("*/"):
        end = line.find("*/")
        if end < 0:
            return True
        i = end + 2
    quote: str | None = None
    depth = 0
    templates: list[int] = []  # brace depth at which each open `${` returns to its template literal
    while i < n:
        c = line[i]
        if quote is not None:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = None
            elif quote == "`" and line.startswith("${", i):
                templates.append(depth)
                quote = None
                i += 2
                continue
        elif line.startswith("//", i):
            return True
        elif line.startswith("/*", i):
            end = line.find("*/", i + 2)
            if end < 0:
                return True
            i = end + 2
            continue
        elif c in "'\"`":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            if templates and templates[-1] == depth:
                templates.pop()
                quote = "`"
            else:
                depth -= 1
        i += 1
    return quote is not None


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
