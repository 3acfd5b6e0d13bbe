"""Planning: mtime-only changes are touched, content changes computed, deletes and moves detected
(moves re-use everything), racy same-size rewrites caught, and restricted plans handle missing
paths and folders (a folder rename included)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import pytest

from indexer import plan as plan_module
from indexer.sync import Indexer
from indexer.verify import verify_catalog
from indexer.workspace import Workspace

FILES: dict[str, str | bytes] = {
    "src/a.ts": "export function a() { return 1; }\n",
    "src/b.ts": "export function b() { return 2; }\n",
    "src/sub/c.ts": "export const c = 3;\n",
    "src/sub/d.ts": "export const d = 4;\n",
}


@pytest.fixture
def synced(make_workspace: Callable[..., Workspace], make_indexer: Callable[..., Indexer],
           monkeypatch: pytest.MonkeyPatch) -> Indexer:
    """An indexed workspace whose rows count as settled (no racy-mtime re-hashing)."""
    monkeypatch.setattr(plan_module, "RACY_WINDOW_NS", 0)
    indexer = make_indexer(make_workspace(FILES))
    indexer.sync()
    return indexer


def test_nothing_changed(synced: Indexer) -> None:
    plan = synced.plan()
    assert plan.is_empty and plan.unchanged == 4
    assert plan.generation == synced.catalog.generation()


def test_mtime_only_change_is_touched(synced: Indexer) -> None:
    path = synced.workspace.root / "src/a.ts"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    plan = synced.plan()
    assert [f.path for f in plan.touched] == ["src/a.ts"]
    assert plan.compute == () and plan.delete == () and plan.moved == ()
    event = synced.apply(plan)
    assert event.added == () and event.chunks_added == 0
    assert synced.catalog.file_state("src/a.ts").mtime_ns == st.st_mtime_ns + 5_000_000_000  # type: ignore[union-attr]
    assert synced.plan().is_empty


def test_content_change_is_computed(synced: Indexer) -> None:
    (synced.workspace.root / "src/b.ts").write_text("export function b() { return 22; }\n")
    plan = synced.plan()
    assert [f.path for f in plan.compute] == ["src/b.ts"]
    assert plan.touched == () and plan.delete == ()


def test_delete(synced: Indexer) -> None:
    (synced.workspace.root / "src/sub/c.ts").unlink()
    plan = synced.plan()
    assert plan.delete == ("src/sub/c.ts",) and plan.compute == ()
    event = synced.apply(plan)
    assert event.removed == ("src/sub/c.ts",) and event.chunks_removed == 1


def test_move_reuses_everything(synced: Indexer) -> None:
    root = synced.workspace.root
    row_id = synced.catalog.chunk_row_id("src/a.ts#a@0")
    (root / "lib").mkdir()
    shutil.move(root / "src/a.ts", root / "lib/a.ts")
    plan = synced.plan()
    assert plan.moved == (("src/a.ts", "lib/a.ts"),)
    assert plan.compute == () and plan.delete == ()
    event = synced.apply(plan)
    assert event.chunks_added == 0 and event.added == ()
    assert synced.catalog.chunk_row_id("lib/a.ts#a@0") == row_id
    assert verify_catalog(synced.workspace, synced.config).ok


def test_rename_over_an_existing_file(synced: Indexer) -> None:
    root = synced.workspace.root
    os.replace(root / "src/a.ts", root / "src/b.ts")
    plan = synced.plan()
    assert plan.moved == (("src/a.ts", "src/b.ts"),) and plan.compute == () and plan.delete == ()
    synced.apply(plan)
    assert verify_catalog(synced.workspace, synced.config).ok


def test_racy_same_size_rewrite_is_caught(make_workspace: Callable[..., Workspace],
                                          make_indexer: Callable[..., Indexer]) -> None:
    ws = make_workspace({"a.ts": "export const v = 1;\n"})
    indexer = make_indexer(ws)
    indexer.sync()
    path = ws.root / "a.ts"
    mtime = path.stat().st_mtime_ns
    path.write_text("export const v = 2;\n")  # same size
    os.utime(path, ns=(mtime, mtime))  # and the same mtime, as a coarse clock would give
    plan = indexer.plan(["a.ts"])
    assert [f.path for f in plan.compute] == ["a.ts"]


def test_plan_writes_nothing(synced: Indexer) -> None:
    (synced.workspace.root / "src/new.ts").write_text("export const n = 1;\n")
    generation = synced.catalog.generation()
    plan = synced.plan()
    assert [f.path for f in plan.compute] == ["src/new.ts"]
    assert synced.catalog.generation() == generation and synced.catalog.file_state("src/new.ts") is None


# --- restricted plans ------------------------------------------------------------------------------


def test_restricted_plan_only_looks_at_its_paths(synced: Indexer) -> None:
    root = synced.workspace.root
    (root / "src/a.ts").write_text("export function a() { return 11; }\n")
    (root / "src/b.ts").write_text("export function b() { return 22; }\n")
    plan = synced.plan(["src/a.ts"])
    assert [f.path for f in plan.compute] == ["src/a.ts"]
    assert plan.scope == ("src/a.ts",)


def test_restricted_missing_path_is_a_delete(synced: Indexer) -> None:
    (synced.workspace.root / "src/a.ts").unlink()
    plan = synced.plan([str(synced.workspace.root / "src/a.ts"), "src/never-existed.ts"])
    assert plan.delete == ("src/a.ts",) and plan.compute == ()


def test_restricted_deleted_folder_deletes_everything_under_it(synced: Indexer) -> None:
    shutil.rmtree(synced.workspace.root / "src/sub")
    plan = synced.plan(["src/sub"])
    assert plan.delete == ("src/sub/c.ts", "src/sub/d.ts")


def test_restricted_folder_rename_is_moves(synced: Indexer) -> None:
    root = synced.workspace.root
    os.rename(root / "src/sub", root / "src/renamed")
    plan = synced.plan(["src/sub", "src/renamed"])
    assert plan.moved == (("src/sub/c.ts", "src/renamed/c.ts"), ("src/sub/d.ts", "src/renamed/d.ts"))
    assert plan.compute == () and plan.delete == ()
    synced.apply(plan)
    assert verify_catalog(synced.workspace, synced.config).ok


def test_restricted_new_folder_is_walked(synced: Indexer) -> None:
    root = synced.workspace.root
    (root / "src/feature/deep").mkdir(parents=True)
    (root / "src/feature/x.ts").write_text("export const x = 1;\n")
    (root / "src/feature/deep/y.ts").write_text("export const y = 2;\n")
    plan = synced.plan(["src/feature"])
    assert [f.path for f in plan.compute] == ["src/feature/deep/y.ts", "src/feature/x.ts"]


def test_restricted_ignored_path_is_not_planned(synced: Indexer) -> None:
    root = synced.workspace.root
    (root / "node_modules/x").mkdir(parents=True)
    (root / "node_modules/x/i.ts").write_text("export const i = 1;\n")
    (root / ".gitignore").write_text("gen/\n")
    (root / "gen").mkdir()
    (root / "gen/g.ts").write_text("export const g = 1;\n")
    assert synced.plan(["node_modules/x/i.ts", "gen/g.ts", "gen", ".shutka/index.sqlite"]).is_empty


def test_newly_ignored_file_leaves_the_index_on_full_plan(synced: Indexer) -> None:
    (synced.workspace.root / ".gitignore").write_text("src/sub/\n")
    plan = synced.plan()
    assert plan.delete == ("src/sub/c.ts", "src/sub/d.ts")


def test_declined_files_are_remembered(synced: Indexer) -> None:
    root = synced.workspace.root
    (root / "src/blob.ts").write_bytes(b"\x00\x01binary")
    event = synced.sync()
    assert [(s.path, s.reason) for s in event.skipped] == [("src/blob.ts", "binary (contains NUL bytes)")]
    plan = synced.plan()
    assert plan.is_empty and [s.path for s in plan.skipped] == ["src/blob.ts"]
    (root / "src/blob.ts").write_text("export const fixed = 1;\n")
    assert [f.path for f in synced.plan(["src/blob.ts"]).compute] == ["src/blob.ts"]
    (root / "src/blob.ts").unlink()
    assert synced.plan().delete == ("src/blob.ts",)  # the remembered skip is dropped too


def test_changed_chunking_settings_rechunk_file_by_file(synced: Indexer,
                                                       make_indexer: Callable[..., Indexer]) -> None:
    other = make_indexer(synced.workspace, max_chunk_lines=50)
    plan = other.plan(["src/a.ts"])
    assert plan.scope == ("src/a.ts",) and [f.path for f in plan.compute] == ["src/a.ts"]
    other.apply(plan)
    assert [f.path for f in other.plan().compute] == ["src/b.ts", "src/sub/c.ts", "src/sub/d.ts"]
    other.sync()
    assert other.plan().is_empty


def test_changed_discovery_settings_plan_in_full(synced: Indexer, make_indexer: Callable[..., Indexer]) -> None:
    other = make_indexer(synced.workspace, exclude=("src/sub/",))
    plan = other.plan(["src/a.ts"])
    assert plan.scope is None and plan.delete == ("src/sub/c.ts", "src/sub/d.ts")
    other.apply(plan)
    assert other.plan(["src/a.ts"]).scope == ("src/a.ts",)


def test_restricted_symlinked_folder_is_planned_in_full(synced: Indexer) -> None:
    root = synced.workspace.root
    (root / "alias").symlink_to(root / "src/sub", target_is_directory=True)
    plan = synced.plan(["alias"])
    assert plan.scope is None and plan.is_empty  # the full walk sees alias/ duplicates src/sub/
