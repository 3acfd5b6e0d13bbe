"""Typing replay (`shutka eval replay`): each task's line is typed from its indentation, one character
at a time, and the engine is asked after every keystroke, as an editor asks for ghost text.

The line and what counts
    line      `cursor_prefix + target` of the task; its indentation is there already (the editor
              put it there on Enter); `body` = the rest, trailing blanks dropped. `chars` = len(body).
    ask       after every keystroke (the Enter that opened the line, each typed character, each Tab
              that accepted a suggestion) the engine is asked once; `keystrokes` = asks.
    shown     a suggestion: the engine's first completion when its `shown` is true (the confidence
              gate), first line only. Baseline A shows its pick (ungated) or its pick when its BM25
              score clears a threshold (gated, "A-gated"). Empty or blank suggestions count as none.
    exact     typed + suggestion equals the whole line after whitespace normalisation (the one-shot
              EM rule; joining words, as in `return` + `x;`, does not match): accepted, the rest of
              the line counts as saved, the line is finished by a suggestion.
    partial   the suggestion is a strict prefix of the rest of the line (character for character,
              not blank): accepted too — a person takes it with Tab and keeps typing, as with a
              short generated continuation. Its characters count as saved; the next ask follows the
              accepted text. Counted apart (`partial`), never as wrong.
    wrong     any other shown suggestion (every keystroke it is shown on counts).
    kept      a wrong suggestion whose first character is the one the user types next stays on
              screen, less that character, without asking the engine (as the language server keeps
              its ghost text: no flicker); it is judged again at the next keystroke like any other.
Figures: saved % = saved characters / characters of all lines (after their indentation); finished %
= lines whose end came from an accepted suggestion; wrong per 100 keystrokes. The same rules hold
for Shutka, Shutka without its gate, A, A-gated and, through `lsp.bench --replay`, the language server.

Copy-only ceiling: a perfect ranker and gate over exact copies of visible lines — at each keystroke,
if a candidate line's continuation (the candidates of baselines A/B: the visible lines continuing the
typed text, with their back-off) is exact, it is accepted. It takes no partial accepts, so an engine
that generates short continuations can go past it.

Visibility is the one-shot eval's (`harness`): the package's other files fully, the task's own file
only before the line (plus what is typed); the engine ignores the indexed copy of the current file,
and with `--saved-as-visible` the index holds that file as it stands at the line too.
Latency per ask: the engine's own time (`CompletionResult.latency_ms`) and the wall time of the
facade call, median and p95 over the asks actually made.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click

from training.completion_eval.ablation_flags import ablation_options, saved_as_visible_option, task_options
from training.completion_eval.scoring import percentile
from training.completion_eval.tasks import Task

A_THRESHOLD = 80.0
"""Baseline A's gate: its pick is shown when the pick's BM25 score is at least this. Chosen on dev
(`shutka eval replay --sweep` on dev.tasks.jsonl, --limit 20 per package, 120 lines): the lowest
threshold of SWEEP whose wrong suggestions per 100 keystrokes come down to Shutka's own rate as shipped
(gate 0.66, token head off, wrong suggestions kept while typed through), 2.9 (A at 70: 3.5, at 80: 2.4),
so that the two are compared at about the same noise."""
SWEEP = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 50.0, 60.0, 70.0, 80.0, 100.0)
GATE_SWEEP = (0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.62, 0.64, 0.66, 0.68, 0.7, 0.75, 0.8, 0.9)
"""Shutka's gate thresholds replayed with `--sweep` (the asks are the same: only what is shown changes)."""
ENGINES = ("shutka", "shutka_ungated", "A", "A_gated", "ceiling")
CANDIDATES = 64
"""Candidates asked for at each position (all of them: the gate's rule sums their probabilities)."""
Suggest = Callable[[int], "str | None"]
"""position in the line's body (characters typed after the indentation) -> the suggestion shown, or None."""


def normalize(text: str) -> str:
    return " ".join(text.split())


# -- one line ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class LineReplay:
    """What typing one line with one engine came to."""

    chars: int
    saved: int = 0
    saved_partial: int = 0
    """Of `saved`, characters that came from partial (prefix) accepts."""
    finished: bool = False
    keystrokes: int = 0
    wrong: int = 0
    partial: int = 0
    """Partial accepts."""


