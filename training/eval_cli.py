"""`shutka eval --tasks FILE --corpus DIR`: completion quality on line-completion tasks, per package
and overall, with the baselines and ablations measured in the same run; `shutka eval suite …`."""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import click

from training.completion_eval.ablation_flags import ablation_options, saved_as_visible_option


@click.group("eval", invoke_without_command=True)
@click.option("--tasks", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Tasks JSONL (the bench format: ../shared/bench/README.md).")
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Corpus folder: one sub-folder per package.")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model (default: the bundled one).")
@click.option("--compare-baselines", is_flag=True, help="Also run baselines A and B on the same tasks.")
@ablation_options
@click.option("--no-gate", is_flag=True, help="Show every top candidate (coverage 100%).")
@click.option("--fp32", is_flag=True, help="Run the fp32 model instead of the int8 export.")
@click.option("--no-skip", is_flag=True, help="Ablation: no block skipping (every request runs every block).")
@click.option("--fim", is_flag=True, help="Fill-in-the-middle: the engine also reads the code after the line.")
@click.option("--online/--no-online", default=False, show_default=True,
              help="Titans learns each task's true line after predicting it (file by file).")
@click.option("--adapt/--no-adapt", default=False, show_default=True,
              help="Fine-tune the ranker on each package's non-task files first.")
