"""Command-line entry (filled in by its issue)."""

from __future__ import annotations

import click


@click.command("serve")
def command() -> None:
    """Serve the OpenAI-compatible HTTP API."""
    raise click.ClickException("shutka serve is not available yet in this build")