class Typist:
    """Types `body` (the line after its indentation): `position` is where the next ask happens; feed
    each ask's suggestion to `see`, until `done`."""

    def __init__(self, body: str, partial: bool = True) -> None:
        self.body, self.partial_ok = body, partial
        self.position = 0
        self.result = LineReplay(len(body))

    @property
    def done(self) -> bool:
        return self.result.finished or self.position >= len(self.body)

    def see(self, suggestion: str | None) -> str | None:
        """The suggestion shown at `position`; advances. -> 'exact', 'partial', 'wrong' or None."""
        r, k, body = self.result, self.position, self.body
        r.keystrokes += 1
        verdict = judge(body[:k], body[k:], suggestion, self.partial_ok)
        if verdict == "exact":
            r.saved += len(body) - k
            r.finished = True
        elif verdict == "partial":
            assert suggestion is not None
            r.saved += len(suggestion)
            r.saved_partial += len(suggestion)
            r.partial += 1
            self.position += len(suggestion)
        else:
            r.wrong += verdict == "wrong"
            self.position += 1  # the user types the next character
        return verdict


def judge(typed: str, rest: str, suggestion: str | None, partial: bool = True) -> str | None:
    """'exact', 'partial', 'wrong', or None when nothing is shown (see the module docstring)."""
    if suggestion is None or not suggestion.strip():
        return None
    if normalize(typed + suggestion) == normalize(typed + rest):
        return "exact"
    if partial and len(suggestion) < len(rest) and rest.startswith(suggestion):
        return "partial"
    return "wrong"


def replay_line(body: str, suggest: Suggest, partial: bool = True) -> LineReplay:
    typist = Typist(body, partial)
    ghost: str | None = None  # a wrong suggestion still on screen (see `kept`)
    while not typist.done:
        k = typist.position
        if ghost is not None and body[k - 1] == ghost[0] and ghost[1:].strip():
            shown = ghost[1:]
        else:
            shown = suggest(k)
        ghost = shown if typist.see(shown) == "wrong" else None
    return typist.result


def line_body(task: Task) -> tuple[str, str]:
    """-> (indentation, body): the task's whole line split after its indentation, trailing blanks dropped."""
    line = task.cursor_prefix + task.target
    indent = line[: len(line) - len(line.lstrip())]
    return indent, line[len(indent):].rstrip()


# -- engines over one line ------------------------------------------------------------------------------


@dataclass(slots=True)
class Latencies:
    engine_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)


class ShutkaLine:
    """Asks the facade at each position (cached: the engine keeps no state between asks here), with
    the gate off and every candidate returned, so that one answer serves the gated and the ungated
    replay and the gate sweep: the gate is applied here by the engine's own rule (`engine.gate`: the
    top line when it clears the threshold, else the start of it the candidates together make likely
    enough). Each suggestion either replay shows is kept as a calibration point (its confidence,
    whether it is exactly the rest of the line): `shown_points` for the gated replay, `top_points` for
    the ungated one."""

    def __init__(self, assistant: Any, task: Task, latencies: Latencies, threshold: float) -> None:
        from assistant.engine.gate import opened_before

        self.assistant, self.task, self.latencies, self.threshold = assistant, task, latencies, threshold
        self.indent, self.body = line_body(task)
        self.opened = opened_before(task.prefix)  # a block comment or template literal the line is inside
        self._cache: dict[int, list[tuple[str, float]]] = {}
        self.shown_points: list[tuple[float, bool]] = []
        self.top_points: list[tuple[float, bool]] = []

    def _point(self, k: int, shown: tuple[str, float], points: list[tuple[float, bool]]) -> None:
        verdict = judge(self.body[:k], self.body[k:], shown[0])
        if verdict is not None:  # blank suggestions are none
            points.append((shown[1], verdict == "exact"))

    def _candidates(self, k: int) -> list[tuple[str, float]]:
        """(first line, confidence) of every candidate at position k, most confident first."""
        if k not in self._cache:
            from assistant.types import CompletionRequest

            t = self.task
            request = CompletionRequest(t.prefix + self.indent + self.body[:k], t.line, len(self.indent) + k, t.file,
                                        fill_in_middle=False, use_gate=False, max_items=CANDIDATES, multiline=False)
            t0 = time.perf_counter()
            result = self.assistant.complete(request)
            self.latencies.wall_ms.append((time.perf_counter() - t0) * 1000)
            self.latencies.engine_ms.append(result.latency_ms)
            self._cache[k] = [(item.text.split("\n", 1)[0], item.confidence) for item in result.items]
        return self._cache[k]

    def _gated(self, k: int, threshold: float) -> tuple[str, float] | None:
        from assistant.engine.gate import first_shown

        return first_shown(self._candidates(k), threshold, self.indent + self.body[:k], self.opened)

    def gated(self, k: int) -> str | None:
        shown = self._gated(k, self.threshold)
        if shown is None:
            return None
        self._point(k, shown, self.shown_points)
        return shown[0]

    def at_threshold(self, threshold: float) -> Suggest:
        """The replay with the gate at `threshold` instead of the engine's (same asks, cached)."""
        def suggest(k: int) -> str | None:
            shown = self._gated(k, threshold)
            return None if shown is None else shown[0]
        return suggest

    def ungated(self, k: int) -> str | None:
        cands = self._candidates(k)
        if not cands:
            return None
        self._point(k, cands[0], self.top_points)
        return cands[0][0]


