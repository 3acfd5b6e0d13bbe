"""The `--no-…` ablation flags shared by `shutka eval` and `shutka eval replay` (and their
`--saved-as-visible`), and the tasks / corpus / checkpoint options of the replay and ablation commands
(click only, so the CLI loads fast); `harness.ablation_switches` turns the flags into the engine's switches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

ABLATION_FLAGS = (
    ("--no-hoprag", "Ablation: no cross-file (code graph) retrieval."),
    ("--no-titans", "Ablation: no Titans read-out."),
    ("--no-decoding", "Ablation: retrieval only (no token-head scoring or generation)."),
    ("--no-latent", "Ablation: no JEPA latent similarity or bank search."),
    ("--no-generation", "Ablation: no generated candidates."),
    ("--no-edit", "Ablation: no copy-and-edit candidates."),
)


def ablation_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add the ablation flags to a click command, in ABLATION_FLAGS order."""
    for flag, text in reversed(ABLATION_FLAGS):
        f = click.option(flag, is_flag=True, help=text)(f)
    return f


def task_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add --tasks, --corpus (both required) and --checkpoint to a click command."""
    f = click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Model (default: the bundled one).")(f)
    f = click.option("--corpus", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="Corpus folder: one sub-folder per package.")(f)
    return click.option("--tasks", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        help="Tasks JSONL (the bench format: ../shared/bench/README.md).")(f)


def saved_as_visible_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add --saved-as-visible (harness `EvalSettings.saved_as_visible`) to a click command."""
    return click.option("--saved-as-visible", is_flag=True,
                        help="Run on a temporary copy of each package where the task's file is saved and re-indexed "
                             "as it stands at the task's line, so that the code graph, the bank and the imports "
                             "hold none of the lines at or below it either (slower: two syncs per task line).")(f)
