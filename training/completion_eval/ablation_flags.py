"""The `--no-…` ablation flags shared by `shutka eval` and `shutka eval replay` (click only, so the CLI
loads fast); `harness.ablation_switches` turns them into the engine's switches."""

from __future__ import annotations

from collections.abc import Callable
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