class CopyLine:
    """Baseline A and the copy-only ceiling at each position, on the runtime's line store with the
    harness's visibility (candidates of levels 0-3, as the bench defines them)."""

    def __init__(self, runtime: Any, task: Task) -> None:
        # the line store's candidate API: where the harness's baselines take it from
        from assistant.engine.candidates import query_window, split_file

        self.lines = runtime.parts.lines
        self.task = task
        self.indent, self.body = line_body(task)
        self.current = split_file(task.file, task.prefix + self.indent, stop_line=task.line)
        self.query = query_window(self.current, task.line)
        self._cache: dict[int, tuple[list[Any], tuple[str, float] | None]] = {}

    def _at(self, k: int) -> tuple[list[Any], tuple[str, float] | None]:
        if k not in self._cache:
            from training.completion_eval.baselines import predict_a

            level, cands = self.lines.candidates(self.current, self.task.line, self.indent + self.body[:k])
            if level is not None and level > 3:  # partial-identifier matches are the engine's, not the bench's
                cands = []
            pick = None
            if cands:
                self.lines.score_bm25(cands, self.query, self.task.file)
                pick = (predict_a(cands), max(c.bm25 for c in cands))
            self._cache[k] = (cands, pick)
        return self._cache[k]

    def a(self, threshold: float = -1.0) -> Suggest:
        def suggest(k: int) -> str | None:
            pick = self._at(k)[1]
            return pick[0] if pick is not None and pick[1] >= threshold else None
        return suggest

    def ceiling(self, k: int) -> str | None:
        typed, rest = self.body[:k], self.body[k:]
        whole = normalize(self.body)
        cands = self._at(k)[0]
        return rest if any(normalize(typed + c.continuation) == whole for c in cands) else None


# -- a package ------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class LineResult:
    id: str
    package: str
    chars: int
    engines: dict[str, LineReplay]
    sweep: dict[float, LineReplay] = field(default_factory=dict)
    """A gated at each threshold of SWEEP (when asked for)."""
    gate_sweep: dict[float, LineReplay] = field(default_factory=dict)
    """Shutka gated at each threshold of GATE_SWEEP (when asked for)."""
    shown_points: list[tuple[float, bool]] = field(default_factory=list)
    """(confidence, exactly the rest of the line) of every suggestion Shutka's gated replay showed."""
    top_points: list[tuple[float, bool]] = field(default_factory=list)
    """The same for the ungated replay (every top suggestion, gate or not)."""


def replay_package(runtime: Any, tasks: list[Task], a_threshold: float = A_THRESHOLD, partial: bool = True,
                   sweep: bool = False, latencies: Latencies | None = None,
                   progress: Callable[[int], None] | None = None, settings: Any = None) -> list[LineResult]:
    """Replay every task's line of one package on an open runtime (file by file, in line order).

    `settings` (a harness `EvalSettings`, optional): its switches and ranker replace the engine's for
    the run (the one-shot eval's ablations), and with `online_titans` the Titans memory learns each
    line as really typed after its replay (as the one-shot eval's `--online`)."""
    from training.completion_eval.harness import within

    completer = runtime.parts.completer
    saved = completer.switches, completer.ranker
    if settings is not None:  # an ablation turns off what the engine has on, never the reverse
        completer.switches = within(saved[0], settings.switches)
        if settings.ranker is not None:
            completer.ranker = settings.ranker
    if completer.titans is not None:
        completer.titans.reset()
    try:
        return _replay_tasks(runtime, tasks, a_threshold, partial, sweep, latencies, progress, settings)
    finally:
        completer.switches, completer.ranker = saved
        if completer.titans is not None:
            completer.titans.reset()


