"""`shutka eval ablations`: does each model component earn its place? One table, every row measured in
the same run on the same runtime (each package indexed once):

    full          the product
    no-latent     no JEPA latent similarity, no bank search
    no-decoding   no token head: no scoring, no generation
    no-generation no generated candidates (the token head still scores)
    no-titans     no Titans read-out or recall (the others learn online)
    no-hoprag     no cross-file retrieval

Each row: the one-shot eval (EM / ES, gate coverage and precision) on every task, and the typing replay
(characters saved, wrong suggestions per 100 keystrokes, lines finished, engine time per keystroke p50/p95)
on the first `--replay-limit` lines of each package. Titans learns online in every row (each task's and
each replayed line after it is asked), as it does in an editor; a row whose group has a ranker trained
without it (`shutka train ranker` writes them) uses that ranker.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import click

from training.completion_eval.ablation_flags import task_options

ROWS: tuple[tuple[str, dict[str, bool]], ...] = (
    ("full", {}),
    ("no-latent", {"no_latent": True}),
    ("no-decoding", {"no_decoding": True}),
    ("no-generation", {"no_generation": True}),
    ("no-titans", {"no_titans": True}),
    ("no-hoprag", {"no_hoprag": True}),
)


def format_rows(rows: dict[str, dict[str, Any]]) -> str:
    head = (f"{'row':14s} {'EM':>6s} {'ES':>6s} {'cover':>6s} {'prec':>6s} | {'saved%':>7s} {'wrong':>6s} "
            f"{'finish%':>7s} {'p50ms':>6s} {'p95ms':>6s} | {'dEM':>5s} {'dsaved':>6s}")
    out = [head, "-" * len(head)]
    full = rows.get("full")
    for name, r in rows.items():
        d_em = r["em"] - full["em"] if full else float("nan")
        d_saved = r["saved"] - full["saved"] if full else float("nan")
        out.append(f"{name:14s} {r['em']:6.1f} {r['es']:6.1f} {r['coverage']:6.1f} {r['precision']:6.1f} | "
                   f"{r['saved']:7.1f} {r['wrong_per_100']:6.1f} {r['finished']:7.1f} {r['p50_ms']:6.1f} "
                   f"{r['p95_ms']:6.1f} | {d_em:+5.1f} {d_saved:+6.1f}")
    return "\n".join(out)


@click.command("ablations")
@task_options
@click.option("--packages", help="Comma-separated packages to run (default: all in the tasks file).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many one-shot tasks per package.")
@click.option("--replay-limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="Lines typed per package in the replay.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report here.")
def ablations_command(tasks: Path, corpus: Path, checkpoint: Path | None, packages: str | None, limit: int | None,
                      replay_limit: int, out: Path | None) -> None:
    """The ablation table: each model component off in turn, one-shot EM and typing replay side by side."""
    from tqdm import tqdm

    from indexer.errors import ShutkaError
    from training.completion_eval.harness import (
        EvalSettings,
        ablation_switches,
        open_package,
        run_package,
        summarize,
        with_variant_ranker,
    )
    from training.completion_eval.replay import Latencies, replay_package, summarize_engine
    from training.completion_eval.scoring import percentile
    from training.completion_eval.tasks import tasks_by_package

    try:
        folders, grouped, wanted = tasks_by_package(tasks, corpus, packages)
    except ShutkaError as exc:
        raise click.ClickException(str(exc)) from exc
    settings: dict[str, EvalSettings] = {}
    for name, flags in ROWS:
        base = EvalSettings(ablation_switches(**flags), online_titans=True)
        settings[name], note = with_variant_ranker(base, checkpoint)
        if note:
            click.echo(f"{name}: {note}", err=True)
    one_shot: dict[str, list[Any]] = defaultdict(list)
    typed: dict[str, list[Any]] = defaultdict(list)
    latencies = {name: Latencies() for name, _ in ROWS}
    t0 = time.monotonic()
    with tqdm(total=len(wanted) * len(ROWS), unit="row", file=sys.stderr, desc="ablations") as bar:
        for pkg in wanted:
            chosen = grouped[pkg][:limit] if limit else grouped[pkg]
            lines = sorted(grouped[pkg], key=lambda t: (t.file, t.line_no))[:replay_limit]
            with open_package(folders[pkg], checkpoint, settings["full"]) as runtime:
                for name, _ in ROWS:
                    bar.set_postfix_str(f"{pkg} {name}")
                    runtime.parts.completer.clear_caches()
                    one_shot[name] += run_package(runtime, chosen, settings[name])
                    typed[name] += replay_package(runtime, lines, settings=settings[name], latencies=latencies[name])
                    bar.update(1)
    rows: dict[str, dict[str, Any]] = {}
    for name, _ in ROWS:
        s = summarize(one_shot[name])
        e = summarize_engine(r.engines["shutka"] for r in typed[name])
        rows[name] = {"n": s["n"], "em": s["em"], "es": s["es"], "coverage": s["coverage"],
                      "precision": s["precision"], "lines": len(typed[name]), **e,
                      "p50_ms": percentile(latencies[name].engine_ms, 0.5),
                      "p95_ms": percentile(latencies[name].engine_ms, 0.95)}
    click.echo(format_rows(rows))
    click.echo(f"\n{rows['full']['n']} one-shot tasks and {rows['full']['lines']} typed lines per row in "
               f"{time.monotonic() - t0:.0f} s; Titans learns online in every row; EM/ES: top candidate on every "
               "task; cover/prec: gate coverage and precision (exact or ES >= 0.8); saved / wrong per 100 keystrokes "
               "/ finished: the typing replay, gate on; p50/p95: engine time per keystroke in the replay")
    if out:
        out.write_text(json.dumps({"rows": rows, "tasks": str(tasks), "corpus": str(corpus),
                                   "settings": {"limit": limit, "replay_limit": replay_limit, "packages": wanted}},
                                  indent=2, default=float), encoding="utf-8")

