"""Catalog, bank and Titans move together: watcher events, moves, deletions, kills mid-write.

Every scenario ends with `verify_workspace` (catalog vs a fresh chunking of the disk, bank vs
catalog) reporting zero differences."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from assistant.engine.features import INDEX
from assistant.runtime import open_runtime
from assistant.types import CompletionRequest
from assistant.verify import bank_differences

TIMEOUT = 20.0


def wait_for(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def clean(runtime) -> bool:
    return runtime.assistant.verify().ok and (runtime.watcher is None or runtime.watcher.idle())


def make_module(i: int) -> str:
    return (f"export interface Item{i} {{\n  id: number;\n  label{i}: string;\n}}\n\n"
            f"export function make{i}(id: number): Item{i} {{\n  const label{i} = `item-${{id}}-{i}`;\n"
            f"  return {{ id, label{i} }};\n}}\n")


@pytest.fixture
def watched(basic_workspace: Path, tiny_checkpoint: Path):
    with open_runtime(basic_workspace, checkpoint=tiny_checkpoint, sync=True, watch=True) as rt:
        wait_for(lambda: clean(rt))
        yield rt


def test_create_modify_delete(watched, basic_workspace: Path) -> None:
    new = basic_workspace / "src" / "extra.ts"
    new.write_text(make_module(1))
    wait_for(lambda: clean(watched) and any(f == "src/extra.ts" for f, _, _ in watched.assistant.files()))
    new.write_text(make_module(1).replace("label1", "title1"))
    wait_for(lambda: clean(watched) and watched.assistant.search("title1", mode="text"))
    new.unlink()
    wait_for(lambda: clean(watched) and not any(f == "src/extra.ts" for f, _, _ in watched.assistant.files()))


def test_move_and_directory_rename_reuse_embeddings(watched, basic_workspace: Path) -> None:
    folder = basic_workspace / "src" / "many"
    folder.mkdir()
    for i in range(20):
        (folder / f"m{i}.ts").write_text(make_module(i))
    wait_for(lambda: clean(watched) and len([f for f, _, _ in watched.assistant.files() if "/many/" in f]) == 20)
    folder.rename(basic_workspace / "src" / "moved")
    wait_for(lambda: clean(watched) and len([f for f, _, _ in watched.assistant.files() if "/moved/" in f]) == 20)
    assert watched.assistant.last_sync is not None
    assert watched.assistant.last_sync.encoded == 0, "a moved folder re-uses every embedding"


def test_editor_atomic_save(watched, basic_workspace: Path) -> None:
    target = basic_workspace / "src" / "point.ts"
    tmp = basic_workspace / "src" / ".point.ts.swp"
    tmp.write_text(target.read_text() + "\nexport const unit: Point = { x: 1, y: 1 };\n")
    os.replace(tmp, target)
    wait_for(lambda: clean(watched) and watched.assistant.search("export const unit", mode="text"))


def test_burst_like_a_branch_switch(watched, basic_workspace: Path) -> None:
    for i in range(60):
        (basic_workspace / "src" / f"gen{i}.ts").write_text(make_module(i))
    for i in range(0, 60, 3):
        (basic_workspace / "src" / f"gen{i}.ts").unlink()
    wait_for(lambda: clean(watched) and len([f for f, _, _ in watched.assistant.files() if "/gen" in f]) == 40)


def test_deleted_code_leaves_bank_and_titans_episodes_together(runtime, basic_workspace: Path) -> None:
    assistant = runtime.assistant
    text = (basic_workspace / "src" / "shapes.ts").read_text()
    line_no = text.split("\n").index("  const dx = a.x - b.x;")
    model = runtime.parts.completer.model
    model.titans.surprise_threshold = 0.0  # keep every episode for this test
    kept, _ = runtime.parts.completer.learn(CompletionRequest(text, line_no, 0, "src/shapes.ts"), "  const dx = a.x - b.x;")
    assert kept == 1 and assistant.titans_stats().episodes == 1
    (basic_workspace / "src" / "shapes.ts").write_text(text.replace("  const dx = a.x - b.x;\n", "  const dx = 0;\n"))
    assistant.sync(["src/shapes.ts"])
    texts = runtime.parts.titans.texts(model.episodic.source_ids.tolist())
    assert "const dx = a.x - b.x;" not in texts.values(), "the deleted line's episode left with it"
    assert set(texts.values()) <= {"const dx = 0;"}  # the new line was learned in the same sync
    assert len(model.episodic) == assistant.titans_stats().episodes
    assert assistant.verify().ok


def test_new_code_is_written_to_titans(runtime, basic_workspace: Path) -> None:
    assistant = runtime.assistant
    runtime.parts.completer.model.titans.surprise_threshold = 0.0
    path = basic_workspace / "src" / "point.ts"
    path.write_text(path.read_text() + "\nexport function scale(p: Point, k: number): Point {\n"
                    "  return { x: p.x * k, y: p.y * k };\n}\n")
    assistant.sync(["src/point.ts"])
    stats = assistant.titans_stats()
    assert stats.writes >= 1 and stats.episodes >= 1


def test_user_deleted_entries_stay_deleted(runtime, basic_workspace: Path) -> None:
    assistant = runtime.assistant
    hits = assistant.search("Math.sqrt", mode="text")
    assert hits
    assert assistant.delete_entries([hits[0].id]) == 1
    (basic_workspace / "src" / "point.ts").write_text((basic_workspace / "src" / "point.ts").read_text() + "\n// x\n")
    assistant.sync()
    assert not [h for h in assistant.search("Math.sqrt", mode="text") if h.content_hash == hits[0].content_hash]
    assert assistant.verify().ok


def test_dependency_declarations_are_a_library_section(basic_workspace: Path, tiny_checkpoint: Path) -> None:
    (basic_workspace / "package.json").write_text('{"dependencies": {"tiny-lib": "1.0.0"}}')
    lib = basic_workspace / "node_modules" / "tiny-lib"
    lib.mkdir(parents=True)
    (lib / "package.json").write_text('{"name": "tiny-lib", "types": "index.d.ts"}')
    (lib / "index.d.ts").write_text("export declare function tinyHelper(x: number): string;\n"
                                    "export interface TinyOptions { verbose: boolean; }\n")
    with open_runtime(basic_workspace, checkpoint=tiny_checkpoint) as rt:
        entries = rt.assistant.entries("node_modules/tiny-lib/index.d.ts")
        assert entries and all(e.section == "library" and e.kind != "line" for e in entries)
        assert rt.assistant.verify().ok


INDEX_SCRIPT = """
import sys
from assistant.runtime import open_runtime
with open_runtime(sys.argv[1], checkpoint=sys.argv[2], sync=False) as rt:
    rt.assistant.sync(batch_files=8)