def _replay_tasks(runtime: Any, tasks: list[Task], a_threshold: float, partial: bool, sweep: bool,
                  latencies: Latencies | None, progress: Callable[[int], None] | None,
                  settings: Any) -> list[LineResult]:
    from training.completion_eval.harness import saved_as_visible

    latencies = latencies if latencies is not None else Latencies()
    completer = runtime.parts.completer
    online = settings is not None and settings.online_titans and settings.switches.titans \
        and completer.titans is not None
    out = []
    with saved_as_visible(runtime, settings is not None and settings.saved_as_visible) as saved:
        for task in sorted(tasks, key=lambda t: (t.file, t.line_no)):
            if saved is not None:
                saved.at(task)
            out.append(_replay_task(runtime, task, a_threshold, partial, sweep, latencies))
            if online:
                from assistant.adaptation import request_for

                completer.learn(request_for(task), task.cursor_prefix + task.target)
            if progress:
                progress(1)
    return out


def _replay_task(runtime: Any, task: Task, a_threshold: float, partial: bool, sweep: bool,
                 latencies: Latencies) -> LineResult:
    """One task's line typed with every engine, its file shown as the harness shows it."""
    from training.completion_eval.harness import file_as_visible

    completer = runtime.parts.completer
    shutka = ShutkaLine(runtime.assistant, task, latencies, completer.config.miras_confidence_threshold)
    copy = CopyLine(runtime, task)
    body = shutka.body
    with file_as_visible(runtime, task):
        engines = {"shutka": replay_line(body, shutka.gated, partial),
                   "shutka_ungated": replay_line(body, shutka.ungated, partial),
                   "A": replay_line(body, copy.a(), partial),
                   "A_gated": replay_line(body, copy.a(a_threshold), partial),
                   "ceiling": replay_line(body, copy.ceiling, partial)}
        result = LineResult(task.id, task.package, len(body), engines,
                            shown_points=shutka.shown_points, top_points=shutka.top_points)
        if sweep:
            result.sweep = {th: replay_line(body, copy.a(th), partial) for th in SWEEP}
            result.gate_sweep = {th: replay_line(body, shutka.at_threshold(th), partial) for th in GATE_SWEEP}
    return result


# -- reports --------------------------------------------------------------------------------------------------


def summarize_engine(rs: Iterable[LineReplay]) -> dict[str, float]:
    rs = list(rs)
    chars = sum(r.chars for r in rs)
    keys = sum(r.keystrokes for r in rs)
    saved = sum(r.saved for r in rs)
    return {
        "saved": 100 * saved / chars if chars else float("nan"),
        "saved_partial": 100 * sum(r.saved_partial for r in rs) / chars if chars else float("nan"),
        "finished": 100 * sum(r.finished for r in rs) / len(rs) if rs else float("nan"),
        "wrong_per_100": 100 * sum(r.wrong for r in rs) / keys if keys else float("nan"),
        "keystrokes": keys,
        "partial_accepts": sum(r.partial for r in rs),
        "saved_chars": saved,
    }


def summarize(results: list[LineResult]) -> dict[str, Any]:
    row: dict[str, Any] = {"lines": len(results), "chars": sum(r.chars for r in results)}
    for name in ENGINES:
        row[name] = summarize_engine(r.engines[name] for r in results)
    if results and results[0].sweep:
        row["A_sweep"] = {str(th): summarize_engine(r.sweep[th] for r in results) for th in SWEEP}
        row["gate_sweep"] = {str(th): summarize_engine(r.gate_sweep[th] for r in results) for th in GATE_SWEEP}
    return row


def by_package(results: list[LineResult]) -> dict[str, dict[str, Any]]:
    from training.completion_eval.harness import by_package as grouped  # the engine's imports only when run

    return grouped(results, summarize)


COLUMNS = (("shutka", "S"), ("shutka_ungated", "S-ng"), ("A", "A"), ("A_gated", "A-g"))


def format_table(table: dict[str, dict[str, Any]]) -> str:
    """saved % / finished % / wrong per 100 keystrokes for each engine, the ceiling's saved / finished."""
    head = f"{'package':24s}{'lines':>6s}{'chars':>7s}"
    for _, short in COLUMNS:
        head += f"{short + ' sav':>10s}{short + ' fin':>10s}{short + ' w100':>10s}"
    head += f"{'ceil sav':>10s}{'ceil fin':>10s}"
    lines = [head, "-" * len(head)]
    for pkg, row in table.items():
        if pkg == "OVERALL":
            lines.append("-" * len(head))
        cells = f"{pkg[:24]:24s}{row['lines']:6d}{row['chars']:7d}"
        for name, _ in COLUMNS:
            e = row[name]
            cells += f"{e['saved']:10.1f}{e['finished']:10.1f}{e['wrong_per_100']:10.1f}"
        cells += f"{row['ceiling']['saved']:10.1f}{row['ceiling']['finished']:10.1f}"
        lines.append(cells)
    return "\n".join(lines)


