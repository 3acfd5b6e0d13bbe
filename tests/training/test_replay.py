"""Typing replay (`shutka eval replay`) and the mid-word task transform: the replay's arithmetic on
scripted engines, the transform on hand-made tasks, and one small replay on a real runtime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from training.completion_eval.midword import MID_WORD_SUFFIX, mid_word, mid_word_tasks
from training.completion_eval.replay import (
    ENGINES,
    judge,
    line_body,
    replay_line,
    replay_package,
    summarize_engine,
)
from training.completion_eval.tasks import Task
from training.eval_cli import command as eval_command

BODY = "return this.items.get(key);"  # 27 characters


def _task(cursor_prefix: str, target: str, prefix: str = "function f() {\n", tid: str = "p/f.ts:2") -> Task:
    return Task(tid, "p", "f.ts", prefix.count("\n") + 1, prefix, cursor_prefix, target, "}\n")


def scripted(script: dict[int, str]):  # type: ignore[no-untyped-def]
    """An engine that shows script[k] after k characters, nothing elsewhere; records the asks."""
    asked: list[int] = []

    def suggest(k: int) -> str | None:
        asked.append(k)
        return script.get(k)

    return suggest, asked


# -- arithmetic ------------------------------------------------------------------------------------------


def test_silent_engine_saves_nothing_and_is_asked_at_every_keystroke() -> None:
    suggest, asked = scripted({})
    r = replay_line(BODY, suggest)
    assert (r.chars, r.saved, r.finished, r.wrong, r.keystrokes) == (27, 0, False, 0, 27)
    assert asked == list(range(27))  # after the Enter (k = 0) and after each character but the last


def test_exact_suggestion_finishes_the_line_and_saves_the_rest() -> None:
    suggest, asked = scripted({3: "wrong stuff", 7: "this.items.get(key);"})
    r = replay_line(BODY, suggest)
    assert r.finished and r.saved == 27 - 7 and r.wrong == 1 and r.keystrokes == 8
    assert asked[-1] == 7


def test_exact_is_judged_after_whitespace_normalisation_of_the_whole_line() -> None:
    assert judge("return ", "x;", "x;") == "exact"
    assert judge("return ", "x;", "x ;") == "wrong"    # a different line
    assert judge("const a =", " 1;", "   1;") == "exact"  # runs of blanks are one blank (the EM rule)
    assert judge("const a =", " 1;", "1;") == "wrong"    # `const a =1;` is another line
    assert judge("return", " x;", "x;") == "wrong"     # would read `returnx;`
    assert judge("a", "bc", "   ") is None and judge("a", "bc", None) is None


def test_a_correct_prefix_is_accepted_partially_and_typing_goes_on_after_it() -> None:
    suggest, asked = scripted({0: "return ", 7: "this.items", 17: "!", 20: "(key);", 21: "(key);"})
    r = replay_line(BODY, suggest)
    # 0: "return " taken (7 saved), 7: "this.items" taken (10), 17: "!" wrong, the user types `.get`,
    # 20: "(key);" is wrong there (the rest is "t(key);"), 21: exact -> finished, 6 more saved
    assert asked == [0, 7, 17, 18, 19, 20, 21]
    assert (r.partial, r.saved_partial, r.saved, r.wrong, r.keystrokes, r.finished) == (2, 17, 23, 2, 7, True)


def test_partial_then_exact_finishes_the_line() -> None:
    suggest, _ = scripted({0: "return this.", 12: "items.get(key);"})
    r = replay_line(BODY, suggest)
    assert r.finished and r.saved == 27 and r.saved_partial == 12 and r.keystrokes == 2 and r.wrong == 0


def test_partial_accepts_can_be_turned_off() -> None:
    suggest, asked = scripted({0: "return this."})
    r = replay_line(BODY, suggest, partial=False)
    # not taken: it stays on screen while the user types it (12 keystrokes, all wrong), then is gone
    assert r.saved == 0 and r.partial == 0 and r.wrong == 12
    assert asked == [0, *range(12, 27)]


def test_a_wrong_suggestion_stays_while_the_typed_characters_match_it() -> None:
    """As the language server keeps its ghost text: the engine is not asked while the user types
    what the suggestion shows, and each of those keystrokes counts the suggestion as wrong again."""
    suggest, asked = scripted({7: "this.itemz;", 12: "never asked"})
    r = replay_line(BODY, suggest)
    # 7: wrong; `this.item` is typed through it (kept at 8..16); at 16 the user types `s`, not `z`
    assert asked == [*range(8), *range(17, 27)]
    assert r.wrong == 10 and r.keystrokes == 27 and not r.finished


def test_summary_rates() -> None:
    a = replay_line(BODY, scripted({7: "this.items.get(key);"})[0])           # saves 20, finished
    b = replay_line("x = 1;", scripted({1: "y", 2: "z", 3: "w"})[0])             # 3 wrong in 6 asks
    s = summarize_engine([a, b])
    assert s["saved"] == 100 * 20 / 33
    assert s["finished"] == 50.0
    assert s["wrong_per_100"] == 100 * 3 / (8 + 6)
    assert s["keystrokes"] == 14


def test_line_body_starts_after_the_indentation_and_drops_trailing_blanks() -> None:
    assert line_body(_task("    retu", "rn x;  ")) == ("    ", "return x;")


# -- mid-word ---------------------------------------------------------------------------------------------


def test_mid_word_moves_two_characters_into_the_next_identifier() -> None:
    t = _task("    return this.", "handlers.get(name);")
    m = mid_word(t)
    assert m is not None
    assert (m.cursor_prefix, m.target, m.id) == ("    return this.ha", "ndlers.get(name);", t.id + MID_WORD_SUFFIX)
    assert m.prefix + m.cursor_prefix + m.target == t.prefix + t.cursor_prefix + t.target


def test_mid_word_skips_the_word_the_cursor_is_in_and_short_names() -> None:
    m = mid_word(_task("  const fo", "o = a.bc + value;"))  # `foo` continues, `a`, `bc` are short
    assert m is not None and m.target == "lue;"
    assert mid_word(_task("  x", " = 0xff + 1;")) is None  # `xff` is inside a number literal
    tasks, skipped = mid_word_tasks([_task("  return ", "a + b;"), _task("  return ", "total;")])
    assert skipped == 1 and [t.target for t in tasks] == ["tal;"]


# -- real runtime -----------------------------------------------------------------------------------------


def _package(root: Path) -> Path:
    src = root / "pkg" / "src"
    src.mkdir(parents=True)
    (root / "pkg" / ".corpus.json").write_text(json.dumps({"name": "pkg"}))
    for i in range(3):
        (src / f"store{i}.ts").write_text("\n".join([
            f"export class Store{i} {{",
            "  private readonly items = new Map<string, number>();",
            "  get(key: string): number | undefined {",
            "    return this.items.get(key);",
            "  }",
            "}",
            "",
        ]))
    return root


def _write_tasks(path: Path, corpus: Path) -> Path:
    text = (corpus / "pkg" / "src" / "store2.ts").read_text()
    lines = text.split("\n")
    rows = []
    for i, cut in ((3, "    return "), (1, "  private ")):
        rows.append({"id": f"pkg/src/store2.ts:{i + 1}", "package": "pkg", "file": "src/store2.ts",
                     "line_no": i + 1, "prefix": "\n".join(lines[:i]) + "\n", "cursor_prefix": cut,
                     "target": lines[i][len(cut):], "suffix": "\n".join(lines[i + 1:])})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_replay_on_a_real_runtime(tmp_path: Path, tiny_checkpoint: Path) -> None:
    from assistant.runtime import open_runtime
    from training.completion_eval.replay import Latencies
    from training.completion_eval.tasks import load_tasks

    corpus = _package(tmp_path / "corpus")
    tasks = load_tasks(_write_tasks(tmp_path / "tasks.jsonl", corpus))
    lat = Latencies()
    with open_runtime(corpus / "pkg", checkpoint=tiny_checkpoint, sync=True) as runtime:
        results = replay_package(runtime, tasks, a_threshold=0.0, latencies=lat)
    assert [r.chars for r in results] == [len("private readonly items = new Map<string, number>();"),
                                          len("return this.items.get(key);")]
    for r in results:
        assert set(r.engines) == set(ENGINES)
        ceiling = r.engines["ceiling"]
        # the other two stores hold the very same line: the ceiling finishes it right after `r`/`p`
        assert ceiling.finished and ceiling.saved == r.chars - 1 and ceiling.wrong == 0
        assert r.engines["A"].finished  # A copies it too (only candidates of that text exist)
        assert r.engines["shutka"].saved <= r.chars
    assert lat.wall_ms and len(lat.wall_ms) == len(lat.engine_ms)


def test_replay_command_writes_table_and_json(tmp_path: Path, tiny_checkpoint: Path) -> None:
    corpus = _package(tmp_path / "corpus")
    tasks = _write_tasks(tmp_path / "tasks.jsonl", corpus)
    out = tmp_path / "replay.json"
    res = CliRunner().invoke(eval_command, ["replay", "--tasks", str(tasks), "--corpus", str(corpus),
                                            "--checkpoint", str(tiny_checkpoint), "--limit", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "OVERALL" in res.output and "ceil sav" in res.output and "wall p95" in res.output
    report = json.loads(out.read_text())
    assert report["table"]["OVERALL"]["lines"] == 1
    assert {"shutka", "A", "A_gated", "ceiling"} <= set(report["table"]["pkg"])
    assert "S shown, per keystroke" in res.output and "ECE" in res.output
    top = report["calibration_top"]
    assert len(top["bins"]) == 10 and top["n"] == sum(b["count"] for b in top["bins"])
    assert report["calibration_shown"]["n"] <= top["n"] or top["n"] == 0


def test_sweep_replays_the_gate_at_each_threshold_over_the_same_asks(tmp_path: Path, tiny_checkpoint: Path) -> None:
    from training.completion_eval.replay import GATE_SWEEP

    corpus = _package(tmp_path / "corpus")
    tasks = _write_tasks(tmp_path / "tasks.jsonl", corpus)
    out = tmp_path / "replay.json"
    res = CliRunner().invoke(eval_command, ["replay", "--tasks", str(tasks), "--corpus", str(corpus), "--checkpoint",
                                            str(tiny_checkpoint), "--sweep", "--threshold", "0.5", "--out", str(out)])
    assert res.exit_code == 0, res.output
    row = json.loads(out.read_text())["table"]["OVERALL"]
    assert list(row["gate_sweep"]) == [str(th) for th in GATE_SWEEP]
    assert row["gate_sweep"]["0.5"] == row["shutka"], "the sweep at the engine's own gate is its replay"
    assert "S threshold" in res.output


def test_ablation_table_measures_every_row_one_shot_and_typed(tmp_path: Path, tiny_checkpoint: Path) -> None:
    from training.completion_eval.ablation_table import rows_for
    from training.completion_eval.harness import product_switches

    corpus = _package(tmp_path / "corpus")
    tasks = _write_tasks(tmp_path / "tasks.jsonl", corpus)
    out = tmp_path / "ablations.json"
    res = CliRunner().invoke(eval_command, ["ablations", "--tasks", str(tasks), "--corpus", str(corpus),
                                            "--checkpoint", str(tiny_checkpoint), "--replay-limit", "1",
                                            "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = json.loads(out.read_text())["rows"]
    assert list(rows) == [name for name, _ in rows_for(product_switches())]
    assert "+token-head" in rows, "the token head is off by default: its row turns it on"
    for name, row in rows.items():
        assert row["n"] == 2 and row["lines"] == 1, name
        assert 0 <= row["em"] <= 100 and 0 <= row["saved"] <= 100 and row["keystrokes"] >= 1
        assert name in res.output
    assert "dsaved" in res.output


def test_ablation_rows_flip_each_component_of_the_product() -> None:
    from assistant.engine.pipeline import Switches
    from training.completion_eval.ablation_table import rows_for

    rows = dict(rows_for(Switches(decoding=False)))
    assert list(rows) == ["full", "+token-head", "no-latent", "no-titans", "no-hoprag"]
    assert rows["+token-head"].decoding and rows["+token-head"].generation
    assert not rows["no-titans"].titans and not rows["no-titans"].decoding
    on = dict(rows_for(Switches()))
    assert list(on) == ["full", "no-token-head", "no-latent", "no-generation", "no-titans", "no-hoprag"]


@pytest.mark.parametrize(("flags", "named"), [(["--no-latent"], ["no-latent"]), (["--no-decoding"], ["no-decoding"]),
                                              (["--online", "--no-titans"], ["no-titans", "online"]),
                                              (["--no-hoprag"], ["no-hoprag"])])
def test_replay_accepts_the_eval_ablations(flags: list[str], named: list[str], tmp_path: Path,
                                           tiny_checkpoint: Path) -> None:
    corpus = _package(tmp_path / "corpus")
    tasks = _write_tasks(tmp_path / "tasks.jsonl", corpus)
    out = tmp_path / "replay.json"
    res = CliRunner().invoke(eval_command, ["replay", "--tasks", str(tasks), "--corpus", str(corpus),
                                            "--checkpoint", str(tiny_checkpoint), "--out", str(out), *flags])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["flags"] == named and "flags: " + ", ".join(named) in res.output


def test_replay_package_restores_the_engine_switches(tmp_path: Path, tiny_checkpoint: Path) -> None:
    from assistant.runtime import open_runtime
    from training.completion_eval.harness import EvalSettings, ablation_switches
    from training.completion_eval.tasks import load_tasks

    corpus = _package(tmp_path / "corpus")
    tasks = load_tasks(_write_tasks(tmp_path / "tasks.jsonl", corpus))
    with open_runtime(corpus / "pkg", checkpoint=tiny_checkpoint, sync=True) as runtime:
        completer = runtime.parts.completer
        before = completer.switches
        seen = []
        learn = completer.learn
        completer.learn = lambda request, line: seen.append(line) or learn(request, line)  # type: ignore[method-assign]
        settings = EvalSettings(ablation_switches(no_latent=True), online_titans=True)
        replay_package(runtime, tasks, settings=settings)
        assert completer.switches == before
    assert len(seen) == (len(tasks) if before.titans else 0)


def test_eval_mid_word_flag_reports_skips(tmp_path: Path, tiny_checkpoint: Path) -> None:
    corpus = _package(tmp_path / "corpus")
    tasks = _write_tasks(tmp_path / "tasks.jsonl", corpus)
    res = CliRunner().invoke(eval_command, ["--tasks", str(tasks), "--corpus", str(corpus), "--checkpoint",
                                            str(tiny_checkpoint), "--mid-word"])
    assert res.exit_code == 0, res.output
    assert "mid-word: 2 tasks, 0 skipped" in res.output and "flags: mid-word" in res.output


# -- the language server's replay (lsp.bench --replay) ----------------------------------------------------


def test_lsp_bench_judges_as_the_eval_replay() -> None:
    from lsp.bench import judge as lsp_judge

    cases = [("return ", "x;", "x;"), ("return", " x;", "x;"), ("const a =", " 1;", "   1;"), ("a", "bc", None),
             ("", BODY, "return "), ("", BODY, "return this.items.get(key);"), ("x", "yz", "yzz"), ("a", "bc", " ")]
    assert [lsp_judge(*c) for c in cases] == [judge(*c) for c in cases]


def test_lsp_bench_replay_through_a_real_server(tmp_path: Path, tiny_checkpoint: Path) -> None:
    import asyncio

    from lsp.bench import measure_replay

    corpus = _package(tmp_path / "corpus")
    tasks = _write_tasks(tmp_path / "tasks.jsonl", corpus)
    report = asyncio.run(measure_replay(tasks, corpus, tmp_path / "work", tiny_checkpoint, {"threshold": 0.0},
                                        1, None))
    assert report.lines == 1 and report.chars == len("private readonly items = new Map<string, number>();")
    assert report.keystrokes >= 1 and report.p50_ms > 0
    assert 0.0 <= report.saved_pct <= 100.0
    assert (tmp_path / "work" / "replay" / "pkg" / "shutka.toml").read_text().startswith("[completion]")


def test_lsp_replay_counts_what_the_eval_replay_counts(tmp_path: Path, tiny_checkpoint: Path) -> None:
    """The same line typed through a real server (which keeps its ghost text while it is typed through)
    and through the engine in-process (which models that keep) gives the same keystrokes and verdicts."""
    import asyncio

    from assistant.runtime import open_runtime
    from lsp.bench import measure_replay
    from training.completion_eval.replay import summarize_engine
    from training.completion_eval.tasks import load_tasks

    corpus = _package(tmp_path / "corpus")
    for i in (0, 1):  # the line is written nowhere else: what is shown is another line, typed through
        store = corpus / "pkg" / "src" / f"store{i}.ts"
        store.write_text(store.read_text().replace("items = new Map<string, number>()", "cache = new Set<string>()"))
    tasks = _write_tasks(tmp_path / "tasks.jsonl", corpus)
    served = asyncio.run(measure_replay(tasks, corpus, tmp_path / "work", tiny_checkpoint, {"threshold": 0.0},
                                        1, None))
    first = sorted(load_tasks(tasks), key=lambda t: (t.file, t.line_no))[:1]
    with open_runtime(corpus / "pkg", checkpoint=tiny_checkpoint, sync=True,
                      completion={"miras_confidence_threshold": 0.0}) as runtime:
        [line] = replay_package(runtime, first)
    here = summarize_engine([line.engines["shutka"]])
    assert served.keystrokes == here["keystrokes"] > 1
    assert (served.saved_pct, served.finished_pct, served.wrong_per_100) == \
        pytest.approx((here["saved"], here["finished"], here["wrong_per_100"]))


@pytest.mark.parametrize("command", ["replay", "ablations"])
def test_replay_and_ablations_name_a_package_they_cannot_find(command: str, tmp_path: Path,
                                                              tiny_checkpoint: Path) -> None:
    corpus = _package(tmp_path / "corpus")
    tasks = _write_tasks(tmp_path / "tasks.jsonl", corpus)
    res = CliRunner().invoke(eval_command, [command, "--tasks", str(tasks), "--corpus", str(corpus), "--checkpoint",
                                            str(tiny_checkpoint), "--packages", "nope"])
    assert res.exit_code != 0 and "nope" in res.output and "Traceback" not in res.output
