"""Training the ranker that ships with a checkpoint (`shutka train ranker`).

1. Tasks are made from training files the language model did NOT train on (`--unseen-by` the run's
   config: its held-out packages and files and those its per-package cap left out; fitted on code the
   model has seen, the ranker over-trusts the token head's confidence, measured: 22.7 EM with vs 23.3
   without those features on dev); never from the dev packages. The files the model saw stay in the
   index as context, as a user's workspace would hold them. Each package is indexed
   by the real runtime, and the engine analyses every task under the bench's visibility rule with
   online Titans learning on (the user's lines are written after each task, file by file), so every
   signal, the memory's included, appears as it will at completion time.
2. The examples (options' features, task features, index of the right option) are cached as .npz.
3. A listwise ranker (five seeds, averaged into one) is fitted on most packages and calibrated
   (temperature) on held-out ones; one variant per set of ablation groups (VARIANTS) is fitted with
   those groups' features zeroed, so `shutka eval --no-…` measures a ranker that never relied on the
   missing signals.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from pathlib import Path

import click
import numpy as np

from assistant.engine.features import FEATURES, TASK_FEATURES, ablate
from assistant.engine.ranker import VARIANTS, Ranker, RankingExample, variant_path
from training.completion_eval.harness import EvalSettings, open_package, run_package
from training.completion_eval.keystroke_tasks import with_keystrokes
from training.completion_eval.make_tasks import make_tasks
from training.completion_eval.tasks import package_folders

log = logging.getLogger(__name__)


def save_examples(path: Path, examples: list[RankingExample], packages: list[str]) -> None:
    counts = np.array([len(e.features) for e in examples], dtype=np.int64)
    feats = np.concatenate([e.features.reshape(-1, len(FEATURES)) for e in examples]) if examples else \
        np.zeros((0, len(FEATURES)), np.float32)
    np.savez_compressed(path, counts=counts, features=feats, task=np.stack([e.task for e in examples]),
                        gold=np.array([e.gold for e in examples]), packages=np.array(packages))


def load_examples(path: Path) -> tuple[list[RankingExample], list[str]]:
    with np.load(path, allow_pickle=False) as data:  # each data[key] decompresses the array again: once each
        features, tasks, golds = data["features"], data["task"], data["gold"]
        counts, packages = data["counts"], data["packages"]
    if features.shape[1] != len(FEATURES) or tasks.shape[1] != len(TASK_FEATURES):
        raise click.ClickException(f"{path}: examples were computed for other features; collect them again")
    out, start = [], 0
    for n, task, gold in zip(counts, tasks, golds, strict=True):
        out.append(RankingExample(features[start : start + n], task, int(gold)))
        start += n
    return out, [str(p) for p in packages]


def files_seen_by(config: str, corpus: Path) -> dict[str, frozenset[str]]:
    """Per package folder name: the files of `corpus` that phase 1 with `config` trains on."""
    from training.config import load_settings
    from training.data.corpus import load_corpus

    settings = load_settings(config, {"data": {"sources": [str(corpus)]}})
    seen: dict[str, set[str]] = {}
    for doc in load_corpus(settings.data, "phase1").train:
        seen.setdefault(doc.package, set()).add(doc.path)
    return {pkg: frozenset(paths) for pkg, paths in seen.items()}


def collect(corpus: Path, checkpoint: Path | None, packages: Iterable[str], files: int, lines: int,
            seed: int, files_per_dir: int = 3, seen: dict[str, frozenset[str]] | None = None,
            keystrokes: int = 0) -> tuple[list[RankingExample], list[str]]:
    from tqdm import tqdm

    folders = package_folders(corpus)
    examples: list[RankingExample] = []
    owners: list[str] = []
    settings = EvalSettings(online_titans=True, every_signal=True)
    for pkg in packages:
        if pkg not in folders:
            raise click.ClickException(f"package {pkg} is not in {corpus}")
        exclude = (seen or {}).get(folders[pkg].name, frozenset())
        tasks = make_tasks(folders[pkg], pkg, files, lines, seed=seed, max_files_per_dir=files_per_dir,
                           exclude=exclude)
        tasks = with_keystrokes(tasks, keystrokes)
        if not tasks:
            log.info("%s: no file left to make tasks from (the model trained on all of them)", pkg)
            continue
        with open_package(folders[pkg], checkpoint, settings) as runtime, \
                tqdm(total=len(tasks), desc=pkg, unit="task", file=sys.stderr) as bar:
            before = len(examples)
            run_package(runtime, tasks, settings, progress=bar.update, examples=examples)
            owners += [pkg] * (len(examples) - before)
    return examples, owners


def split_examples(examples: list[RankingExample], owners: list[str], valid: str
                   ) -> tuple[list[RankingExample], list[RankingExample]]:
    """`valid`: comma-separated packages held out, or `fraction:F` = the last F of each package's
    examples (tasks come file by file, so that holds out whole files)."""
    if valid.startswith("fraction:"):
        share = float(valid.split(":", 1)[1])
        per: dict[str, list[int]] = {}
        for i, p in enumerate(owners):
            per.setdefault(p, []).append(i)
        held = {i for idx in per.values() for i in idx[len(idx) - int(len(idx) * share):]}
        return ([e for i, e in enumerate(examples) if i not in held], [e for i, e in enumerate(examples) if i in held])
    names = {p.strip() for p in valid.split(",") if p.strip()}
    return ([e for e, p in zip(examples, owners, strict=True) if p not in names],
            [e for e, p in zip(examples, owners, strict=True) if p in names])


def fit_all(examples: list[RankingExample], owners: list[str], valid_spec: str
            ) -> tuple[Ranker, dict[tuple[str, ...], Ranker], dict[str, float]]:
    """The main ranker and one variant per set of VARIANTS (fitted with those groups' features zeroed)."""
    train, valid = split_examples(examples, owners, valid_spec)
    main = Ranker.fit_ensemble(train, valid)

    def drop(es: list[RankingExample], groups: tuple[str, ...]) -> list[RankingExample]:
        return [RankingExample(ablate(e.features, groups) if len(e.features) else e.features, e.task, e.gold)
                for e in es]

    variants = {groups: Ranker.fit_ensemble(drop(train, groups), drop(valid, groups)) for groups in VARIANTS}
    report = {"train_tasks": len(train), "valid_tasks": len(valid),
              "valid_top1": _top1(main, valid), "valid_oracle": _oracle(valid),
              **{f"valid_top1_no_{'+'.join(g)}": _top1(r, drop(valid, g)) for g, r in variants.items()}}
    return main, variants, report


def _top1(ranker: Ranker, examples: list[RankingExample]) -> float:
    hits = 0
    for e in examples:
        if len(e.features):
            p, _ = ranker.probabilities(e.features, e.task)
            hits += int(np.argmax(p)) == e.gold
    return 100.0 * hits / max(1, len(examples))


def _oracle(examples: list[RankingExample]) -> float:
    return 100.0 * sum(e.gold >= 0 for e in examples) / max(1, len(examples))


@click.command("ranker")
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Training corpus (one folder per package): never the dev packages.")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--packages", help="Comma-separated packages (default: every package of the corpus).")
@click.option("--exclude", default="", help="Packages left out (comma-separated).")
@click.option("--unseen-by", "unseen_by", metavar="CONFIG",
              help="The checkpoint's phase-1 config (TOML or preset): tasks only from files that run did not "
                   "train on.")
