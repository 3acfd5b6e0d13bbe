"""Damaged workspace state as input: a bank generation file changed in place, a damaged index.sqlite.
The next `shutka index` (or any other way of opening the workspace) warns once, rebuilds what comes from
the disk and keeps the Titans episodes and the user's suppressions when they can still be read."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from assistant.cli import cli
from assistant.errors import BankCorrupt
from assistant.memory.bank import MemoryBank
from assistant.memory.bank import vectors as bank_vectors
from assistant.recovery import file_identity, recover_database
from assistant.runtime import build_runtime, open_runtime
from assistant.types import CompletionRequest
from indexer.catalog import Catalog
from indexer.errors import CatalogCorrupt, DatabaseDamaged
from indexer.locking import WriterLock
from indexer.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
SMALL_QUICK_HASH = 512
"""The quick hash (first and last bytes) then leaves the middle of a small generation file uncovered:
only the full checksum sees damage there, as in a real multi-MB file."""
WARNING = re.compile(r" WARNING [\w.]+: (.*)$")
ASIDE_STAMP = re.compile(r"\.damaged-[0-9-]+")


def _shutka(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _warnings(stderr: str) -> list[str]:
    return [m.group(1) for line in stderr.splitlines() if (m := WARNING.search(line))]


def _one_warning(result: Result) -> str:
    assert result.exit_code == 0, result.output
    found = _warnings(result.stderr)
    assert len(found) == 1, result.stderr
    return found[0]


def _verify_clean(ws: Path, checkpoint: Path) -> None:
    result = _shutka("index", ws, "--verify", "--checkpoint", checkpoint)
    assert result.exit_code == 0 and "verify: OK" in result.output, result.output
    assert _warnings(result.stderr) == [], result.stderr


def _state(ws: Path) -> Path:
    return ws / ".shutka"


def _checkpointed(db: Path) -> None:
    """Fold the WAL into the file, so damage to the file is damage to the data."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _table_rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture
def workspace(basic_workspace: Path) -> Path:
    """The basic workspace with a bank small enough to be folded into a generation file at once."""
    (basic_workspace / "shutka.toml").write_text("[bank]\ncompact_after = 10\n", encoding="utf-8")
    return basic_workspace


# -- a generation file damaged in place -----------------------------------------------------------