def format_sweep(row: dict[str, Any]) -> str:
    lines = [f"{'A threshold':>12s}{'saved %':>9s}{'fin %':>8s}{'w/100':>8s}   (Shutka: saved "
             f"{row['shutka']['saved']:.1f}, wrong/100 {row['shutka']['wrong_per_100']:.1f})"]
    for th, e in row["A_sweep"].items():
        lines.append(f"{float(th):12.1f}{e['saved']:9.1f}{e['finished']:8.1f}{e['wrong_per_100']:8.1f}")
    lines.append(f"{'S threshold':>12s}{'saved %':>9s}{'fin %':>8s}{'w/100':>8s}")
    for th, e in row.get("gate_sweep", {}).items():
        lines.append(f"{float(th):12.2f}{e['saved']:9.1f}{e['finished']:8.1f}{e['wrong_per_100']:8.1f}")
    return "\n".join(lines)


def latency_summary(lat: Latencies) -> dict[str, float]:
    return {"asks": len(lat.wall_ms),
            "engine_p50_ms": percentile(lat.engine_ms, 0.5), "engine_p95_ms": percentile(lat.engine_ms, 0.95),
            "wall_p50_ms": percentile(lat.wall_ms, 0.5), "wall_p95_ms": percentile(lat.wall_ms, 0.95),
            "wall_mean_ms": statistics.fmean(lat.wall_ms) if lat.wall_ms else float("nan")}


def format_latency(per_package: dict[str, dict[str, float]]) -> str:
    head = f"{'latency per ask (ms)':24s}{'asks':>7s}{'eng p50':>9s}{'eng p95':>9s}{'wall p50':>9s}{'wall p95':>9s}"
    lines = [head, "-" * len(head)]
    for pkg, s in per_package.items():
        if pkg == "OVERALL":
            lines.append("-" * len(head))
        lines.append(f"{pkg[:24]:24s}{s['asks']:7.0f}{s['engine_p50_ms']:9.1f}{s['engine_p95_ms']:9.1f}"
                     f"{s['wall_p50_ms']:9.1f}{s['wall_p95_ms']:9.1f}")
    return "\n".join(lines)


LEGEND = ("sav: characters saved, % of all characters typed after the indentation; fin: % of lines finished by "
          "an accepted suggestion; w100: wrong suggestions shown per 100 keystrokes (asks). S = Shutka (gate on), "
          "S-ng = Shutka's top completion with the gate off, A = baseline A (its pick whenever it has one), "
          "A-g = A shown when its BM25 score >= {th:g}; ceil = copy-only ceiling (exact copies of visible lines, "
          "perfect ranker and gate). Exact accepts finish the line; a suggestion that is a strict prefix of the "
          "rest is accepted too (partial: {partial}).")


# -- command --------------------------------------------------------------------------------------------------


@click.command("replay")
@task_options
@click.option("--threshold", type=click.FloatRange(0, 1), help="Shutka's gate threshold (default: the shipped one).")
@click.option("--a-threshold", type=float, default=A_THRESHOLD, show_default=True,
              help="Baseline A's gate: the BM25 score its pick needs to be shown (A-gated).")
@click.option("--partial/--no-partial", default=True, show_default=True,
              help="Accept a suggestion that is a strict prefix of the rest of the line (its characters are saved).")
@click.option("--sweep", is_flag=True, help="Also replay A gated at several BM25 thresholds and Shutka at several gate "
                                           "thresholds (to choose --a-threshold and the gate on dev).")
@click.option("--fp32", is_flag=True, help="Run the fp32 model instead of the int8 export.")
@ablation_options
@click.option("--online/--no-online", default=False, show_default=True,
              help="Titans learns each line as really typed after its replay (file by file).")
