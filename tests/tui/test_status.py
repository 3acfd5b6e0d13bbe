"""The status view, and live index events: a watcher in another runtime, and `shutka watch` in another
process, write the shared index while the TUI reads it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.runtime import build_runtime
from tests.tui.conftest import errors, opened, settle, wait_for
from tui.app import ShutkaApp
from tui.screens.status import StatusScreen
from tui.widgets.bank_tree import BankTree, FileNode
from tui.widgets.status_panel import StatusPanel
from tui.widgets.sync_log import SyncLog

EXTRA = "export function triple(n: number): number {\n  return n * 3;\n}\n"
POLL_S = 0.1
"""Tests poll fast; the app's default is 1 s."""


def log_text(app: ShutkaApp) -> str:
    return "\n".join(line.text for line in app.events)


def tree_counts(app: ShutkaApp) -> dict[str, int]:
    """Entries per file as the bank view's tree shows them (the view must be mounted)."""
    nodes = next(s for s in app.screen_stack if s.query(BankTree)).query_one(BankTree).file_nodes()
    return {p: n.data.count for p, n in nodes.items() if isinstance(n.data, FileNode)}


async def test_status_fields_and_sync_now(indexed_workspace: Path, make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(indexed_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("f4")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, StatusScreen)
        panel = screen.query_one(StatusPanel).plain
        stats = app.assistant.bank_stats()
        for expected in (str(indexed_workspace), "tiny.safetensors", f"{stats.entries} entries in 4 files",
                         "on disk", "in memory", "matches the loaded model", "none by this process"):
            assert expected in panel, expected
        assert screen.query_one(SyncLog).lines  # the "opened" event was replayed
        (indexed_workspace / "src" / "extra.ts").write_text(EXTRA, encoding="utf-8")
        await pilot.press("s")  # a task dialog with progress (quick here: one new file)
        await wait_for(pilot, lambda: "Last sync" in (p := screen.query_one(StatusPanel).plain)
                       and "generation 2: +1" in p, what="the last sync in the panel")
        assert "this process: sync generation 2: +1 -0 files" in log_text(app)
        assert not errors(app)


async def test_watch_keeps_the_index_in_sync_from_this_process(indexed_workspace: Path,
                                                                make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(indexed_workspace, watch=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        (indexed_workspace / "src" / "extra.ts").write_text(EXTRA, encoding="utf-8")
        await wait_for(pilot, lambda: "src/extra.ts" in tree_counts(app), what="the watcher's sync")
        assert "this process: sync generation" in log_text(app)
        assert "another process" not in log_text(app)
        assert not errors(app)


@pytest.fixture
def second_runtime(indexed_workspace: Path, tiny_checkpoint: Path) -> Iterator[object]:
    """Another runtime on the same workspace with its watcher running (its own catalog and bank
    connections: to the TUI it is another writer, like the language server)."""
    runtime = build_runtime(indexed_workspace, checkpoint=tiny_checkpoint)
    runtime.start_watcher()
    yield runtime
    runtime.close()


async def test_a_watcher_writes_while_the_tui_reads(indexed_workspace: Path, second_runtime: object,
                                                    make_app: Callable[..., ShutkaApp]) -> None:
    app = make_app(indexed_workspace, poll_interval=POLL_S)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        src = indexed_workspace / "src"
        (src / "extra.ts").write_text(EXTRA, encoding="utf-8")
        await wait_for(pilot, lambda: "src/extra.ts" in tree_counts(app), what="the new file in the tree")
        assert "another process:" in log_text(app) and "src/extra.ts (new," in log_text(app)
        for i in range(3):  # more writes while the views keep reading
            (src / f"more{i}.ts").write_text(EXTRA.replace("triple", f"times{i}"), encoding="utf-8")
        (src / "point.ts").unlink()
        await wait_for(pilot, lambda: {"src/more0.ts", "src/more1.ts", "src/more2.ts"} <= set(tree_counts(app))
                       and "src/point.ts" not in tree_counts(app), what="the later writes")
        await pilot.press("f4")
        await settle(pilot)
        assert isinstance(app.screen, StatusScreen)
        assert "src/point.ts (gone)" in "\n".join(str(line) for line in app.screen.query_one(SyncLog).lines)
        assert not errors(app)
    # reading never disturbed the writer: the index matches a fresh chunking of the disk
    result = second_runtime.assistant.verify()  # type: ignore[attr-defined]
    assert result.ok, result.differences


@pytest.mark.e2e
async def test_shutka_watch_in_another_process(indexed_workspace: Path, tiny_checkpoint: Path,
                                               make_app: Callable[..., ShutkaApp]) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    watcher = subprocess.Popen([sys.executable, "-m", "assistant", "watch", str(indexed_workspace),
                                "--checkpoint", str(tiny_checkpoint)],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        app = make_app(indexed_workspace, poll_interval=POLL_S)
        async with app.run_test(size=(80, 24)) as pilot:
            await opened(pilot)
            (indexed_workspace / "src" / "extra.ts").write_text(EXTRA, encoding="utf-8")
            await wait_for(pilot, lambda: "src/extra.ts" in tree_counts(app), timeout=60,
                           what="the other process to index the new file")
            assert tree_counts(app)["src/extra.ts"] == len(app.assistant.entries("src/extra.ts"))
            assert "another process:" in log_text(app)
            assert not errors(app)
    finally:
        watcher.send_signal(signal.SIGTERM)
        _, stderr = watcher.communicate(timeout=30)
    assert "Traceback" not in stderr, stderr
