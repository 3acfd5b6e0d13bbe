"""Reliability table and expected calibration error (`training.completion_eval.calibration`), and where
the evals report them: the one-shot eval over its tasks, the replay over its asks."""

from __future__ import annotations

import math

import pytest

from training.completion_eval.calibration import bin_index, format_reliability, reliability
from training.completion_eval.harness import TaskResult, ablation_switches, calibration
from training.completion_eval.replay import ShutkaLine, replay_line
from training.completion_eval.scoring import score


def test_bins_are_equal_width_with_one_in_the_last() -> None:
    assert [bin_index(c) for c in (0.0, 0.05, 0.1, 0.35, 0.999, 1.0)] == [0, 0, 1, 3, 9, 9]
    assert bin_index(-0.2) == 0 and bin_index(1.5) == 9


def test_counts_means_and_ece_by_hand() -> None:
    # bin 1: conf 0.1, 0.1 with 0 of 2 right; bin 8: conf 0.82, 0.88, 0.85, 0.85 with 3 of 4 right
    rel = reliability([(0.1, False), (0.1, False), (0.82, True), (0.88, True), (0.85, True), (0.85, False)])
    assert rel.n == 6 and len(rel.bins) == 10
    low, high = rel.bins[1], rel.bins[8]
    assert (low.count, high.count) == (2, 4) and sum(b.count for b in rel.bins) == 6
    assert low.confidence == pytest.approx(0.1) and low.accuracy == 0.0
    assert high.confidence == pytest.approx(0.85) and high.accuracy == 0.75
    assert rel.ece == pytest.approx(2 / 6 * 0.1 + 4 / 6 * 0.1)
    assert rel.confidence == pytest.approx(3.6 / 6) and rel.accuracy == pytest.approx(0.5)
    assert math.isnan(rel.bins[0].confidence) and rel.bins[0].count == 0


def test_perfectly_calibrated_points_have_zero_ece() -> None:
    points = [(0.25, i < 1) for i in range(4)] + [(0.75, i < 3) for i in range(4)]
    assert reliability(points).ece == pytest.approx(0.0)


def test_always_wrong_at_full_confidence_has_ece_one() -> None:
    assert reliability([(1.0, False)] * 3).ece == pytest.approx(1.0)


def test_no_points() -> None:
    rel = reliability([])
    assert rel.n == 0 and math.isnan(rel.ece)
    assert "ECE nan" in format_reliability(rel, "empty")


def test_json_and_text_carry_every_bin() -> None:
    rel = reliability([(0.05, True), (0.95, False)])
    js = rel.to_json()
    assert js["n"] == 2 and len(js["bins"]) == 10 and js["bins"][9]["count"] == 1  # type: ignore[index]
    assert js["ece"] == pytest.approx(0.95)
    text = format_reliability(rel, "t")
    assert "[0.0, 0.1)" in text and "[0.9, 1.0]" in text and "ECE 95.0 pts" in text


def _result(conf: float, em: bool, shown: bool, n_options: int = 3) -> TaskResult:
    target = "return x;"
    return TaskResult("id", "p", target if em else "return y;", conf, shown, score(target if em else "return y;", target),
                      1.0, em, n_options)


def test_one_shot_calibration_uses_the_top_candidate_of_tasks_with_one() -> None:
    results = [_result(0.9, True, True), _result(0.2, False, False), _result(0.0, False, False, n_options=0)]
    rel = calibration(results)
    assert rel.n == 2 and rel.accuracy == 0.5
    shown = calibration(results, shown_only=True)
    assert shown.n == 1 and shown.ece == pytest.approx(0.1)


class _Facade:
    """A facade whose top completion is scripted by the typed text's length (after the indentation)."""

    def __init__(self, script: dict[int, tuple[str, float, bool]]) -> None:
        self.script = script

    def complete(self, request):  # type: ignore[no-untyped-def]
        from assistant.types import Completion, CompletionResult

        k = request.column - 4
        if k not in self.script:
            return CompletionResult((), "r", 0.0)
        text, conf, shown = self.script[k]
        return CompletionResult((Completion(text, conf, "f.ts:1", "copy", shown),), "r", 0.0)


def test_replay_points_judge_exactly_the_rest_of_the_line() -> None:
    from training.completion_eval.replay import Latencies
    from training.completion_eval.tasks import Task

    body = "return x;"
    task = Task("p/f.ts:2", "p", "f.ts", 1, "function f() {\n", "    ", body, "}\n")
    # k=0: wrong and hidden; k=1: a correct strict prefix (partial, not "right"), shown; k=4: exact, shown
    # (the gate, at 0.5, is the replay's: the facade is asked ungated)
    facade = _Facade({0: ("const", 0.3, False), 1: ("et", 0.6, True), 4: ("rn x;", 0.9, True)})
    line = ShutkaLine(facade, task, Latencies(), threshold=0.5)
    replay_line(line.body, line.gated)
    replay_line(line.body, line.ungated)
    assert line.shown_points == [(0.6, False), (0.9, True)]
    assert line.top_points == [(0.3, False), (0.6, False), (0.9, True)]


def test_ablation_switches() -> None:
    sw = ablation_switches(no_decoding=True)
    assert not sw.decoding and not sw.generation and sw.latent and sw.hoprag
    assert not ablation_switches(no_generation=True).generation and ablation_switches(no_generation=True).decoding
    assert not ablation_switches(no_latent=True).latent