@saved_as_visible_option
@click.option("--packages", help="Comma-separated packages to run (default: all in the tasks file).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many lines per package.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report here.")
def replay_command(tasks: Path, corpus: Path, checkpoint: Path | None, threshold: float | None, a_threshold: float,
                   partial: bool, sweep: bool, fp32: bool, no_hoprag: bool, no_titans: bool, no_decoding: bool,
                   no_latent: bool, no_generation: bool, no_edit: bool, online: bool, saved_as_visible: bool,
                   packages: str | None, limit: int | None, out: Path | None) -> None:
    """Typing replay: each task's line typed one character at a time, the engine asked after every
    keystroke; characters saved, lines finished, wrong suggestions per 100 keystrokes, latency per ask,
    with baseline A (ungated and gated) and the copy-only ceiling in the same run."""
    from tqdm import tqdm

    from indexer.errors import ShutkaError
    from training.completion_eval.calibration import format_reliability, reliability
    from training.completion_eval.harness import (
        EvalSettings,
        ablation_switches,
        open_package,
        with_variant_ranker,
    )
    from training.completion_eval.tasks import tasks_by_package

    switches = ablation_switches(no_hoprag, no_titans, no_decoding, no_latent, no_generation, no_edit)
    settings, note = with_variant_ranker(EvalSettings(switches, quantized=not fp32, threshold=threshold,
                                                      online_titans=online, saved_as_visible=saved_as_visible),
                                         checkpoint)
    if note:
        click.echo(note, err=True)
    flags = [name for name, on in (("no-hoprag", no_hoprag), ("no-titans", no_titans), ("no-decoding", no_decoding),
                                   ("no-latent", no_latent), ("no-generation", no_generation), ("no-edit", no_edit),
                                   ("online", online), ("fp32", fp32), ("saved-as-visible", saved_as_visible)) if on]
    try:
        folders, grouped, wanted = tasks_by_package(tasks, corpus, packages)
    except ShutkaError as exc:
        raise click.ClickException(str(exc)) from exc
    chosen = {p: sorted(grouped[p], key=lambda t: (t.file, t.line_no))[:limit] for p in wanted}
    results: list[LineResult] = []
    latency: dict[str, dict[str, float]] = {}
    overall = Latencies()
    gate = None
    t0 = time.monotonic()
    with tqdm(total=sum(len(v) for v in chosen.values()), unit="line", file=sys.stderr, desc="replay") as bar:
        for pkg in wanted:
            bar.set_postfix_str(pkg)
            lat = Latencies()
            with open_package(folders[pkg], checkpoint, settings) as runtime:
                gate = runtime.completion_config.miras_confidence_threshold
                results += replay_package(runtime, chosen[pkg], a_threshold, partial, sweep, lat, bar.update,
                                          settings)
            latency[pkg] = latency_summary(lat)
            overall.engine_ms += lat.engine_ms
            overall.wall_ms += lat.wall_ms
    latency["OVERALL"] = latency_summary(overall)
    table = by_package(results)
    click.echo(format_table(table))
    click.echo()
    click.echo(format_latency(latency))
    if sweep:
        click.echo()
        click.echo(format_sweep(table["OVERALL"]))
    shown_rel = reliability(p for r in results for p in r.shown_points)
    top_rel = reliability(p for r in results for p in r.top_points)
    click.echo()
    click.echo(format_reliability(shown_rel, "S shown, per keystroke"))
    click.echo()
    click.echo(format_reliability(top_rel, "S-ng top, per keystroke"))
    click.echo("reliability of Shutka's confidence per keystroke (10 equal-width bins): right = the suggestion is "
               "exactly the rest of the line (a correct strict prefix, accepted as partial, counts as not right); "
               "S shown = every suggestion the gated replay showed, S-ng top = every top suggestion of the ungated "
               "replay")
    click.echo(f"\n{len(results)} lines, {table['OVERALL']['chars']} characters in {time.monotonic() - t0:.0f} s; "
               f"Shutka's gate {gate}; flags: {', '.join(flags) or 'none'}; "
               + LEGEND.format(th=a_threshold, partial="on" if partial else "off"))
    if out:
        report = {"table": table, "latency": latency, "tasks": str(tasks), "corpus": str(corpus), "flags": flags,
                  "calibration_shown": shown_rel.to_json(), "calibration_top": top_rel.to_json(),
                  "settings": {"a_threshold": a_threshold, "partial": partial, "shutka_threshold": gate,
                               "quantized": not fp32, "limit": limit, "packages": wanted},
                  "lines": [{"id": r.id, "package": r.package, "chars": r.chars,
                             **{name: asdict(e) for name, e in r.engines.items()}} for r in results]}
        out.write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")
