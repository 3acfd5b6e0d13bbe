"""Consecutive keystrokes on one line reuse the previous one's work (the model's state of the text above
the line, HopRAG results) and answer exactly as a fresh engine would."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from assistant.engine.pipeline import Analysis, Completer
from assistant.types import CompletionRequest, CompletionResult

ABOVE = """import { add, origin } from "./point";
import { Circle, distance } from "./shapes";

export function twice(): number {
  const p = add(origin, { x: 1, y: 2 });
  const c = new Circle(2);
"""
INDENT, LINE = "  ", "return distance(p, origin) + c.area();"
BELOW = "\n}\n"
PATH = "src/typing.ts"


def _request(above: str, typed: str, fim: bool) -> CompletionRequest:
    text = above + INDENT + typed + BELOW
    return CompletionRequest(text, above.count("\n"), len(INDENT) + len(typed), PATH, fill_in_middle=fim,
                             use_gate=False, max_items=8, multiline=False)


def _clear(completer: Completer) -> None:
    """An engine that kept nothing from the line's earlier keystrokes. (Line latents stay: encoded in
    another batch, a line's latent differs in the third decimal — a cache older than the keystroke reuse,
    shared by both sides here.)"""
    completer.clear_caches()
    completer.contexts._cache.clear()


def _ask(completer: Completer, request: CompletionRequest) -> tuple[CompletionResult, Analysis]:
    """What the surfaces get, and the unrounded signals behind it (a state reused wrongly shows there
    first: the tiny model's scores barely move a rounded confidence)."""
    return completer.complete(request), completer.analyse(request, keep=True)


def _assert_same(typed: tuple[CompletionResult, Analysis], fresh: tuple[CompletionResult, Analysis],
                 where: str) -> None:
    a, b = [(c.text, c.confidence, c.shown) for c in typed[0].items], [(c.text, c.confidence, c.shown)
                                                                        for c in fresh[0].items]
    assert [(t, s) for t, _, s in a] == [(t, s) for t, _, s in b], where
    for (_, p, _), (_, q, _) in zip(a, b, strict=True):
        assert p == pytest.approx(q, abs=1e-6), where
    x, y = typed[1], fresh[1]
    assert [o.text for o in x.options] == [o.text for o in y.options], where
    for o, f in zip(x.options, y.options, strict=True):
        assert (o.lm_sum, o.titans, o.recall) == pytest.approx((f.lm_sum, f.titans, f.recall), abs=1e-6), where
        np.testing.assert_allclose(o.features, f.features, atol=1e-6, err_msg=where)
    np.testing.assert_allclose(x.probabilities, y.probabilities, atol=1e-6, err_msg=where)
    assert x.hop.hops == y.hop.hops, where


def _count_context_runs(completer: Completer, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Model runs over a context made by this thread (the workspace's adaptation runs its own)."""
    runs: list[int] = []
    run_context = completer.model.run_context
    me = threading.get_ident()

    def spy(ids: list[int], *args: Any, **kw: Any) -> Any:
        if threading.get_ident() == me:
            runs.append(len(ids))
        return run_context(ids, *args, **kw)

    monkeypatch.setattr(completer.model, "run_context", spy)
    return runs


@pytest.mark.parametrize("fim", [False, True])
def test_each_keystroke_answers_as_a_fresh_engine(runtime: Any, monkeypatch: pytest.MonkeyPatch, fim: bool) -> None:
    completer: Completer = runtime.parts.completer
    runs = _count_context_runs(completer, monkeypatch)
    typed = [_ask(completer, _request(ABOVE, LINE[:k], fim)) for k in range(len(LINE) + 1)]  # key by key
    if not fim:  # the text above the line was run once for the whole line (FIM: the suffix changes too)
        assert len(runs) == 1
    assert any(result.items for result, _ in typed)
    assert any(a.hop.hops for _, a in typed)
    for k, answer in enumerate(typed):
        _clear(completer)
        _assert_same(answer, _ask(completer, _request(ABOVE, LINE[:k], fim)), f"after {LINE[:k]!r}")


def test_an_edit_above_the_line_is_not_served_from_the_kept_state(runtime: Any) -> None:
    completer: Completer = runtime.parts.completer
    for k in range(8):
        completer.complete(_request(ABOVE, LINE[:k], False))
    edited = ABOVE.replace("new Circle(2)", "new Circle(3)")
    typed = _ask(completer, _request(edited, LINE[:8], False))
    _clear(completer)
    _assert_same(typed, _ask(completer, _request(edited, LINE[:8], False)), "after an edit above")
    back = _ask(completer, _request(ABOVE, LINE[:9], False))
    _clear(completer)
    _assert_same(back, _ask(completer, _request(ABOVE, LINE[:9], False)), "back to the first text")
