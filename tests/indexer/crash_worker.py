"""A process that edits a generated workspace and syncs it forever, for the SIGKILL test.

`python -m tests.indexer.crash_worker ROOT SEED N`. Its hook writes one `bank_crash` row per chunk in
the sync transaction and dawdles there, so a kill often lands mid-write; it prints `write-begin`
when it enters the transaction (the test uses that to aim some kills)."""

from __future__ import annotations

import random
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from indexer.sync import Indexer
from indexer.types import IndexEvent, IndexPlan, ParsedFile
from indexer.workspace import Workspace

from .workspace_gen import mutate

WRITE_DAWDLE_S = 0.03
"""Time the hook spends inside the transaction (a slow bank write)."""


class BankLikeHook:
    """Mirrors the chunks table into `bank_crash`, inside the sync transaction."""

    def __init__(self, announce: bool) -> None:
        self.announce = announce

    def prepare(self, parsed: Sequence[ParsedFile], plan: IndexPlan) -> object:
        return None

    def write(self, conn: sqlite3.Connection, prepared: object, plan: IndexPlan) -> dict[str, int]:
        if self.announce:
            print("write-begin", flush=True)
        conn.execute("CREATE TABLE IF NOT EXISTS bank_crash (chunk_id INTEGER PRIMARY KEY, content_hash TEXT)")
        conn.execute("DELETE FROM bank_crash WHERE chunk_id IN (SELECT chunk_id FROM temp.sync_removed_chunks)")
        added = conn.execute("INSERT INTO bank_crash SELECT chunk_id, content_hash FROM temp.sync_added_chunks")
        time.sleep(WRITE_DAWDLE_S)
        return {"encoded": added.rowcount}

    def committed(self, event: IndexEvent) -> None:
        if self.announce:
            print(f"committed {event.generation}", flush=True)


def main() -> None:
    root, seed, n = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    indexer = Indexer(Workspace(root))
    hook = BankLikeHook(announce=True)
    print("ready", flush=True)
    while True:
        indexer.sync(hook=hook) if rng.random() < 0.3 else indexer.sync(mutate(root, rng, n, rng.randint(1, 30)), hook=hook)
        mutate(root, rng, n, rng.randint(1, 10))


if __name__ == "__main__":
    main()
