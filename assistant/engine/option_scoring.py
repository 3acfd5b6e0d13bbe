"""Token-head work on options: score the best ones in one batched pass, generate rarely.

Scoring reads the option's tokens from the cursor's state when the cursor sits at a token boundary; an
option that would merge with the typed text into one token is scored as the whole line instead, with
the typed part's log-probability removed so both kinds share one scale. Generation heals a partial word
the same way: with the cursor inside a word it starts before the word and must spell it first (`obs|`
-> `observable(`), instead of continuing after a token the word was cut into.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

from assistant.config import CompletionConfig
from assistant.engine.candidates import TRAILING_NAME_RE, Candidate, StoredLine, is_word_char, normalize
from assistant.engine.context import CursorContext
from assistant.engine.features import Option, in_word
from assistant.model.decoder import ContextState
from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.tokenizer import TypeScriptTokenizer

CURSOR_TOKENS = 48
"""Room kept in the model window for the cursor line and a candidate."""
GENERATE_TOKENS = 8
HEAL_CHARS = 48
"""Longest partial word healed (re-spelt token by token); a longer run of word characters is no name
being typed, and generation goes on after it."""


class OptionDecoder:
    def __init__(self, model: UltraEfficientTextJEPA, tokenizer: TypeScriptTokenizer, config: CompletionConfig) -> None:
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self._stops: frozenset[int] | None = None
        self._prefixes: TokenPrefixes | None = None

    def score(self, state: ContextState, cursor: ContextState, ctx: CursorContext,
              options: list[Option]) -> None:
        """Token-head log-probability of each of the best options followed by a newline.

        Scored from the cursor's state (only the option's own tokens) when the cursor sits at a token
        boundary; an option that would merge with the typed text into one token (the cursor inside an
        identifier) is scored as the whole line from the line's start instead."""
        if not options or self.config.scored_candidates == 0:
            return
        prelim = sorted(options, key=lambda o: -(max(c.bm25 for c in o.sources) + 2.0 * len(o.sources) ** 0.5
                                                 + (3.0 if o.kind == "generated" else 0.0)))
        chosen = prelim[: self.config.scored_candidates]
        typed_word = in_word(ctx.cursor_prefix)
        at_cursor = [o for o in chosen if not (typed_word and o.text and is_word_char(o.text[0]))]
        whole_line = [o for o in chosen if o not in at_cursor]
        if at_cursor:
            seqs = [self.tokenizer.encode(o.text + "\n")[:CURSOR_TOKENS] for o in at_cursor]
            sums, lengths = self.model.score_continuations(cursor, seqs)
            for o, s, n in zip(at_cursor, sums.tolist(), lengths.tolist(), strict=True):
                o.lm_sum, o.lm_mean = s, s / max(1, n)
        if whole_line:
            lead = "\n" if ctx.prefix_text else ""
            typed = self.tokenizer.encode(lead + ctx.cursor_prefix)
            seqs = [self.tokenizer.encode(lead + ctx.cursor_prefix + o.text + "\n")[: CURSOR_TOKENS * 2]
                    for o in whole_line]
            sums, lengths = self.model.score_continuations(state, [typed, *seqs])  # one pass, the typed part too
            typed_logprob = float(sums[0]) if typed else 0.0
            sums, lengths = sums[1:], lengths[1:]
            for o, s, n in zip(whole_line, sums.tolist(), lengths.tolist(), strict=True):
                # same scale as the options scored at the cursor: the typed part's share removed
                own = max(1, n - len(typed))
                o.lm_sum, o.lm_mean = s - typed_logprob, (s - typed_logprob) / own

    @staticmethod
    def should_generate(options: list[Option]) -> bool:
        """Generate rarely: only when copying offers nothing that starts with what is typed."""
        return not any(min(c.level for c in o.sources) == 0 for o in options)

    def generate(self, cursor: ContextState, ctx: CursorContext,
                 before_word: Callable[[int], ContextState] | None = None) -> Option | None:
        """A short greedy continuation of the cursor line (finish an identifier or argument list).

        With the cursor inside a word and `before_word` (n -> the state of the line without its last n
        characters), the generation starts before the word and spells it first (healing)."""
        heal = self._partial_token(ctx.cursor_prefix) if before_word is not None else ""
        if heal:
            tokens, mean = self.model.generate(before_word(len(heal)), GENERATE_TOKENS,  # type: ignore[misc]
                                               stop=self._stop_ids(), must_start=heal, healer=self._healer())
            text = self.tokenizer.decode(tokens)
            if not text.startswith(heal):
                return None
            text = text[len(heal):]
        else:
            tokens, mean = self.model.generate(cursor, GENERATE_TOKENS, stop=self._stop_ids())
            text = self.tokenizer.decode(tokens)
        text = text.split("\n", 1)[0]
        key = normalize(text)
        if not key:
            return None
        stored = StoredLine(-1, "", -1, (ctx.cursor_prefix + text).strip(), [], [], {}, 0)
        opt = Option(text, key, [Candidate(stored, text, 3, 0.0)], kind="generated")
        opt.lm_mean = mean
        return opt

    def _partial_token(self, typed: str) -> str:
        """With the cursor inside a word: the typed text from the start of the token that word begins in
        (`' ob'` + `'s'` for `= obs`: the space belongs to the word's first token), else ''."""
        word = TRAILING_NAME_RE.search(typed[-(HEAL_CHARS + 1):])
        if word is None or len(word.group()) > HEAL_CHARS:
            return ""
        typed = typed[-(HEAL_CHARS + 1):]
        line = "\n" + typed
        at = word.start() + 1
        _, offsets = self.tokenizer.encode_with_offsets(line)
        start = next((a for a, b in offsets if b > at), at)
        return line[start:] if 1 <= start <= at else ""

    def _healer(self) -> TokenPrefixes:
        if self._prefixes is None:
            self._prefixes = TokenPrefixes([self.tokenizer.token_text(t) if t not in self.tokenizer.special_ids else ""
                                            for t in range(self.tokenizer.vocab_size)])
        return self._prefixes

    def _stop_ids(self) -> frozenset[int]:
        cached = self._stops
        if cached is None:
            stops = {self.tokenizer.eos_id, *self.tokenizer.special_ids}
            for tid in range(self.tokenizer.vocab_size):
                if "\n" in self.tokenizer.token_text(tid):
                    stops.add(tid)
            cached = self._stops = frozenset(stops)
        return cached



class TokenPrefixes:
    """The vocabulary by text, for healing: `self(need)` -> the tokens that agree with the text `need`
    must start with, as (token id, characters of `need` covered): the tokens spelling a prefix of it,
    and those that start with all of it and run on."""

    def __init__(self, texts: list[str]) -> None:
        self.by_text = {t: i for i, t in enumerate(texts) if t}
        self.sorted = sorted(self.by_text)

    def __call__(self, need: str) -> list[tuple[int, int]]:
        out = [(self.by_text[need[:n]], n) for n in range(1, len(need)) if need[:n] in self.by_text]
        at = bisect.bisect_left(self.sorted, need)
        while at < len(self.sorted) and self.sorted[at].startswith(need):
            out.append((self.by_text[self.sorted[at]], len(need)))
            at += 1
        return out

