"""Command-line entry (filled in by its issue)."""

from __future__ import annotations

import click


@click.command("tui")
def command() -> None:
    """Browse and edit what the assistant remembers."""
    raise click.ClickException("shutka tui is not available yet in this build")