@click.option("--threshold", type=click.FloatRange(0, 1), help="Gate threshold (default: the shipped one).")
@click.option("--packages", help="Comma-separated packages to run (default: all in the tasks file).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many tasks per package.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report here.")
@click.option("--predictions", type=click.Path(dir_okay=False, path_type=Path), help="Write per-task rows here.")
@click.option("--mid-word", is_flag=True, help="Each task's cursor moved two characters into the target's next identifier.")
@saved_as_visible_option
@click.pass_context
def command(ctx: click.Context, tasks: Path | None, corpus: Path | None, checkpoint: Path | None,
            compare_baselines: bool, no_hoprag: bool, no_titans: bool, no_decoding: bool, no_latent: bool,
            no_generation: bool, no_edit: bool, no_gate: bool, fp32: bool, no_skip: bool, fim: bool, online: bool, adapt: bool,
            threshold: float | None, packages: str | None, limit: int | None, out: Path | None,
            predictions: Path | None, mid_word: bool, saved_as_visible: bool) -> None:
    """Completion quality (EM / ES / identifier F1, gate precision and coverage, latency p50/p95)."""
    if ctx.invoked_subcommand is not None:
        return
    if tasks is None or corpus is None:
        raise click.UsageError("give --tasks FILE and --corpus DIR (or a subcommand: shutka eval suite …)")
    from tqdm import tqdm

    from training.completion_eval.calibration import format_reliability
    from training.completion_eval.harness import (
        EvalSettings,
        ablation_switches,
        by_package,
        calibration,
        format_table,
        open_package,
        run_package,
        with_variant_ranker,
    )
    from training.completion_eval.tasks import load_tasks, package_folders

    switches = ablation_switches(no_hoprag, no_titans, no_decoding, no_latent, no_generation, no_edit)
    settings = EvalSettings(switches, use_gate=not no_gate, fill_in_middle=fim, quantized=not fp32,
                            online_titans=online, adapt=adapt, compare_baselines=compare_baselines,
                            threshold=threshold, block_skipping=not no_skip, saved_as_visible=saved_as_visible)
    settings, note = with_variant_ranker(settings, checkpoint)
    if note:
        click.echo(note, err=True)
    all_tasks = load_tasks(tasks)
    if mid_word:
        from training.completion_eval.midword import mid_word_tasks

        all_tasks, skipped = mid_word_tasks(all_tasks)
        click.echo(f"mid-word: {len(all_tasks)} tasks, {skipped} skipped (no identifier of >= 3 characters "
                   "starting in the target)", err=True)
    folders = package_folders(corpus)
    grouped: dict[str, list] = defaultdict(list)
    for t in all_tasks:
        grouped[t.package].append(t)
    wanted = [p.strip() for p in packages.split(",")] if packages else sorted(grouped)
    missing = [p for p in wanted if p not in folders]
    if missing:
        raise click.ClickException(f"packages not in {corpus}: {', '.join(missing)}")
    results = []
    t0 = time.monotonic()
    with tqdm(total=sum(min(len(grouped[p]), limit or 10**9) for p in wanted), unit="task", file=sys.stderr,
              desc="eval") as bar:
        for pkg in wanted:
            chosen = grouped[pkg][:limit] if limit else grouped[pkg]
            bar.set_postfix_str(pkg)
            with open_package(folders[pkg], checkpoint, settings) as runtime:
                results += run_package(runtime, chosen, settings, progress=bar.update)
    table = by_package(results)
    click.echo(format_table(table, compare_baselines))
    flags = [name for name, on in (("no-hoprag", no_hoprag), ("no-titans", no_titans), ("no-decoding", no_decoding),
                                   ("no-latent", no_latent), ("no-generation", no_generation), ("no-edit", no_edit),
                                   ("no-gate", no_gate), ("mid-word", mid_word), ("saved-as-visible", saved_as_visible),
                                   ("fp32", fp32), ("no-skip", no_skip), ("fim", fim), ("online", online), ("adapt", adapt)) if on]
    click.echo(f"\n{len(results)} tasks in {time.monotonic() - t0:.0f} s; flags: {', '.join(flags) or 'none'}; "
               "EM/ES/IDF1 use the top candidate on every task; cover/prec: share of tasks shown and share of "
               "shown that are exact or ES >= 0.8; latency per completion (analysis), torch threads as configured")
    rel, rel_shown = calibration(results), calibration(results, shown_only=True)
    click.echo()
    click.echo(format_reliability(rel, "top candidate conf."))
    click.echo(f"reliability of the top candidate's confidence (10 equal-width bins) against its exact match, over "
               f"the {rel.n} tasks with a candidate, gate or not; over the {rel_shown.n} the gate showed: "
               f"EM {100 * rel_shown.accuracy:.1f} at mean confidence {100 * rel_shown.confidence:.1f}, "
               f"ECE {100 * rel_shown.ece:.1f} pts")
    if out:
        out.write_text(json.dumps({"table": table, "flags": flags, "tasks": str(tasks),
                                   "calibration": rel.to_json(), "calibration_shown": rel_shown.to_json()},
                                  indent=2, default=float))
    if predictions:
        with predictions.open("w", encoding="utf-8") as fh:
            for r in results:
                fh.write(json.dumps({**asdict(r), "score": asdict(r.score),
                                     "baselines": {k: asdict(v) for k, v in r.baselines.items()}}) + "\n")


@command.command("headroom")
@click.option("--tasks", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The tasks JSONL the run evaluated.")
@click.option("--corpus", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The corpus folder of that run.")
@click.option("--predictions", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Per-task rows written by `shutka eval --predictions`.")
def headroom_command(tasks: Path, corpus: Path, predictions: Path) -> None:
    """Where a run's misses are: not chosen, one rename away from a visible line (and where the new
    name could come from), or no visible line close."""
    from training.completion_eval.headroom import CLASSES, classify
    from training.completion_eval.tasks import load_tasks

    counts, _ = classify(load_tasks(tasks), predictions, corpus)
    total = sum(counts.values())
    for cls in CLASSES:
        click.echo(f"{counts[cls]:5d}  {100.0 * counts[cls] / max(1, total):5.1f} %  {cls}")
    click.echo(f"{total:5d}  tasks")


def _register_suites() -> None:
    try:
        from training.evaluation.suites import suite_command
    except ImportError:  # suites not installed in this build
        return
    command.add_command(suite_command, "suite")


_register_suites()


def _register_replay() -> None:
    from training.completion_eval.ablation_table import ablations_command
    from training.completion_eval.replay import replay_command

    command.add_command(replay_command, "replay")
    command.add_command(ablations_command, "ablations")


_register_replay()
