"""Command-line entry (filled in by its issue)."""

from __future__ import annotations

import click


@click.command("index")
def index_command() -> None:
    """Build or update PATH's index."""
    raise click.ClickException("shutka index is not available yet in this build")

@click.command("watch")
def watch_command() -> None:
    """Keep PATH's index in sync until interrupted."""
    raise click.ClickException("shutka watch is not available yet in this build")
