"""Token-head work on options: score the best ones in one batched pass, generate rarely.

Scoring reads the option's tokens from the cursor's state when the cursor sits at a token boundary; an
option that would merge with the typed text into one token is scored as the whole line instead, with
the typed part's log-probability removed so both kinds share one scale.
"""

from __future__ import annotations

from assistant.config import CompletionConfig
from assistant.engine.candidates import Candidate, StoredLine, normalize
from assistant.engine.context import CursorContext
from assistant.engine.features import Option
from assistant.model.decoder import ContextState
from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.tokenizer import TypeScriptTokenizer

CURSOR_TOKENS = 48
"""Room kept in the model window for the cursor line and a candidate."""
GENERATE_TOKENS = 8


class OptionDecoder:
    def __init__(self, model: UltraEfficientTextJEPA, tokenizer: TypeScriptTokenizer, config: CompletionConfig) -> None:
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self._stops: frozenset[int] | None = None

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
        typed_word = bool(ctx.cursor_prefix) and _is_word(ctx.cursor_prefix[-1])
        at_cursor = [o for o in chosen if not (typed_word and o.text and _is_word(o.text[0]))]
        whole_line = [o for o in chosen if o not in at_cursor]
        if at_cursor:
            seqs = [self.tokenizer.encode(o.text + "\n")[:CURSOR_TOKENS] for o in at_cursor]
            sums, lengths = self.model.score_continuations(cursor, seqs)
            for o, s, n in zip(at_cursor, sums.tolist(), lengths.tolist(), strict=True):
                o.lm_sum, o.lm_mean = s, s / max(1, n)
        if whole_line:
            lead = "\n" if ctx.prefix_text else ""
            typed = self.tokenizer.encode(lead + ctx.cursor_prefix)
            typed_logprob = 0.0
            if typed:
                t_sum, _ = self.model.score_continuations(state, [typed])
                typed_logprob = float(t_sum[0])
            seqs = [self.tokenizer.encode(lead + ctx.cursor_prefix + o.text + "\n")[: CURSOR_TOKENS * 2]
                    for o in whole_line]
            sums, lengths = self.model.score_continuations(state, seqs)
            for o, s, n in zip(whole_line, sums.tolist(), lengths.tolist(), strict=True):
                # same scale as the options scored at the cursor: the typed part's share removed
                own = max(1, n - len(typed))
                o.lm_sum, o.lm_mean = s - typed_logprob, (s - typed_logprob) / own

    @staticmethod
    def should_generate(options: list[Option]) -> bool:
        """Generate rarely: only when copying offers nothing that starts with what is typed."""
        return not any(min(c.level for c in o.sources) == 0 for o in options)

    def generate(self, cursor: ContextState, ctx: CursorContext) -> Option | None:
        """A short greedy continuation of the cursor line (finish an identifier or argument list)."""
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

    def _stop_ids(self) -> frozenset[int]:
        cached = self._stops
        if cached is None:
            stops = {self.tokenizer.eos_id, *self.tokenizer.special_ids}
            for tid in range(self.tokenizer.vocab_size):
                if "\n" in self.tokenizer.token_text(tid):
                    stops.add(tid)
            cached = self._stops = frozenset(stops)
        return cached



def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"
