"""Kaggle glue — the only module that knows `/kaggle/input` and `/kaggle/working`.

`python -m training.kaggle detect | phase1 | phase2 | bundle | evaluate | all` finds the TypeScript corpora attached
to the notebook, picks the preset for the GPUs present (two T4s: `kaggle_t4x2` under
`torchrun --nproc_per_node=2`; one: `kaggle_t4`), runs the phases as subprocesses into
/kaggle/working/checkpoints, packs /kaggle/working/shutka_v2_bundle.zip and (`evaluate`) writes the
eval suites' reports beside it. Extra flags after `--` go to
the training scripts unchanged (e.g. `-- --max_samples 50000`).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import click

log = logging.getLogger(__name__)

KAGGLE_INPUT = Path("/kaggle/input")
KAGGLE_WORKING = Path("/kaggle/working")
CHECKPOINT_DIR = KAGGLE_WORKING / "checkpoints"
BUNDLE = KAGGLE_WORKING / "shutka_v2_bundle.zip"
REPO = Path(__file__).resolve().parents[1]
PHASE_MINUTES = {"phase1": 480, "phase2": 180}
"""A Kaggle session ends after 12 hours: 8 h for phase 1, 3 h for phase 2, the rest for setup and the bundle."""
SCRIPTS = {"phase1": "train_typescript.py", "phase2": "train_real_data.py"}


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count()


def preset_for(gpus: int) -> str:
    return "kaggle_t4x2" if gpus >= 2 else "kaggle_t4" if gpus == 1 else "default_cpu"


def find_corpora(root: Path = KAGGLE_INPUT) -> list[Path]:
    """Attached datasets (or their sub-folders) that hold .ts/.tsx files; the Shutka sources are skipped."""
    found = []
    for dataset in sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []:
        for folder in (dataset, *sorted(p for p in dataset.glob("*") if p.is_dir())):
            if (folder / "pyproject.toml").is_file():
                break  # the project itself, attached as a dataset to install it
            if next(folder.rglob("*.ts"), None) is not None or next(folder.rglob("*.tsx"), None) is not None:
                found.append(folder)
                break
    return found


def phase_command(phase: str, gpus: int, sources: list[Path], extra: tuple[str, ...] = ()) -> list[str]:
    """The command line of one phase: torchrun with one process per GPU when there are two or more."""
    script = str(REPO / "training" / SCRIPTS[phase])
    launch = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}", script]
              if gpus >= 2 else [sys.executable, script])
    args = ["--config", preset_for(gpus), "--checkpoint_dir", str(CHECKPOINT_DIR),
            "--max_minutes", str(PHASE_MINUTES[phase])]
    for source in sources:
        args += ["--source", str(source)]
    if phase == "phase2":
        args.append("--resume")
    return [*launch, *args, *extra]


def bundle_command() -> list[str]:
    """Re-pack the bundle phase 2 wrote (e.g. after replacing best_model.pt): model, Titans memory and the
    memory bank — the guide's /kaggle/working/memory_bank when it exists, else the one phase 2 built."""
    cmd = [sys.executable, "-c", "from assistant.cli import main; main()", "bundle", "pack",
           "--checkpoint", str(CHECKPOINT_DIR / "best_model.pt"), "-o", str(BUNDLE)]
    if (CHECKPOINT_DIR / "best_model_titans.pt").is_file():
        cmd += ["--titans", str(CHECKPOINT_DIR / "best_model_titans.pt")]
    bank = next((b for b in (KAGGLE_WORKING / "memory_bank", CHECKPOINT_DIR / "memory_bank") if b.is_dir()), None)
    if bank is not None:
        cmd += ["--bank", str(bank)]
    return cmd


def _run(cmd: list[str]) -> None:
    click.echo("$ " + " ".join(cmd), err=True)
    done = subprocess.run(cmd, cwd=REPO, check=False)
    if done.returncode != 0:
        raise click.ClickException(f"{cmd[1] if len(cmd) > 1 else cmd[0]} exited with {done.returncode}")


def _sources(given: tuple[str, ...]) -> list[Path]:
    sources = [Path(s) for s in given] or find_corpora()
    if not sources:
        raise click.UsageError(f"no TypeScript corpus under {KAGGLE_INPUT}: attach one (Add data) or pass --source")
    return sources


source_option = click.option("--source", "sources", multiple=True, help="Corpus folder (default: every attached one).")
extra_args = click.argument("extra", nargs=-1, type=click.UNPROCESSED)
passthrough = {"ignore_unknown_options": True}


@click.group()
def cli() -> None:
    """Run Shutka's training on a Kaggle notebook (one or two T4s)."""


@cli.command()
def detect() -> None:
    """Print the GPUs, the preset that fits them and the corpora found."""
    gpus = gpu_count()
    click.echo(json.dumps({"gpus": gpus, "preset": preset_for(gpus), "launcher": "torchrun" if gpus >= 2 else "python",
                           "corpora": [str(p) for p in find_corpora()], "checkpoint_dir": str(CHECKPOINT_DIR)},
                          indent=2))


@cli.command(context_settings=passthrough)
@source_option
@extra_args
def phase1(sources: tuple[str, ...], extra: tuple[str, ...]) -> None:
    """Phase 1 on the attached corpora."""
    _run(phase_command("phase1", gpu_count(), _sources(sources), extra))


@cli.command(context_settings=passthrough)
@source_option
@extra_args
def phase2(sources: tuple[str, ...], extra: tuple[str, ...]) -> None:
    """Phase 2, from the phase-1 model (add `-- --instruction-source hf:OWNER/NAME` for a hub set)."""
    _run(phase_command("phase2", gpu_count(), _sources(sources), extra))


@cli.command()
def bundle() -> None:
    """Pack best_model.pt + best_model_titans.pt + the memory bank into /kaggle/working/shutka_v2_bundle.zip
    (phase 2 already wrote it; this packs it again)."""
    _run(bundle_command())


@cli.command()
def evaluate() -> None:
    """Run the syntax and algorithmic suites on best_model.pt; reports in /kaggle/working/eval_<suite>.json."""
    for suite in ("algorithmic", "syntax"):
        _run([sys.executable, "-c", "from training.evaluation.suites import suite_command; suite_command()", suite,
              "--checkpoint", str(CHECKPOINT_DIR / "best_model.pt"), "--out", str(KAGGLE_WORKING / f"eval_{suite}.json")])


@cli.command("all", context_settings=passthrough)
@source_option
@extra_args
def run_all(sources: tuple[str, ...], extra: tuple[str, ...]) -> None:
    """Phase 1, then phase 2 (which ends by writing the bundle)."""
    found, gpus = _sources(sources), gpu_count()
    _run(phase_command("phase1", gpus, found, extra))
    _run(phase_command("phase2", gpus, found, extra))


if __name__ == "__main__":
    cli()
