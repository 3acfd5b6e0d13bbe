"""Sync: one transaction per apply (a failing hook leaves the catalog untouched), the event only after
commit, the hook protocol's order, and no double apply when writers race."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from indexer.catalog import Catalog
from indexer.sync import Indexer, SyncHook, workspace_lock
from indexer.types import IndexEvent, IndexPlan, ParsedFile
from indexer.verify import verify_catalog
from indexer.workspace import Workspace

from .workspace_gen import generate_workspace

REPO = Path(__file__).resolve().parents[2]


class RecordingHook:
    """A stand-in for the assistant's bank: writes a `bank_` row per added chunk in the same transaction."""

    def __init__(self, workspace: Workspace, fail_in_write: bool = False) -> None:
        self.workspace = workspace
        self.fail_in_write = fail_in_write
        self.calls: list[str] = []
        self.seen_generation_in_prepare: int | None = None
        self.seen_generation_in_committed: int | None = None
        self.removed_in_write: list[tuple[str, str]] = []
        self.moved_in_write: list[tuple[str, str]] = []

    def _outside_generation(self) -> int:
        with Catalog.open(self.workspace) as other:  # a separate connection, like another process
            return other.generation()

    def prepare(self, parsed: Sequence[ParsedFile], plan: IndexPlan) -> object:
        self.calls.append("prepare")
        self.seen_generation_in_prepare = self._outside_generation()
        return [c.chunk_id for p in parsed for c in p.chunks]

    def write(self, conn: sqlite3.Connection, prepared: object, plan: IndexPlan) -> dict[str, int]:
        self.calls.append("write")
        assert conn.in_transaction
        conn.execute("CREATE TABLE IF NOT EXISTS bank_entries (chunk_id INTEGER PRIMARY KEY, chunk_key TEXT)")
        conn.execute("DELETE FROM bank_entries WHERE chunk_id IN (SELECT chunk_id FROM temp.sync_removed_chunks)")
        conn.execute("INSERT INTO bank_entries SELECT chunk_id, chunk_key FROM temp.sync_added_chunks")
        self.removed_in_write = conn.execute("SELECT path, chunk_key FROM temp.sync_removed_chunks").fetchall()
        self.moved_in_write = conn.execute("SELECT old_path, new_path FROM temp.sync_moved_files").fetchall()
        if self.fail_in_write:
            raise RuntimeError("encoder exploded inside the transaction")
        assert isinstance(prepared, list)
        return {"encoded": len(prepared)}

    def committed(self, event: IndexEvent) -> None:
        self.calls.append("committed")
        self.seen_generation_in_committed = self._outside_generation()


def test_hook_protocol_is_satisfied() -> None:
    hook: SyncHook = RecordingHook.__new__(RecordingHook)
    assert callable(hook.prepare) and callable(hook.write) and callable(hook.committed)


def test_event_after_commit_and_hook_order(basic_workspace: Workspace, make_indexer: Callable[..., Indexer]) -> None:
    indexer = make_indexer(basic_workspace)
    hook = RecordingHook(basic_workspace)
    event = indexer.sync(hook=hook)
    assert hook.calls == ["prepare", "write", "committed"]
    assert hook.seen_generation_in_prepare == 0  # slow work happens before anything is written
    assert hook.seen_generation_in_committed == 1 == event.generation  # delivered after COMMIT
    assert event.stats == {"encoded": event.chunks_added} and event.chunks_added > 0
    assert len(event.added) == 5 and event.latency_ms >= 0
    bank = indexer.catalog.connection().execute("SELECT COUNT(*) FROM bank_entries").fetchone()[0]
    assert bank == indexer.catalog.counts()["chunks"]


def test_failing_hook_write_leaves_the_catalog_unchanged(basic_workspace: Workspace,
                                                         make_indexer: Callable[..., Indexer]) -> None:
    indexer = make_indexer(basic_workspace)
    indexer.sync(hook=RecordingHook(basic_workspace))
    before = indexer.catalog.file_states()
    (basic_workspace.root / "src/util/format.ts").write_text("export const changed = 1;\n")
    (basic_workspace.root / "src/models/user.ts").unlink()
    hook = RecordingHook(basic_workspace, fail_in_write=True)
    with pytest.raises(RuntimeError, match="encoder exploded"):
        indexer.sync(hook=hook)
    assert hook.calls == ["prepare", "write"]  # never committed
    assert indexer.catalog.generation() == 1
    assert indexer.catalog.file_states() == before
    rows = indexer.catalog.connection().execute("SELECT COUNT(*) FROM bank_entries").fetchone()[0]
    assert rows == indexer.catalog.counts()["chunks"]  # the bank's writes were rolled back with ours
    ok = RecordingHook(basic_workspace)
    event = indexer.sync(hook=ok)  # and the next sync does the whole change
    assert event.generation == 2 and event.removed == ("src/models/user.ts",)
    assert ("src/models/user.ts", "src/models/user.ts#User@0") in ok.removed_in_write
    assert verify_catalog(basic_workspace, indexer.config).ok


