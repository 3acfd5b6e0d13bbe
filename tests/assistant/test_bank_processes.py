"""MemoryBank across processes: a reader never sees half a write while a writer process adds,
deletes and compacts; a writer SIGKILLed at random moments leaves a bank that opens consistent.

The writer processes are this file run as a script (`python test_bank_processes.py MODE DIR`).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.config import BankConfig
from assistant.memory.bank import EntryMeta, MemoryBank

DIM = 8
BATCH = 20
"""Entries per batch in the reader test: every commit replaces one whole batch by the next."""


def seeded_vector(seed: int) -> np.ndarray:
    """The vector an entry with text `v<seed>` must have: lets a test check vectors against entries."""
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


# -- writer processes -----------------------------------------------------------------------------


def batch_writer(directory: Path, batches: int) -> None:
    """Each commit deletes batch b-1 and adds batch b (one staged transaction); compacts often."""
    config = BankConfig(compact_after=5 * BATCH)
    with MemoryBank(directory, DIM, config) as bank:
        conn = sqlite3.connect(bank.db_path, isolation_level=None, timeout=30)
        for b in range(1, batches + 1):
            vectors = np.random.default_rng(b).standard_normal((BATCH, DIM)).astype(np.float32)
            with bank.lock:
                conn.execute("BEGIN IMMEDIATE")
                bank.stage_delete_file(conn, f"batch{b - 1}.ts")
                bank.stage_add(conn, vectors, [f"b{b}-{i}" for i in range(BATCH)],
                                          [EntryMeta(file=f"batch{b}.ts")] * BATCH)
                conn.execute("COMMIT")
                bank.refresh()
                if not bank.maybe_compact() and b % 7 == 0:
                    bank.compact()
        conn.close()


def chaos_writer(directory: Path, seed: int) -> None:
    """Random adds, deletes, updates, renames, bulk adds and compactions until killed."""
    rng = np.random.default_rng(seed)
    config = BankConfig(compact_after=60, mmap_min_bytes=2048)
    with MemoryBank(directory, DIM, config) as bank:
        print("ready", flush=True)
        next_seed = seed * 1_000_000
        while True:
            op = rng.integers(0, 10)
            live = [e.id for e in bank.entries(limit=100_000)]
            if op < 4 or len(live) < 10:
                n = int(rng.integers(1, 80)) if op else int(rng.integers(100, 300))   # op 0: bulk add
                seeds = list(range(next_seed, next_seed + n))
                next_seed += n
                bank.add_memory(np.stack([seeded_vector(s) for s in seeds]), [f"v{s}" for s in seeds],
                                [EntryMeta(file=f"f{s % 5}.ts") for s in seeds])
            elif op < 6:
                bank.delete_memory(rng.choice(live, size=min(len(live), int(rng.integers(1, 30))),
                                              replace=False).tolist())
            elif op == 6:
                bank.update_memory(int(rng.choice(live)), seeded_vector(next_seed)[None], [f"v{next_seed}"])
                next_seed += 1
            elif op == 7:
                bank.rename_file(f"f{rng.integers(0, 5)}.ts", f"f{rng.integers(0, 5)}.ts")
            elif op == 8:
                bank.delete_file(f"f{rng.integers(0, 5)}.ts")
            else:
                bank.compact()


# -- tests ----------------------------------------------------------------------------------------


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_reader_never_sees_half_a_write(tmp_path: Path) -> None:
    directory = tmp_path / "bank"
    MemoryBank(directory, DIM).close()
    writer = _spawn("batches", str(directory), "150")
    generations: set[int] = set()
    observations = 0
    with MemoryBank(directory, DIM, BankConfig(mmap_min_bytes=1), read_only=True) as reader:
        query = np.ones(DIM, np.float32)
        while writer.poll() is None or observations == 0:
            hits = reader.search(query, k=3 * BATCH)[0]
            size = len(reader)
            generations.add(reader.generation)
            if not hits:
                continue
            tags = {h.text.split("-")[0] for h in hits}
            assert len(tags) == 1, f"entries of two batches visible together: {tags}"
            assert len(hits) == BATCH == size, f"{len(hits)} hits / {size} entries: a partial batch"
            observations += 1
            if observations % 25 == 0:
                assert reader.check() == []
        assert writer.wait() == 0, writer.stderr.read() if writer.stderr else ""
        assert [h.text.split("-")[0] for h in reader.search(query, k=1)[0]] == ["b150"]
    assert observations > 20
    assert len(generations) >= 3, f"the reader saw generations {generations}: compactions not picked up"
    # the reader mapped each generation it used; the writer deleted old files under it meanwhile


def _kill_at_random(directory: Path, seed: int, rng: np.random.Generator) -> None:
    writer = _spawn("chaos", str(directory), str(seed))
    assert writer.stdout is not None
    line = writer.stdout.readline()
    assert line.strip() == "ready", writer.stderr.read() if writer.stderr else line
    time.sleep(float(rng.uniform(0.02, 0.6)))
    if writer.poll() is not None:
        pytest.fail(f"the writer died on its own: {writer.stderr.read() if writer.stderr else ''}")
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()


def test_sigkilled_writer_leaves_a_consistent_bank(tmp_path: Path) -> None:
    directory = tmp_path / "bank"
    rng = np.random.default_rng(7)
    for kill in range(10):
        _kill_at_random(directory, kill + 1, rng)
        with MemoryBank(directory, DIM, BankConfig(mmap_min_bytes=2048)) as bank:
            assert bank.check() == [], f"after kill {kill + 1}"
            entries = bank.entries(limit=100_000)
            assert len(bank) == len(entries)
            if entries:
                sample = entries[:: max(1, len(entries) // 20)]
                expected = np.stack([seeded_vector(int(e.text[1:])) for e in sample])
                np.testing.assert_allclose(bank.vectors([e.id for e in sample]), expected, atol=1e-6)
                hit = bank.search(expected[0], k=1)[0][0]
                assert hit.score == pytest.approx(1.0, abs=1e-5)
    assert not list(directory.glob("*.tmp"))


if __name__ == "__main__":
    mode, where = sys.argv[1], Path(sys.argv[2])
    if mode == "batches":
        batch_writer(where, int(sys.argv[3]))
    else:
        chaos_writer(where, int(sys.argv[3]))
