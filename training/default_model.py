"""`shutka train default`: the bundled default model, reproducibly, in one command.

    shutka train default --corpus CORPUS/train --calibrate-on CORPUS/train/immer --workdir checkpoints/default

1. phase 1 with the `default_cpu` preset on the train corpus only (about 100 minutes on 2 CPU cores;
   resumable: run the same command again after an interruption)
2. export: int8 weights (embeddings as int8 rows), the EAU skip threshold calibrated so 30% of
   requests skip the middle blocks -> assistant/default_model/shutka-small.safetensors
3. the completion ranker and its ablation variants, trained on tasks made from the train corpus's
   files that phase 1 did not train on (`--unseen-by default_cpu`)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from assistant.checkpoints import bundled_checkpoint


def _shutka(*args: str) -> None:
    click.echo("$ shutka " + " ".join(args), err=True)
    result = subprocess.run([sys.executable, "-m", "assistant", *args], check=False)
    if result.returncode != 0:
        raise click.ClickException(f"shutka {args[0]} {args[1]} failed (exit {result.returncode})")


@click.command("default")
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="The bench's train corpus (one folder per package). Never the dev packages.")
@click.option("--calibrate-on", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Code the skip threshold is calibrated on: held out from phase 1, never a dev package "
                   "(the bundled model used CORPUS/train/immer, default_cpu's validation package).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("checkpoints/default"),
              show_default=True, help="Where the fp32 run, resume file and metrics go.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The inference file (default: the bundled checkpoint's path in this package).")
def default_command(corpus: Path, calibrate_on: Path, workdir: Path, out: Path | None) -> None:
    """Train, export and rank: the bundled default model from the train corpus, resumably."""
    out = out or bundled_checkpoint()
    resume = ["--resume"] if (workdir / "last_phase1.safetensors").exists() else []
    if not (workdir / "best_model.pt").exists() or resume:
        _shutka("train", "phase1", "--config", "default_cpu", "--source", str(corpus), "--checkpoint_dir",
                str(workdir), *resume)
    _shutka("train", "export", "--checkpoint", str(workdir / "best_model.pt"), "--out", str(out),
            "--calibrate-on", str(calibrate_on), "--skip-rate", "0.3", "--contexts", "300")
    _shutka("train", "ranker", "--corpus", str(corpus), "--checkpoint", str(out), "--unseen-by", "default_cpu",
            "--examples", str(workdir / "ranker_examples.npz"))