@click.option("--valid", default="fraction:0.2", show_default=True,
              help="Held out to calibrate and report: comma-separated packages, or fraction:F of each package's files.")
@click.option("--files", default=150, show_default=True, help="Files sampled per package.")
@click.option("--lines", default=24, show_default=True,
              help="Lines sampled per file (more examples, a ranker that varies less between runs).")
@click.option("--files-per-dir", default=12, show_default=True, help="Files sampled per folder at most.")
@click.option("--keystrokes", default=3, show_default=True,
              help="Extra cursor positions per sampled line, anywhere in it (mid-word too): the gate learns "
                   "where an editor asks, after every keystroke.")
@click.option("--seed", default=0, show_default=True)
@click.option("--examples", "examples_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Cache of collected examples (.npz): reused when it exists.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Ranker file (default: <checkpoint stem>.ranker.safetensors beside the checkpoint).")
def ranker_command(corpus: Path, checkpoint: Path, packages: str | None, exclude: str, unseen_by: str | None,
                   valid: str, files: int, lines: int, files_per_dir: int, keystrokes: int, seed: int,
                   examples_path: Path | None, out: Path | None) -> None:
    """Train the completion ranker (and its ablation variants) for CHECKPOINT on tasks made from CORPUS."""
    out = out or checkpoint.with_name(checkpoint.stem + ".ranker.safetensors")
    if examples_path is not None and examples_path.exists():
        examples, owners = load_examples(examples_path)
        click.echo(f"loaded {len(examples)} examples from {examples_path}", err=True)
    else:
        skip = {p.strip() for p in exclude.split(",") if p.strip()}
        names = [p.strip() for p in packages.split(",")] if packages else \
            [p for p in package_folders(corpus) if p not in skip]
        seen = files_seen_by(unseen_by, corpus) if unseen_by else None
        examples, owners = collect(corpus, checkpoint, names, files, lines, seed, files_per_dir, seen, keystrokes)
        if examples_path is not None:
            save_examples(examples_path, examples, owners)
    main, variants, report = fit_all(examples, owners, valid)
    main.save(out)
    for groups, ranker in variants.items():
        ranker.save(variant_path(out, groups))
    click.echo(f"ranker -> {out} (temperature {main.temperature:.2f}); " +
               ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in report.items()))