def _flip_middle_keeping_size_and_mtime(path: Path) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    assert SMALL_QUICK_HASH < middle < len(data) - SMALL_QUICK_HASH - 64
    for i in range(middle, middle + 64):
        data[i] ^= 0x5A
    with open(path, "r+b") as f:                   # in place: same inode, same size
        f.write(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def _confidences(ws: Path, checkpoint: Path) -> list[float]:
    """Confidences of completing a line the bank holds (from src/shapes.ts), gate off."""
    text = "import { Circle } from './shapes';\nexport function big(c: Circle): number {\n  return Math.PI * th\n}\n"
    request = CompletionRequest(text, 2, len("  return Math.PI * th"), "src/other.ts", use_gate=False)
    with open_runtime(ws, checkpoint=checkpoint, sync=False) as runtime:
        result = runtime.assistant.complete(request)
        assert result.items and result.items[0].text == "is.radius * this.radius;", result.items
        return [item.confidence for item in result.items]


def test_generation_damaged_in_place_is_rebuilt_by_the_next_index(workspace: Path, tiny_checkpoint: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bank_vectors, "QUICK_HASH_BYTES", SMALL_QUICK_HASH)
    assert _shutka("index", workspace, "--checkpoint", tiny_checkpoint).exit_code == 0
    generations = sorted((_state(workspace) / "bank").glob("gen-*.faiss"))
    assert generations, "compact_after = 10 folds the bank into a generation file"
    assert any(c > 0 for c in _confidences(workspace, tiny_checkpoint))
    _flip_middle_keeping_size_and_mtime(generations[-1])

    # the next `shutka index` is another process: it hashes the whole file on opening it
    code = (f"import sys, assistant.memory.bank.vectors as v; v.QUICK_HASH_BYTES = {SMALL_QUICK_HASH}; "
            "from assistant.cli import cli; cli(sys.argv[1:])")
    done = subprocess.run([sys.executable, "-c", code, "index", str(workspace), "--checkpoint", str(tiny_checkpoint)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    warnings = _warnings(done.stderr)
    assert len(warnings) == 1, done.stderr
    assert f"vector file {generations[-1]} is damaged (checksum mismatch)" in warnings[0]
    assert "re-encoding its entries" in warnings[0] and "Traceback" not in done.stderr

    _verify_clean(workspace, tiny_checkpoint)
    confidences = _confidences(workspace, tiny_checkpoint)
    assert confidences and any(c > 0 for c in confidences), confidences


def test_a_damaged_generation_is_repaired_by_every_way_of_opening(workspace: Path, tiny_checkpoint: Path
                                                                 ) -> None:
    """The TUI opens with build_runtime, the CLI with open_runtime: the same one warning."""
    assert _shutka("index", workspace, "--checkpoint", tiny_checkpoint).exit_code == 0
    generation = sorted((_state(workspace) / "bank").glob("gen-*.faiss"))[-1]
    generation.write_bytes(generation.read_bytes()[:-100])                      # truncated
    runtime = build_runtime(workspace, checkpoint=tiny_checkpoint)
    try:
        assert len(runtime.notices) == 1
        assert runtime.assistant.verify().ok
    finally:
        runtime.close()
    generation = sorted((_state(workspace) / "bank").glob("gen-*.faiss"))[-1]
    generation.write_bytes(generation.read_bytes()[:-100])
    from_cli = _one_warning(_shutka("index", workspace, "--checkpoint", tiny_checkpoint))
    generation_name = re.compile(r"gen-\d+")
    assert generation_name.sub("gen-N", runtime.notices[0]) == generation_name.sub("gen-N", from_cli)
    assert "is damaged (" in from_cli and "re-encoding its entries" in from_cli
    _verify_clean(workspace, tiny_checkpoint)


# -- a damaged index.sqlite -----------------------------------------------------------------------


def _learn_and_suppress(ws: Path, checkpoint: Path) -> tuple[int, list[tuple[object, ...]]]:
    """Titans episodes for lines the workspace holds, and two bank entries deleted by hand.
    -> (episodes, suppressions)."""
    with open_runtime(ws, checkpoint=checkpoint, sync=True, completion={"adapt": False}) as runtime:
        assistant = runtime.assistant
        for rel in ("src/shapes.ts", "src/point.ts", "src/main.ts"):
            text = (ws / rel).read_text()
            for number, line in enumerate(text.split("\n")):
                indent = len(line) - len(line.lstrip())
                if line.strip().startswith(("return", "const", "export function")):
                    assistant.feedback(CompletionRequest(text, number, indent, rel), line.strip(), True)
        episodes = runtime.parts.titans.count() if runtime.parts.titans is not None else 0
        doomed = [e.id for e in runtime.parts.bank.entries("src/point.ts", "line", limit=2)]
        assert assistant.delete_entries(doomed) == 2
    db = _state(ws) / "index.sqlite"
    assert episodes > 0
    return episodes, _table_rows(db, "SELECT file, content_hash FROM assistant_suppressed ORDER BY 1, 2")


def _damage_table_root(db: Path, table: str) -> None:
    """Overwrite one table's root page: the file stays a database, that table cannot be read."""
    _checkpointed(db)
    (root,) = _table_rows(db, f"SELECT rootpage FROM sqlite_master WHERE name = '{table}'")[0]
    (page_size,) = _table_rows(db, "PRAGMA page_size")[0]
    with open(db, "r+b") as f:
        f.seek((int(root) - 1) * int(page_size))
        f.write(b"\xde\xad\xbe\xef" * (int(page_size) // 4))


def _asides_in(state: Path) -> list[Path]:
    """The damaged databases moved aside (without their -wal/-shm companions)."""
    return sorted(p for p in state.glob("index.sqlite.damaged-*") if not p.name.endswith(("-wal", "-shm")))


def _asides(ws: Path) -> list[Path]:
    return _asides_in(_state(ws))


@pytest.mark.parametrize("table", ["files", "chunks"])
def test_damaged_catalog_is_rebuilt_keeping_episodes_and_suppressions(workspace: Path, tiny_checkpoint: Path,
                                                                       table: str) -> None:
    """`files` is read by every opening; `chunks` by no opening nor a sync where nothing changed (only
    `shutka index`'s whole-file check finds it)."""
    episodes, suppressions = _learn_and_suppress(workspace, tiny_checkpoint)
    titans_file = _state(workspace) / "titans" / "workspace_titans.pt"
    db = _state(workspace) / "index.sqlite"
    _damage_table_root(db, table)
    with pytest.raises(DatabaseDamaged):
        catalog = Catalog(db)
        catalog.file_states()
        catalog.chunk_keys()

    warning = _one_warning(_shutka("index", workspace, "--checkpoint", tiny_checkpoint))
    (aside,) = _asides(workspace)
    assert f"the database {db} was damaged" in warning and f"moved it to {aside}" in warning
    assert f"kept {episodes} Titans episodes and {len(suppressions)} suppressions" in warning
    assert _table_rows(db, "SELECT count(*) FROM titans_episodes")[0][0] == episodes
    assert _table_rows(db, "SELECT file, content_hash FROM assistant_suppressed ORDER BY 1, 2") == suppressions
    assert titans_file.is_file()
    _verify_clean(workspace, tiny_checkpoint)                 # the suppressed entries stay out of the bank
    with open_runtime(workspace, checkpoint=tiny_checkpoint, sync=False) as runtime:
        hashes = {e.content_hash for e in runtime.parts.bank.entries("src/point.ts", limit=1000)}
        assert not hashes & {h for _, h in suppressions}
        assert runtime.parts.titans is not None and runtime.parts.titans.count() == episodes


def test_damage_found_by_a_sync_is_recovered_too(workspace: Path, tiny_checkpoint: Path) -> None:
    """Damage no opening reads, met by the sync of `shutka complete` (open_runtime(sync=True))."""
    episodes, suppressions = _learn_and_suppress(workspace, tiny_checkpoint)
    db = _state(workspace) / "index.sqlite"
    _damage_table_root(db, "chunks")
    main = workspace / "src" / "main.ts"
    main.write_text(main.read_text() + "export const extra = 1;\n")      # the sync rewrites its chunks
    with open_runtime(workspace, checkpoint=tiny_checkpoint, sync=True, completion={"adapt": False}) as runtime:
        assert len(runtime.notices) == 1 and f"the database {db} was damaged" in runtime.notices[0]
        assert runtime.assistant.verify().ok
        assert runtime.parts.titans is not None and runtime.parts.titans.count() == episodes
    assert _table_rows(db, "SELECT file, content_hash FROM assistant_suppressed ORDER BY 1, 2") == suppressions
    assert len(_asides(workspace)) == 1


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_unreadable_database_is_recovered_by_the_next_index(workspace: Path, tiny_checkpoint: Path,
                                                            damage: str) -> None:
    _learn_and_suppress(workspace, tiny_checkpoint)
    db = _state(workspace) / "index.sqlite"
    _checkpointed(db)
    data = db.read_bytes()
    damaged = os.urandom(len(data)) if damage == "garbage" else data[: len(data) // 2]
    db.write_bytes(damaged)

    warning = _one_warning(_shutka("index", workspace, "--checkpoint", tiny_checkpoint))
    (aside,) = _asides(workspace)
    assert aside.read_bytes() == damaged                        # moved aside untouched, not deleted
    why = "file is not a database" if damage == "garbage" else "database disk image is malformed"
    assert f"was damaged ({why}): moved it to {aside}" in warning
    kept = _table_rows(db, "SELECT count(*) FROM titans_episodes")[0][0]
    assert ("nothing could be read" in warning and kept == 0) or f"kept {kept} Titans episodes" in warning
    _verify_clean(workspace, tiny_checkpoint)


def test_rebuild_flag_works_on_a_damaged_database(workspace: Path, tiny_checkpoint: Path) -> None:
    assert _shutka("index", workspace, "--checkpoint", tiny_checkpoint).exit_code == 0
    db = _state(workspace) / "index.sqlite"
    _checkpointed(db)
    db.write_bytes(b"this is not a database" * 500)
    warning = _one_warning(_shutka("index", workspace, "--rebuild", "--checkpoint", tiny_checkpoint))
    assert "was damaged (file is not a database)" in warning
    _verify_clean(workspace, tiny_checkpoint)


def test_every_entry_point_says_the_same(workspace: Path, tiny_checkpoint: Path) -> None:
    assert _shutka("index", workspace, "--checkpoint", tiny_checkpoint).exit_code == 0
    db = _state(workspace) / "index.sqlite"

    def damage() -> None:
        _checkpointed(db)
        db.write_bytes(b"this is not a database" * 500)

    damage()
    # the errors, where nothing recovers: the catalog and the bank give the one message
    with pytest.raises(CatalogCorrupt) as from_catalog:
        Catalog.open(Workspace(workspace))
    with pytest.raises(BankCorrupt) as from_bank:
        MemoryBank(_state(workspace) / "bank", 8, db_path=db)
    assert str(from_catalog.value) == str(from_bank.value)
    assert "`shutka index` on its workspace recovers it" in str(from_catalog.value)

    # the recoveries: `shutka complete`, the TUI's build_runtime and `shutka index` warn alike
    result = _shutka("complete", workspace, "src/main.ts", "5", "3", "--checkpoint", tiny_checkpoint, "--no-gate")
    from_complete = _one_warning(result)
    damage()
    runtime = build_runtime(workspace, checkpoint=tiny_checkpoint)
    runtime.close()
    damage()
    from_index = _one_warning(_shutka("index", workspace, "--checkpoint", tiny_checkpoint))
    normal = {ASIDE_STAMP.sub(".damaged-T", m) for m in (from_complete, runtime.notices[0], from_index)}
    assert len(normal) == 1, normal
    assert len(_asides(workspace)) == 3
    _verify_clean(workspace, tiny_checkpoint)


def test_recovery_waits_for_the_writer_lock_and_never_recovers_twice(tmp_path: Path) -> None:
    db, lock_file = tmp_path / "index.sqlite", tmp_path / "writer.lock"
    db.write_bytes(b"this is not a database" * 100)
    seen = file_identity(db)
    other_process = WriterLock(lock_file)          # its own flock, as another process's would be
    other_process.acquire()
    results: list[str | None] = []
    recovering = threading.Thread(target=lambda: results.append(
        recover_database(db, WriterLock(lock_file), DatabaseDamaged(db, "file is not a database"), seen)))
    recovering.start()
    time.sleep(0.3)
    assert recovering.is_alive() and db.read_bytes().startswith(b"this is not")   # waits for the writer
    other_process.release()
    recovering.join(10)
    assert results and results[0] is not None and len(_asides_in(tmp_path)) == 1
    assert _table_rows(db, "SELECT count(*) FROM schema_versions") == [(0,)]      # a fresh database
    # a process that found the same damage, recovering after the first: the file is another one now
    assert recover_database(db, WriterLock(lock_file), DatabaseDamaged(db, "x"), seen) is None
    assert len(_asides_in(tmp_path)) == 1
