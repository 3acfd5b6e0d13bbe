"""Command-line entry (filled in by its issue)."""

from __future__ import annotations

import click


@click.group("train")
def group() -> None:
    """Train the model (phase1, phase2)."""