def test_moves_reach_the_hook(basic_workspace: Workspace, make_indexer: Callable[..., Indexer]) -> None:
    indexer = make_indexer(basic_workspace)
    indexer.sync()
    (basic_workspace.root / "src/util/format.ts").rename(basic_workspace.root / "src/util/fmt.ts")
    hook = RecordingHook(basic_workspace)
    event = indexer.sync(hook=hook)
    assert event.moved == (("src/util/format.ts", "src/util/fmt.ts"),)
    assert hook.moved_in_write == [("src/util/format.ts", "src/util/fmt.ts")]
    assert event.chunks_added == 0 and event.stats == {"encoded": 0}


def test_empty_sync_commits_nothing(basic_workspace: Workspace, make_indexer: Callable[..., Indexer]) -> None:
    indexer = make_indexer(basic_workspace)
    indexer.sync()
    hook = RecordingHook(basic_workspace)
    event = indexer.sync(hook=hook)
    assert event.generation == 1 and hook.calls == []


def test_stale_plan_is_replanned_not_applied_twice(basic_workspace: Workspace,
                                                   make_indexer: Callable[..., Indexer]) -> None:
    first, second = make_indexer(basic_workspace), make_indexer(basic_workspace)
    assert first.lock is second.lock is workspace_lock(basic_workspace)
    first.sync()
    (basic_workspace.root / "src/new.ts").write_text("export const fresh = 1;\n")
    plan = first.plan()
    assert [f.path for f in plan.compute] == ["src/new.ts"]
    assert second.sync().added == ("src/new.ts",)
    event = first.apply(plan)
    assert event.added == () and event.generation == 2
    assert verify_catalog(basic_workspace, first.config).ok


_SYNC_SCRIPT = """
import json, sys
from indexer.sync import Indexer
from indexer.workspace import Workspace
event = Indexer(Workspace(sys.argv[1])).sync()
print(json.dumps({"generation": event.generation, "added": len(event.added)}))
"""


def test_two_processes_never_double_apply(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    generate_workspace(root, 120)
    procs = [subprocess.Popen([sys.executable, "-c", _SYNC_SCRIPT, str(root)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=REPO) for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert sorted(r["added"] for r in results) == [0, 120]  # one indexed everything, the other nothing
    assert sorted(r["generation"] for r in results) == [1, 1]
    assert verify_catalog(Workspace(root)).ok


def test_library_section(make_workspace: Callable[..., Workspace], make_indexer: Callable[..., Indexer]) -> None:
    ws = make_workspace({
        "package.json": json.dumps({"dependencies": {"tiny": "1"}}),
        "node_modules/tiny/index.d.ts": "export declare function tinyThing(n: number): string;\n",
        "src/main.ts": "import { tinyThing } from 'tiny';\nexport const x = () => tinyThing(1);\n",
    })
    indexer = make_indexer(ws)
    indexer.sync()
    state = indexer.catalog.file_state("node_modules/tiny/index.d.ts")
    assert state is not None and state.section == "library"
    assert indexer.catalog.counts()["library_files"] == 1
    graph = indexer.graph()
    assert graph.imports_of("src/main.ts") == ["node_modules/tiny/index.d.ts"]
    assert graph.resolve("src/main.ts#x@1", "tinyThing", "calls") == ["node_modules/tiny/index.d.ts#tinyThing@0"]
    assert verify_catalog(ws, indexer.config).ok
    off = make_indexer(ws, include_dependencies=False)
    assert off.sync().removed == ("node_modules/tiny/index.d.ts",)


def test_progress_callback(basic_workspace: Workspace, make_indexer: Callable[..., Indexer]) -> None:
    seen: list[tuple[int, int]] = []
    make_indexer(basic_workspace).sync(progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 5) for i in range(1, 6)]


def test_batched_apply_can_stop_anywhere(basic_workspace: Workspace, make_indexer: Callable[..., Indexer]) -> None:
    """The assistant commits a big first index in batches; stopping after any batch leaves a catalog
    whose next plan finishes the job (even after a chunker settings change)."""
    indexer = make_indexer(basic_workspace)
    indexer.sync()
    rechunking = make_indexer(basic_workspace, max_chunk_lines=40)
    plan = rechunking.plan()
    assert len(plan.compute) == 5
    first = dataclasses.replace(plan, compute=plan.compute[:2])
    rechunking.apply(first)  # ... and the process stops here
    rest = rechunking.plan()
    assert [f.path for f in rest.compute] == [f.path for f in plan.compute[2:]]
    rechunking.apply(rest)
    assert rechunking.plan().is_empty
    assert verify_catalog(basic_workspace, rechunking.config).ok
