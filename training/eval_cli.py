"""Command-line entry (filled in by its issue)."""

from __future__ import annotations

import click


@click.command("eval")
def command() -> None:
    """Measure completion quality on line-completion tasks."""
    raise click.ClickException("shutka eval is not available yet in this build")
