"""`shutka train phase1 | phase2 | profile`: the training entry points. `training/train_typescript.py`
and `training/train_real_data.py` run the same commands with the Kaggle workflow's flags.

Every command prints the settings' validation report (TrainingConfig's, then ours) before any work
starts and exits 2 when it has an error.
"""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from indexer.errors import ConfigError, ShutkaError

log = logging.getLogger(__name__)


class TrainCommand(click.Command):
    """Translates domain errors when run standalone (the scripts); under `shutka` the root does it."""

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.parent is not None:
            return super().invoke(ctx)
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.UsageError(str(exc), ctx) from None
        except ShutkaError as exc:
            raise click.ClickException(str(exc)) from None


def run_standalone(command: click.Command, prog_name: str) -> None:
    """Entry for the training scripts: INFO logs on stderr (rank 0 only under torchrun), then the command."""
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    command.main(prog_name=prog_name)


def common_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by both phases; Kaggle-style underscores and dashes are both accepted."""
    options = [
        click.option("--config", "config", metavar="FILE.toml|PRESET",
                     help="Settings file ([train] [data] [optim] [run]) or a preset: tiny_cpu, default_cpu, "
                          "kaggle_t4, kaggle_t4x2."),
        click.option("--source", "sources", multiple=True, metavar="SPEC",
                     help="Code source (repeatable): a folder of .ts/.tsx (one sub-folder per package), "
                          "a .json/.jsonl/.parquet file, hf:owner/name[?data_dir=…&lang=…], workspace:PATH. "
                          "None at all: the default hub dataset(s) that --check names."),
        click.option("--batch_size", "--batch-size", "batch_size", type=int, help="Sequences per device per micro-step."),
        click.option("--epochs", "--num_epochs", "epochs", type=int, help="Passes over the training split."),
        click.option("--learning_rate", "--learning-rate", "learning_rate", type=float, help="Peak AdamW learning rate."),
        click.option("--model_size", "--model-size", "model_size", type=click.Choice(["tiny", "small", "base"])),
        click.option("--checkpoint_dir", "--checkpoint-dir", "checkpoint_dir",
                     type=click.Path(file_okay=False), help="Where checkpoints, metrics and data stats go."),
        click.option("--resume", "resume", is_flag=False, flag_value="auto", default=None, metavar="[PATH]",
                     help="Continue: alone, the last run of this phase in --checkpoint_dir (phase 2: else the "
                          "phase-1 best_model.pt); with a path, that resume file or model checkpoint."),
        click.option("--init", "init", type=click.Path(dir_okay=False, exists=True),
                     help="Start from this Shutka checkpoint's weights and tokenizer (a new run)."),
        click.option("--max_steps", "--max-steps", "max_steps", type=int, help="Stop (saving) after this many steps."),
        click.option("--max_minutes", "--max-minutes", "max_minutes", type=float,
                     help="Stop (saving) after this many minutes."),
        click.option("--seed", type=int),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"])),
        click.option("--num_threads", "--num-threads", "num_threads", type=int, help="torch threads on CPU."),
        click.option("--gradient_checkpointing/--no-gradient_checkpointing", "gradient_checkpointing",
                     default=None, help="Recompute trunk blocks in backward (less memory, ~15% slower)."),
        click.option("--no-progress", "no_progress", is_flag=True, help="No progress bar."),
        click.option("--check", "check_only", is_flag=True, help="Print the validation report and exit."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _settings(phase: str, kw: dict[str, Any], data: dict[str, Any]) -> Any:
    from training.config import load_settings

    overrides = {
        "train": {"batch_size": kw["batch_size"], "num_epochs": kw["epochs"], "learning_rate": kw["learning_rate"],
                  "model_size": kw["model_size"], "gradient_checkpointing": kw["gradient_checkpointing"]},
        "data": {"sources": list(kw["sources"]) or None, **data},
        "run": {"checkpoint_dir": kw["checkpoint_dir"], "max_steps": kw["max_steps"],
                "max_minutes": kw["max_minutes"], "seed": kw["seed"], "device": kw["device"],
                "num_threads": kw["num_threads"], "progress": False if kw["no_progress"] else None},
    }
    return load_settings(kw["config"], overrides).with_default_sources(phase)  # type: ignore[arg-type]


def _run(phase: str, kw: dict[str, Any], data: dict[str, Any]) -> None:
    from training.config import Settings

    settings: Settings = _settings(phase, kw, data)
    rank = int(os.environ.get("RANK", "0"))
    ok = settings.print_validation_report(phase, file=sys.stdout if rank == 0 else io.StringIO())
    if not ok:
        raise click.exceptions.Exit(2)
    if kw["check_only"]:
        return
    if settings.data.num_workers > 0:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # workers fork after the tokenizer ran
    from training.data.sources import HubUnreachable, SourceSpec
    from training.errors import DataError
    from training.run import run_phase

    try:
        result = run_phase(phase, settings, resume=kw["resume"], init=kw["init"])  # type: ignore[arg-type]
    except HubUnreachable as exc:
        if exc.location not in {SourceSpec.parse(s).location for s in settings.defaulted}:
            raise
        why = "offline: HF_HUB_OFFLINE/HF_DATASETS_OFFLINE is set" if exc.offline else exc.reason
        raise DataError(f"the default hub dataset {exc.source} could not be reached ({why}) and nothing of it "
                        "is cached: pass --source with a folder of .ts files, a .jsonl/.json/.parquet table "
                        "or hf:owner/name") from None
    if rank == 0:
        _summary(phase, settings, result)


def _summary(phase: str, settings: Any, result: Any) -> None:
    """What the run read and wrote (rank 0)."""
    import json

    out = Path(settings.run.checkpoint_dir)
    stats = json.loads((out / f"data_{phase}.json").read_text(encoding="utf-8"))
    click.echo(f"data: {stats['train_files']} train / {stats['val_files']} validation files, "
               f"{stats['train_pairs']} / {stats['val_pairs']} instruction pairs, {stats['train_sequences']} "
               f"training sequences; skipped {stats['skipped']['counts'] or 'nothing'}; "
               f"left out {({k: v for k, v in stats['dropped'].items() if v}) or 'nothing'}")
    click.echo(f"{phase}: {result.steps} steps ({result.stop_reason}); best {settings.run.best_metric} "
               f"{result.best_metric if result.best_metric is not None else 'n/a'}")
    for label, path in result.files.items():
        click.echo(f"  {label:<17} {path}")
    for note in result.notes:
        click.echo(f"  note: {note}")


@click.group("train")
def group() -> None:
    """Train the model: phase1 (TypeScript), phase2 (instruction → code), profile (speed and memory)."""


@group.command("phase1", cls=TrainCommand)
@common_options
@click.option("--max_samples", "--max-samples", "max_samples", type=int,
              help="Code documents (files/rows) kept at most, sampled across packages.")
def phase1(**kw: Any) -> None:
    """Phase 1: next line, signature → body, declaration → use and fill-in-the-middle on TypeScript."""
    _run("phase1", kw, {"max_samples": kw["max_samples"]})


@group.command("phase2", cls=TrainCommand)
@common_options
@click.option("--instruction-source", "--instruction_source", "instruction_sources", multiple=True, metavar="SPEC",
              help="Instruction set (repeatable): a table or hf:ID with instruction/output-like columns "
                   "(markdown answers keep their fenced code).")
@click.option("--code_samples", "--code-samples", "code_samples", type=int,
              help="Code documents kept at most (their phase-1 views and mined JSDoc pairs).")
@click.option("--instruction_samples", "--instruction-samples", "instruction_samples", type=int,
              help="Instruction pairs kept at most.")
def phase2(**kw: Any) -> None:
    """Phase 2: instruction → code pairs (hub/table sets and JSDoc → implementation mined offline) mixed
    with code; starts from the phase-1 model (--resume finds best_model.pt in --checkpoint_dir). Ends by
    writing shutka_v2_bundle.zip (model, Titans memory, memory bank) beside --checkpoint_dir."""
    _run("phase2", kw, {"instruction_sources": list(kw["instruction_sources"]) or None,
                        "max_samples": kw["code_samples"], "instruction_samples": kw["instruction_samples"]})


@group.command("profile", cls=TrainCommand)
@click.option("--config", "config", default="default_cpu", show_default=True, metavar="FILE.toml|PRESET")
@click.option("--steps", type=int, default=5, show_default=True, help="Timed optimizer steps (after one warm-up step).")
@click.option("--batch_size", "--batch-size", "batch_size", type=int)
@click.option("--gradient_checkpointing/--no-gradient_checkpointing", "gradient_checkpointing", default=None)
@click.option("--num_threads", "--num-threads", "num_threads", type=int)
@click.option("--compare-checkpointing", is_flag=True,
              help="Run with and without gradient checkpointing (fresh processes) and report the memory ratio.")
def profile(config: str, steps: int, batch_size: int | None, gradient_checkpointing: bool | None,
            num_threads: int | None, compare_checkpointing: bool) -> None:
    """Tokens/s and peak memory of training steps for a config (synthetic batches of its shape), as JSON."""
    import json

    from training.profile import compare_checkpointing as compare
    from training.profile import profile_steps

    overrides = {"train": {"batch_size": batch_size, "gradient_checkpointing": gradient_checkpointing},
                 "run": {"num_threads": num_threads}}
    if compare_checkpointing:
        click.echo(json.dumps(compare(config, steps, overrides), indent=2))
    else:
        click.echo(json.dumps(profile_steps(config, steps, overrides), indent=2))



def _ranker() -> click.Command:
    from training.ranker_training import ranker_command

    return ranker_command


group.add_command(_ranker(), "ranker")


def _export() -> click.Command:
    from training.export import export_command

    return export_command


group.add_command(_export(), "export")


def _default() -> click.Command:
    from training.default_model import default_command

    return default_command


group.add_command(_default(), "default")