"""


@pytest.mark.slow
def test_sigkill_mid_write_leaves_a_consistent_index(tmp_path: Path, tiny_checkpoint: Path) -> None:
    ws = tmp_path / "big"
    (ws / "src").mkdir(parents=True)
    rng = random.Random(0)
    for i in range(160):
        (ws / "src" / f"mod{i}.ts").write_text(make_module(i) * 3)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for round_ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", INDEX_SCRIPT, str(ws), str(tiny_checkpoint)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with open_runtime(ws, checkpoint=tiny_checkpoint, sync=False) as rt:
            problems, _ = bank_differences(rt.parts.bank, rt.parts.encoder, rt.parts.indexer.catalog)
            assert not problems, f"round {round_}: bank and catalog disagree after a kill: {problems}"
        # change some files so the next run has work again
        for i in rng.sample(range(160), 10):
            (ws / "src" / f"mod{i}.ts").write_text(make_module(i + 1000) * 3)
    with open_runtime(ws, checkpoint=tiny_checkpoint, sync=True) as rt:
        assert rt.assistant.verify().ok
    shutil.rmtree(ws)
    torch.set_num_threads(1)


def test_a_reader_follows_another_processes_commits(runtime, basic_workspace: Path, tiny_checkpoint: Path) -> None:
    reader = runtime.assistant
    before = reader.version()
    with open_runtime(basic_workspace, checkpoint=tiny_checkpoint, sync=False, completion={"adapt": False}) as other:
        (basic_workspace / "src" / "fresh.ts").write_text("export const freshlyWrittenConstant = 42;\n")
        other.assistant.sync()
    assert reader.version() != before
    assert reader.refresh()
    assert runtime.parts.lines.file("src/fresh.ts") is not None
    text = "const y = freshlyWr"
    result = reader.complete(CompletionRequest(text, 0, len(text), "src/z.ts", use_gate=False))
    assert any(item.text.startswith("ittenConstant") for item in result.items)


def test_rebuild_repairs_a_missing_vector_file(basic_workspace: Path, tiny_checkpoint: Path) -> None:
    from click.testing import CliRunner

    from assistant.indexing_cli import index_command

    with open_runtime(basic_workspace, checkpoint=tiny_checkpoint) as rt:
        rt.parts.bank.compact()
        entries = len(rt.parts.bank)
    for gen in (basic_workspace / ".shutka" / "bank").glob("gen-*.faiss"):
        gen.unlink()
    result = CliRunner().invoke(index_command, [str(basic_workspace), "--checkpoint", str(tiny_checkpoint),
                                                "--rebuild", "--verify"])
    assert result.exit_code == 0, result.output
    assert f"{entries} bank entries" in result.output and "verify: OK" in result.output


def test_titans_recalls_a_line_typed_in_a_similar_context(runtime) -> None:
    """After the user typed a line, the same context offers it with a recall signal (and counts it)."""
    assistant = runtime.assistant
    runtime.parts.completer.model.titans.surprise_threshold = 0.0
    text = "export function area(r: number): number {\n  const scaled = Math.PI * r;\n  return scaled;\n}\n"
    request = CompletionRequest(text, 2, 0, "src/new.ts")
    runtime.parts.completer.learn(request, "  return scaled;")
    typed = text.split("\n")[:2]
    probe = CompletionRequest("\n".join(typed) + "\n  return sc", 2, len("  return sc"), "src/other_new.ts",
                              use_gate=False)
    analysis = runtime.parts.completer.analyse(probe)
    recalled = [o for o in analysis.options if o.recall > 0]
    assert recalled and recalled[0].key == "aled;"
    assert recalled[0].best.line.path == "src/new.ts"  # typed there, so not a same-file line here
    assert recalled[0].features[INDEX["same_file"]] == 0.0
    assert assistant.titans_stats().most_accessed[0].access == 1


def test_titans_does_not_recall_a_line_already_written_above_the_cursor(runtime) -> None:
    """A line the buffer already holds is a same-file candidate; recalling it too made the ranker repeat
    the line just written."""
    runtime.parts.completer.model.titans.surprise_threshold = 0.0
    text = "export function area(r: number): number {\n  const scaled = Math.PI * r;\n  return scaled;\n}\n"
    runtime.parts.completer.learn(CompletionRequest(text, 2, 0, "src/new.ts"), "  return scaled;")
    above = "\n".join(text.split("\n")[:3]) + "\n  return sc"
    analysis = runtime.parts.completer.analyse(CompletionRequest(above, 3, len("  return sc"), "src/new.ts",
                                                             use_gate=False))
    assert any(o.key == "aled;" for o in analysis.options)  # offered, from the line above
    assert all(o.recall == 0 for o in analysis.options)
