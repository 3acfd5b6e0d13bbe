"""SIGKILL at random moments (some aimed inside the write transaction) while a process edits and syncs
a generated workspace: after every kill the catalog opens, passes SQLite's integrity check, the
bank-like table changed in the same transactions (no orphan, no missing row), and a fresh sync plus
verify gives zero differences."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from indexer.catalog import CATALOG_FILE, Catalog
from indexer.sync import Indexer
from indexer.verify import verify_catalog
from indexer.workspace import Workspace

from .crash_worker import BankLikeHook
from .workspace_gen import generate_workspace

REPO = Path(__file__).resolve().parents[2]
FILES = 300
KILLS = 10
STARTUP_TIMEOUT_S = 60


def _lines_until(proc: subprocess.Popen[str], wanted: str, timeout: float) -> bool:
    """Read the worker's stdout until a line starting with `wanted` (False on timeout or exit)."""
    found = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(wanted):
                found.set()
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return found.wait(timeout)


def _consistent(workspace: Workspace) -> None:
    with Catalog(workspace.state_dir / CATALOG_FILE, create=False) as catalog:
        assert catalog.integrity_check() == []
        conn = catalog.connection()
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'bank_crash'").fetchone():
            orphans = conn.execute("SELECT COUNT(*) FROM bank_crash WHERE chunk_id NOT IN (SELECT id FROM chunks)")
            missing = conn.execute("SELECT COUNT(*) FROM chunks WHERE id NOT IN (SELECT chunk_id FROM bank_crash)")
            assert (orphans.fetchone()[0], missing.fetchone()[0]) == (0, 0)
        catalog.generation()


def test_sigkill_mid_write_leaves_a_consistent_catalog(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    generate_workspace(root, FILES)
    workspace = Workspace(root)
    rng = random.Random(KILLS)
    aimed = 0
    for round_ in range(KILLS):
        proc = subprocess.Popen([sys.executable, "-m", "tests.indexer.crash_worker", str(root), str(round_), str(FILES)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
        try:
            assert _lines_until(proc, "ready", STARTUP_TIMEOUT_S), "the crash worker did not start"
            if round_ % 2 == 0:  # aim: kill inside the write transaction (the hook dawdles there)
                aimed += _lines_until(proc, "write-begin", STARTUP_TIMEOUT_S)
                time.sleep(rng.uniform(0, 0.02))  # the random kill moment is the test, not a wait
            else:  # anywhere: planning, parsing, writing, editing files
                time.sleep(rng.uniform(0.05, 0.8))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        _consistent(workspace)
        with Indexer(workspace) as indexer:
            indexer.sync(hook=BankLikeHook(announce=False))
            report = verify_catalog(workspace, indexer.config, indexer.catalog)
        assert report.differences == (), f"after kill {round_ + 1}: {report.differences[:5]}"
        _consistent(workspace)
    assert aimed >= 1
