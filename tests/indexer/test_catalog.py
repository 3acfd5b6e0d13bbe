"""The catalog: schema versioning shared with other components, corruption reported actionably,
readers see only committed generations, row ids survive moves."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

import pytest

from indexer.catalog import CATALOG_FILE, Catalog
from indexer.errors import CatalogCorrupt, IndexerError
from indexer.reading import content_hash
from indexer.schema import MIGRATIONS, SCHEMA_VERSIONS_SQL
from indexer.sync import Indexer
from indexer.types import Chunk, FileInfo, ParsedFile, Span
from indexer.workspace import Workspace


def _parsed(path: str, text: str = "export const a = 1;\n") -> ParsedFile:
    chunk = Chunk(path, "constant", "a", Span(0, 1, 0, len(text) - 1), text[:-1], content_hash(text[:-1]),
                  exported=True)
    return ParsedFile(FileInfo(path, len(text), 1), content_hash(text), text, (chunk,), (), (), (), ("./b",))


def test_schema_versions_and_pragmas(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace()
    with Catalog.open(ws) as catalog:
        conn = catalog.connection()
        assert conn.execute("SELECT component, version FROM schema_versions").fetchall() == [
            ("catalog", len(MIGRATIONS))]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"files", "chunks", "refs", "imports", "skips", "meta", "schema_versions"} <= tables
        assert not any(t.startswith(("bank_", "titans_")) for t in tables)
        assert catalog.generation() == 0
        assert catalog.integrity_check() == []
    assert (ws.state_dir / ".gitignore").read_text().strip().endswith("*")


def test_other_components_share_schema_versions(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace()
    ws.ensure_state_dir()
    conn = sqlite3.connect(ws.state_dir / CATALOG_FILE)
    conn.execute("CREATE TABLE schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_versions VALUES ('bank', 7)")
    conn.commit()
    conn.close()
    with Catalog.open(ws) as catalog:
        rows = dict(catalog.connection().execute("SELECT component, version FROM schema_versions").fetchall())
    assert rows == {"bank": 7, "catalog": len(MIGRATIONS)}


def test_older_schema_is_migrated(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace()
    ws.ensure_state_dir()
    conn = sqlite3.connect(ws.state_dir / CATALOG_FILE)
    conn.executescript(SCHEMA_VERSIONS_SQL + ";" + MIGRATIONS[0])
    conn.execute("INSERT INTO schema_versions VALUES ('catalog', 1)")
    conn.execute("INSERT INTO files (path, section, size, mtime_ns, checked_ns, content_hash, text, generation) "
                 "VALUES ('a.ts', 'workspace', 1, 1, 1, 'h', 'x', 1)")
    conn.commit()
    conn.close()
    with Catalog.open(ws) as catalog:
        assert catalog.connection().execute(
            "SELECT version FROM schema_versions WHERE component = 'catalog'").fetchone()[0] == len(MIGRATIONS)
        state = catalog.file_state("a.ts")
        assert state is not None and state.chunker == ""  # rows from before v2: re-chunked by the next sync


def test_newer_schema_is_refused(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace()
    Catalog.open(ws).close()
    conn = sqlite3.connect(ws.state_dir / CATALOG_FILE)
    conn.execute("UPDATE schema_versions SET version = 99 WHERE component = 'catalog'")
    conn.commit()
    conn.close()
    with pytest.raises(CatalogCorrupt, match="schema v99, newer than this Shutka understands"):
        Catalog.open(ws)


def test_garbage_database_is_reported_as_corrupt(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace()
    ws.ensure_state_dir()
    (ws.state_dir / CATALOG_FILE).write_bytes(b"this is not a database" * 200)
    with pytest.raises(CatalogCorrupt, match=r"is damaged .*`shutka index` on its workspace recovers it"):
        Catalog.open(ws)


def test_missing_catalog_without_create(make_workspace: Callable[..., Workspace]) -> None:
    with pytest.raises(IndexerError, match="run `shutka index`"):
        Catalog.open(make_workspace(), create=False)


def test_readers_see_only_committed_generations(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace()
    writer = Catalog.open(ws)
    reader = Catalog.open(ws)  # its own connection, as another process would have
    inside = threading.Event()
    release = threading.Event()

    def write() -> None:
        with writer.write() as tx:
            tx.insert(_parsed("a.ts"), checked_ns=0)
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=write)
    thread.start()
    assert inside.wait(10)
    assert reader.generation() == 0
    assert reader.file_state("a.ts") is None
    release.set()
    thread.join(10)
    assert reader.generation() == 1
    assert reader.file_text("a.ts") == "export const a = 1;\n"
    writer.close()
    reader.close()


def test_failed_write_rolls_back_every_component(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace()
    with Catalog.open(ws) as catalog:
        catalog.connection().execute("CREATE TABLE bank_entries (id INTEGER PRIMARY KEY, chunk_id INTEGER)")
        with pytest.raises(RuntimeError), catalog.write() as tx:
            tx.insert(_parsed("a.ts"), checked_ns=0)
            tx.conn.execute("INSERT INTO bank_entries (chunk_id) SELECT id FROM chunks")
            raise RuntimeError("encoder crashed")
        assert catalog.generation() == 0
        assert catalog.file_state("a.ts") is None
        assert catalog.connection().execute("SELECT COUNT(*) FROM bank_entries").fetchone()[0] == 0


def test_move_keeps_row_ids_and_rewrites_chunk_ids(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace()
    with Catalog.open(ws) as catalog:
        with catalog.write() as tx:
            tx.insert(_parsed("old/a.ts"), checked_ns=0)
        before = catalog.chunk_row_id("old/a.ts#a@0")
        file_id = catalog.file_state("old/a.ts").file_id  # type: ignore[union-attr]
        with catalog.write() as tx:
            assert tx.move("old/a.ts", "new/a.ts")
            moved = tx.conn.execute("SELECT file_id, old_path, new_path FROM temp.sync_moved_files").fetchall()
        assert moved == [(file_id, "old/a.ts", "new/a.ts")]
        assert catalog.file_state("old/a.ts") is None
        assert catalog.file_state("new/a.ts").file_id == file_id  # type: ignore[union-attr]
        assert catalog.chunk_row_id("new/a.ts#a@0") == before
        chunk = catalog.chunk("new/a.ts#a@0")
        assert chunk is not None and chunk.path == "new/a.ts" and chunk.text == "export const a = 1;"
        assert catalog.lines("new/a.ts") == ["export const a = 1;", ""]


def test_row_ids_are_never_reused(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace()
    with Catalog.open(ws) as catalog:
        with catalog.write() as tx:
            tx.insert(_parsed("a.ts"), checked_ns=0)
        first = catalog.chunk_row_id("a.ts#a@0")
        with catalog.write() as tx:
            tx.remove("a.ts")
            tx.insert(_parsed("a.ts"), checked_ns=0)
            removed = tx.conn.execute("SELECT chunk_id FROM temp.sync_removed_chunks").fetchall()
            added = tx.conn.execute("SELECT chunk_id FROM temp.sync_added_chunks").fetchall()
        assert removed == [(first,)]
        assert added == [(catalog.chunk_row_id("a.ts#a@0"),)]
        assert added[0][0] != first


def test_counts_after_sync(basic_workspace: Workspace, make_indexer: Callable[..., Indexer]) -> None:
    indexer = make_indexer(basic_workspace)
    indexer.sync()
    counts = indexer.catalog.counts()
    assert counts["files"] == 5 and counts["library_files"] == 0 and counts["generation"] == 1
    assert counts["chunks"] == sum(len(indexer.catalog.chunks(p)) for p in indexer.catalog.file_states())
