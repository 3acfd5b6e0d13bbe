"""Fixtures of the TUI tests: an indexed copy of the basic workspace, an app factory, and helpers
that wait for the app's workers instead of sleeping."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.worker import WorkerCancelled

from tui.app import ShutkaApp

FIXED_TIME = time.mktime((2025, 1, 1, 12, 0, 0, 0, 0, -1))
"""Noon in the local time zone: the event log shows 12:00:00 wherever the tests run."""
S = TypeVar("S", bound=Screen[Any])
SETTLE_ROUNDS = 8
"""Rounds of "wait for workers, process messages": a result can start another worker (files → entries)."""


def index_workspace(workspace: Path, checkpoint: Path) -> Path:
    """Index `workspace` with `checkpoint` in this process (as `shutka index` would), then close."""
    from assistant.runtime import open_runtime

    with open_runtime(workspace, checkpoint=checkpoint, sync=True):
        pass
    return workspace


@pytest.fixture
def indexed_workspace(basic_workspace: Path, tiny_checkpoint: Path) -> Path:
    """The basic workspace, indexed by the tiny model."""
    return index_workspace(basic_workspace, tiny_checkpoint)


@pytest.fixture(scope="session")
def other_checkpoint(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer: Any) -> Path:
    """Another tiny random model (another seed): its latents are not the tiny checkpoint's."""
    import torch

    from assistant.checkpoints import save_checkpoint
    from assistant.model.jepa import UltraEfficientTextJEPA

    torch.manual_seed(1)
    model = UltraEfficientTextJEPA(model_size="tiny", vocab_size=tiny_tokenizer.vocab_size)
    return save_checkpoint(tmp_path_factory.mktemp("other-model") / "other.safetensors", model, tiny_tokenizer)


@pytest.fixture
def make_app(tiny_checkpoint: Path) -> Callable[..., ShutkaApp]:
    """`make_app(workspace, **options)`: an app on the tiny model that does not poll unless asked
    (`poll_interval=`), with a fixed clock so logs are reproducible."""

    def make(workspace: Path, **options: Any) -> ShutkaApp:
        options.setdefault("checkpoint", tiny_checkpoint)
        options.setdefault("poll_interval", 0)
        options.setdefault("clock", lambda: FIXED_TIME)
        return ShutkaApp(workspace, **options)

    return make


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until the app's workers finished and their messages were handled."""
    for _ in range(SETTLE_ROUNDS):
        with contextlib.suppress(WorkerCancelled):  # an exclusive worker replaced by a newer one: next round
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in pilot.app.workers):
            return


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 15.0,
                   what: str = "condition") -> None:
    """Process messages until `predicate()` is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; screen {pilot.app.screen}, "
                                 f"events {[e.text for e in pilot.app.events]}, notes {notes(pilot.app)}")
        await pilot.pause(0.05)


async def active(pilot: Pilot[Any], screen_type: type[S]) -> S:
    """Wait until the active screen is a mounted `screen_type` (its widgets composed); -> it."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, screen_type) and pilot.app.screen.is_mounted,
                   what=f"a {screen_type.__name__}")
    screen = pilot.app.screen
    assert isinstance(screen, screen_type)
    return screen


async def opened(pilot: Pilot[Any]) -> ShutkaApp:
    """Wait until the workspace is open and the first view has loaded."""
    app = pilot.app
    assert isinstance(app, ShutkaApp)
    await wait_for(pilot, lambda: app.runtime is not None and app.current_mode != "_default",
                   what="the workspace to open")
    await settle(pilot)
    return app


def notes(app: ShutkaApp) -> list[str]:
    """The notifications on screen, as `title: message` (Textual keeps them in a private list)."""
    return [f"{n.title}: {n.message}" for n in app._notifications]


def errors(app: ShutkaApp) -> list[str]:
    """Error lines of the app's event log (every failure the app reported lands there)."""
    import logging

    return [line.text for line in app.events if line.level >= logging.ERROR]
