"""`shutka eval ablations`: does each model component earn its place? One table, every row measured in
the same run on the same runtime (each package indexed once, every signal computed):

    full           the product, as the default `[completion]` settings run it
    +token-head    the token head on (scoring and generation) when the product has it off, else
    no-token-head  the token head off
    no-latent      no JEPA latent similarity, no bank search
    no-generation  no generated candidates (the token head still scores; only when the product has it on)
    no-titans      no Titans read-out or recall (the others learn online)
    no-hoprag      no cross-file retrieval

Each row: the one-shot eval (EM / ES, gate coverage and precision) on every task, and the typing replay
(characters saved, wrong suggestions per 100 keystrokes, lines finished, engine time per keystroke p50/p95)
on the first `--replay-limit` lines of each package. Titans learns online in every row (each task's and
each replayed line after it is asked), as it does in an editor; a row runs the ranker trained without the
groups it has off (`shutka train ranker` writes them), where there is one.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from assistant.engine.pipeline import Switches
from training.completion_eval.ablation_flags import task_options


def rows_for(product: Switches) -> list[tuple[str, Switches]]:
    """The table's rows around `product`: each component flipped in turn (see the module)."""
    head = not product.decoding
    rows = [("full", product),
            ("+token-head" if head else "no-token-head", replace(product, decoding=head, generation=head))]
    for group in ("latent", "generation", "titans", "hoprag"):
        if getattr(product, group) and (group != "generation" or product.decoding):
            rows.append((f"no-{group}", replace(product, **{group: False})))
    return rows


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
        open_package,
        product_switches,
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
    for name, switches in rows_for(product_switches()):
        base = EvalSettings(switches, online_titans=True, every_signal=True)
        settings[name], note = with_variant_ranker(base, checkpoint)
        if note:
            click.echo(f"{name}: {note}", err=True)
    one_shot: dict[str, list[Any]] = defaultdict(list)
    typed: dict[str, list[Any]] = defaultdict(list)
    latencies = {name: Latencies() for name in settings}
    t0 = time.monotonic()
    with tqdm(total=len(wanted) * len(settings), unit="row", file=sys.stderr, desc="ablations") as bar:
        for pkg in wanted:
            chosen = grouped[pkg][:limit] if limit else grouped[pkg]
            lines = sorted(grouped[pkg], key=lambda t: (t.file, t.line_no))[:replay_limit]
            with open_package(folders[pkg], checkpoint, settings["full"]) as runtime:
                for name in settings:
                    bar.set_postfix_str(f"{pkg} {name}")
                    runtime.parts.completer.clear_caches()
                    one_shot[name] += run_package(runtime, chosen, settings[name])
                    typed[name] += replay_package(runtime, lines, settings=settings[name], latencies=latencies[name])
                    bar.update(1)
    rows: dict[str, dict[str, Any]] = {}
    for name in settings:
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

