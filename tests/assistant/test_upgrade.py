"""A database written by the current release (0.2.0) opens with this one: every schema is upgraded in
place through the one registry (indexer.migrations), nothing is re-encoded, the Titans episodes and the
suppressions are kept, and completions work.

The fixture is a `sqlite3 .dump` of `.shutka/index.sqlite` written by 0.2.0 for a copy of
`examples/workspace` indexed with the bundled model (10 Titans episodes, 1 suppression)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

from assistant.runtime import open_runtime
from assistant.types import CompletionRequest

ROOT = Path(__file__).resolve().parents[2]
DUMP = Path(__file__).parent / "fixtures" / "index-0.2.0.sql"


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".shutka" not in p.parts}


def test_a_database_of_the_current_release_is_upgraded_in_place(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    shutil.copytree(ROOT / "examples" / "workspace", workspace, ignore=shutil.ignore_patterns(".shutka"))
    db = workspace / ".shutka" / "index.sqlite"
    db.parent.mkdir()
    conn = sqlite3.connect(db)
    conn.executescript(DUMP.read_text(encoding="utf-8"))
    conn.close()
    before = dict(_rows(db, "SELECT component, version FROM schema_versions"))
    assert before == {"catalog": 4, "bank": 1, "titans": 1}, "the fixture is 0.2.0's database"
    suppressions = _rows(db, "SELECT file, content_hash FROM assistant_suppressed")
    episodes = _rows(db, "SELECT id, text FROM titans_episodes ORDER BY id")
    assert len(suppressions) == 1 and len(episodes) == 10
    files = _digests(workspace)

    with open_runtime(workspace) as runtime:
        assistant = runtime.assistant
        report = assistant.last_sync
        assert report is not None and report.encoded == 0, "nothing re-encoded"
        assert assistant.titans_stats().episodes == 10
        text = (workspace / "src" / "services" / "cart.ts").read_text(encoding="utf-8")
        lines = text.split("\n")
        line_no = next(i for i, line in enumerate(lines) if line.strip().startswith("return"))
        column = len(lines[line_no]) - len(lines[line_no].lstrip()) + len("return")
        result = assistant.complete(CompletionRequest(text, line_no, column, "src/services/cart.ts",
                                                      use_gate=False))
        assert result.items, "a completion works on the upgraded database"

    after = dict(_rows(db, "SELECT component, version FROM schema_versions"))
    assert after == {**before, "suppressions": 1}, "every table's owner is versioned now"
    assert _rows(db, "SELECT file, content_hash FROM assistant_suppressed") == suppressions
    assert _rows(db, "SELECT id, text FROM titans_episodes ORDER BY id") == episodes
    assert _digests(workspace) == files
