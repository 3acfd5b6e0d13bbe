"""`shutka tui [PATH] [--checkpoint PATH] [--watch]`: the memory browser."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import click


@click.command("tui")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path), default=".")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model that encodes the bank (default: $SHUTKA_CHECKPOINT, then the bundled one).")
@click.option("--watch", is_flag=True, help="Also keep the index in sync with the disk from this process.")
@click.option("--poll", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              help="Seconds between checks for index changes made by other processes.")
def command(path: Path, checkpoint: Path | None, watch: bool, poll: float) -> None:
    """Browse, search and edit what the assistant remembers (memory bank, Titans memory), see the
    index's status live, and ask why a completion came."""
    from tui.app import ShutkaApp

    app = ShutkaApp(path, checkpoint=checkpoint, watch=watch, poll_interval=poll)
    with logs_off_the_terminal():
        app.run()


@contextlib.contextmanager
def logs_off_the_terminal() -> Iterator[None]:
    """While the app owns the terminal, log lines for stderr go to Textual's log instead (a line on
    stderr would tear the screen); file handlers (`--log-file`) stay. Restored afterwards."""
    from textual.logging import TextualHandler

    root = logging.getLogger()
    saved = list(root.handlers)
    terminal = [h for h in saved if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
                and getattr(h, "stream", None) in (sys.stderr, sys.stdout)]
    replacement = TextualHandler(stderr=False)
    if terminal:
        replacement.setFormatter(terminal[0].formatter)
    root.handlers[:] = [h for h in saved if h not in terminal] + [replacement]
    try:
        yield
    finally:
        root.handlers[:] = saved
