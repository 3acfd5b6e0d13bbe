"""Command-line entry (filled in by its issue)."""

from __future__ import annotations

import click


@click.group("bundle")
def group() -> None:
    """Pack or unpack a checkpoint + Titans + bank bundle."""
