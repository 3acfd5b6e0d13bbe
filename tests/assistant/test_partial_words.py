"""The cursor inside a word: the ranker is told so, and generation heals the partial token."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from assistant.checkpoints import load_checkpoint
from assistant.config import CompletionConfig
from assistant.engine.candidates import Candidate, StoredLine
from assistant.engine.features import INDEX, TASK_FEATURES, Option, task_features, word_features
from assistant.engine.option_scoring import OptionDecoder, TokenPrefixes


def _option(text: str) -> Option:
    line = StoredLine(0, "a.ts", 0, text, [], [], {}, 0)
    return Option(text, text.strip(), [Candidate(line, text, 0, 1.0)])


def test_the_ranker_sees_whether_the_cursor_is_in_a_word_and_which_options_go_on_with_it() -> None:
    options = [_option("ervable(x);"), _option(" as any;")]
    word_features(options, "  const state = obs")
    assert [o.features[INDEX["continues_word"]] for o in options] == [1.0, 0.0]
    assert task_features(options, "  const state = obs")[TASK_FEATURES.index("in_word")] == 1.0
    after_space = [_option("observable(x);")]
    word_features(after_space, "  const state = ")
    assert after_space[0].features[INDEX["continues_word"]] == 0.0
    assert task_features(after_space, "  const state = ")[TASK_FEATURES.index("in_word")] == 0.0


def test_token_prefixes_agree_with_the_text_a_continuation_must_start_with() -> None:
    heal = TokenPrefixes(["", " ", " o", " ob", " obs", " observable", " other", "s", "x"])
    got = {(t, n) for t, n in heal(" obs")}
    # prefixes of the text cover part of it; tokens that start with all of it cover it all
    assert got == {(1, 1), (2, 2), (3, 3), (4, 4), (5, 4)}
    assert heal("zz") == []


def test_generation_inside_a_word_restarts_at_its_first_token_and_spells_it(tiny_checkpoint: Path) -> None:
    ckpt = load_checkpoint(tiny_checkpoint)
    decoder = OptionDecoder(ckpt.model, ckpt.tokenizer, CompletionConfig())
    heal = decoder._partial_token("  const state = obs")
    assert heal.endswith("obs") and heal.strip() == "obs"
    assert decoder._partial_token("  const state = ") == ""
    text = "const observable = 1;\nfunction f() {\n  const state = obs"
    with torch.inference_mode():
        state = ckpt.model.run_context(ckpt.tokenizer.encode(text[: len(text) - len(heal)]))
        tokens, _ = ckpt.model.generate(state, 4, must_start=heal, healer=decoder._healer())
    assert ckpt.tokenizer.decode(tokens).startswith(heal)
    # the healing tokens do not count against the budget of new ones
    assert len(tokens) >= 4


def test_the_gate_shows_the_start_the_candidates_agree_on_when_no_whole_line_clears_it() -> None:
    from assistant.engine.gate import sure_prefix, word_cuts

    assert word_cuts("ndler(opts);") == [12, 11, 10, 6, 5]
    options = [("ndler(opts);", 0.3), ("ndler<TRouter>({", 0.25), ("ndle;", 0.2), ("sh(x);", 0.1)]
    # no line clears 0.5; 'ndler' starts two of them (0.55), then 'ndler(' only one
    assert sure_prefix(options, 0.5) == ("ndler", 0.55)
    assert sure_prefix(options, 0.3) == ("ndler(opts);", 0.3)
    assert sure_prefix(options, 0.9) is None, "never cut inside a word: 'ndle' is no start to offer"
    assert sure_prefix([(" x", 0.2), (" x.y", 0.5)], 0.6) is None, "one character is not worth showing"
    assert sure_prefix([], 0.4) is None


def test_the_engine_offers_the_agreed_start_through_its_gate(runtime) -> None:  # type: ignore[no-untyped-def]
    """End to end: whatever the engine shows is either a whole candidate clearing the gate or a start of
    the top candidate whose candidates together clear it, never a line below it."""
    from assistant.types import CompletionRequest

    completer = runtime.parts.completer
    text = 'import { add, origin } from "./point";\n\nexport function g() {\n  const p = add('
    for column in range(len("  const p = "), len("  const p = add(") + 1):
        request = CompletionRequest(text[: text.rindex("\n") + 1 + column], 3, column, "src/g.ts")
        everything = completer.complete(CompletionRequest(request.text, 3, column, "src/g.ts", use_gate=False,
                                                          max_items=64, multiline=False))
        shown = completer.complete(request)
        threshold = completer.config.miras_confidence_threshold
        assert completer.explain(request).decision.startswith("shown") == bool(shown.items)
        for item in shown.items:
            assert item.shown and item.confidence >= threshold
            whole = [c for c in everything.items if c.text.split("\n")[0] == item.text.split("\n")[0]]
            if not whole:
                starts = sum(c.confidence for c in everything.items if c.text.startswith(item.text))
                assert starts == pytest.approx(item.confidence, abs=1e-3)
