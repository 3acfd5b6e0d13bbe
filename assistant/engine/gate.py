"""What the confidence gate shows: the top option when its calibrated probability clears the threshold;
otherwise the longest start of it that the options together make likely enough.

The ranker's probabilities are of whole lines being exactly right. Typing `getWSConnectionHa`, no single
line may clear the gate while every likely one goes on with `ndler`: the probability that the line starts
with a text is at least the sum over the options that start with it, so that sum may clear the gate for a
shorter suggestion (finish the identifier, the call's name) when no whole line does. Cuts fall between
words, never inside one; a suggestion shorter than MIN_CHARS (non-blank) characters is not worth showing.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.engine.candidates import is_word_char

MIN_CHARS = 2


def word_cuts(text: str) -> list[int]:
    """Lengths at which `text` may be cut without splitting a word, longest first (the whole text too)."""
    return [b for b in range(len(text), 0, -1)
            if b == len(text) or not (is_word_char(text[b - 1]) and is_word_char(text[b]))]


def first_shown(options: Sequence[tuple[str, float]], threshold: float) -> tuple[str, float] | None:
    """What the gate shows first of `options` ((first line, probability), most probable first): the top
    one when it clears `threshold`, else the start of it the options agree on (`sure_prefix`), else None."""
    if options and options[0][1] >= threshold:
        return options[0][0], options[0][1]
    return sure_prefix(options, threshold)


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
