"""The watcher, on real inotify events: every kind of change ends with a clean verify (zero
differences); waits are on conditions with a timeout, never fixed sleeps."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from indexer.config import IndexerConfig
from indexer.sync import Indexer
from indexer.types import IndexEvent
from indexer.verify import verify_catalog
from indexer.watcher import SyncingWatcher, Watcher
from indexer.workspace import Workspace

Waiter = Callable[..., None]


class Session:
    """A SyncingWatcher on a workspace plus the events it produced."""

    def __init__(self, indexer: Indexer, wait_for: Waiter) -> None:
        self.indexer = indexer
        self.events: list[IndexEvent] = []
        self._lock = threading.Lock()
        self.watcher = SyncingWatcher(indexer, on_event=self._record)
        self.wait_for = wait_for
        self.generation = 0
        """Catalog generation when the last settle() ended: the next one waits for a newer one."""

    def _record(self, event: IndexEvent) -> None:
        with self._lock:
            self.events.append(event)

    @property
    def root(self) -> Path:
        return self.indexer.workspace.root

    def settle(self, what: str) -> None:
        """Wait for a sync after the change (cheap to poll), then until the watcher is idle and the
        catalog verifies clean against the disk (a full re-chunking: polled less often)."""
        self.wait_for(lambda: self.indexer.catalog.generation() > self.generation, what=f"a sync after {what}")

        last: list[tuple[str, ...]] = [()]

        def clean() -> bool:
            if not self.watcher.idle():
                return False
            report = verify_catalog(self.indexer.workspace, self.indexer.config)
            last[0] = report.differences
            return report.ok and self.watcher.idle()

        self.wait_for(clean, what=lambda: f"a clean verify after {what}; differences: {last[0][:5]}",
                      interval=0.1)
        self.generation = self.indexer.catalog.generation()

    def events_since(self, n: int) -> list[IndexEvent]:
        with self._lock:
            return self.events[n:]


@pytest.fixture
def session(basic_workspace: Workspace, wait_for: Waiter) -> Iterator[Session]:
    indexer = Indexer(basic_workspace, IndexerConfig(debounce_ms=100))
    s = Session(indexer, wait_for)
    s.watcher.start()
    s.settle("the initial sync")
    yield s
    s.watcher.stop()
    indexer.close()


def test_create(session: Session) -> None:
    n = len(session.events)
    (session.root / "src/util/math.ts").write_text("export const add = (a: number, b: number) => a + b;\n")
    session.settle("a created file to be indexed")
    assert any("src/util/math.ts" in e.added for e in session.events_since(n))


def test_modify(session: Session) -> None:
    path = session.root / "src/util/format.ts"
    path.write_text(path.read_text() + "export function lower(s: string) { return s.toLowerCase(); }\n")
    session.settle("a modified file to be re-indexed")
    assert session.indexer.graph().definitions("lower") == ["src/util/format.ts#lower@3"]


def test_delete(session: Session) -> None:
    n = len(session.events)
    (session.root / "src/util/format.ts").unlink()
    session.settle("a deleted file to leave the index")
    assert any(e.removed == ("src/util/format.ts",) for e in session.events_since(n))


def test_move(session: Session) -> None:
    n = len(session.events)
    root = session.root
    os.rename(root / "src/util/format.ts", root / "src/format.ts")
    session.settle("a moved file")
    events = session.events_since(n)
    assert any(e.moved == (("src/util/format.ts", "src/format.ts"),) for e in events)
    assert sum(e.chunks_added for e in events) == 0  # nothing re-chunked, nothing to re-encode


def test_directory_rename(session: Session) -> None:
    n = len(session.events)
    root = session.root
    os.rename(root / "src/models", root / "src/entities")
    session.settle("a renamed folder")
    events = session.events_since(n)
    moved = {pair for e in events for pair in e.moved}
    assert moved == {("src/models/index.ts", "src/entities/index.ts"), ("src/models/user.ts", "src/entities/user.ts")}
    assert sum(e.chunks_added for e in events) == 0


def test_atomic_save(session: Session) -> None:
    """What editors do: write a temp file next to the target, then rename it over the target."""
    n = len(session.events)
    root = session.root
    tmp = root / "src/util/.format.ts.swp~"
    tmp.write_text("export function formatName(name: string): string {\n  return name;\n}\n")
    os.replace(tmp, root / "src/util/format.ts")
    session.settle("an atomic save")
    assert any("src/util/format.ts" in e.added for e in session.events_since(n))


def test_burst_is_coalesced(session: Session) -> None:
    """A `git checkout` of another branch: many files deleted, created and rewritten at once."""
    n = len(session.events)
    root = session.root
    for i in range(60):
        (root / f"src/branch/m{i}.ts").parent.mkdir(parents=True, exist_ok=True)
        (root / f"src/branch/m{i}.ts").write_text(f"export const m{i} = {i};\n")
    (root / "src/models/user.ts").unlink()
    (root / "src/app.tsx").write_text("export const App = () => null;\n")
    session.settle("a burst of changes")
    events = session.events_since(n)
    assert sum(len(e.added) for e in events) == 61
    assert len(events) <= 3  # one batch normally; a loaded machine may split it, never per file


def test_changes_outside_any_editor(session: Session) -> None:
    """A codemod rewriting files in place, a folder copied in, a file truncated, all from a script."""
    root = session.root
    for path in (root / "src").rglob("*.ts"):
        path.write_text(path.read_text().replace("name", "title"))
    shutil.copytree(root / "src/util", root / "src/vendor_util")
    with open(root / "src/models/index.ts", "r+") as fh:
        fh.truncate(0)
    session.settle("changes made by a script")


def test_settings_file_change_triggers_a_full_sync(session: Session) -> None:
    root = session.root
    (root / ".gitignore").write_text("src/util/\n")
    session.settle("a .gitignore change")
    assert session.indexer.catalog.file_state("src/util/format.ts") is None


@pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")  # watchdog's own race on new folders
def test_excluded_folders_and_state_are_ignored(basic_workspace: Workspace, wait_for: Waiter) -> None:
    batches: list[frozenset[str]] = []
    config = IndexerConfig(debounce_ms=20)
    with Watcher(basic_workspace, config, lambda paths, first: batches.append(paths)):
        root = basic_workspace.root
        (root / "node_modules/pkg").mkdir(parents=True)
        (root / "node_modules/pkg/index.ts").write_text("x")
        (root / ".shutka").mkdir(exist_ok=True)
        (root / ".shutka/index.sqlite-wal").write_text("x")
        (root / "notes.md").write_text("x")
        (root / "src/util/format.ts").read_text()  # reading is not a change
        (root / "src/marker.ts").write_text("export const m = 1;\n")
        wait_for(lambda: any("src/marker.ts" in b for b in batches), what="the marker file's batch")
    assert set().union(*batches) == {"src/marker.ts"}


def test_batch_reports_the_first_event_time(basic_workspace: Workspace, wait_for: Waiter) -> None:
    seen: list[tuple[frozenset[str], float]] = []
    before = time.monotonic()
    watcher = Watcher(basic_workspace, IndexerConfig(debounce_ms=20), lambda p, t: seen.append((p, t)))
    watcher.start()
    try:
        (basic_workspace.root / "src/a.ts").write_text("export const a = 1;\n")
        wait_for(lambda: bool(seen), what="a batch")
    finally:
        watcher.stop()
    paths, first = seen[0]
    assert paths == frozenset({"src/a.ts"}) and before <= first <= time.monotonic()
