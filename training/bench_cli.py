"""Command-line entry (filled in by its issue)."""

from __future__ import annotations

import click


@click.group("bench")
def group() -> None:
    """Performance figures."""
