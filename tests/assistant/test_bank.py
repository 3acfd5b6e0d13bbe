"""MemoryBank in one process: round trips, exact search against brute force, filters, re-use of
vectors, persistence, staging, the model digest, corruption, memory mapping, the one-writer rule."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.config import BankConfig
from assistant.errors import BankCorrupt, BankError, BankLocked, BankModelMismatch
from assistant.memory.bank import EntryMeta, MemoryBank, content_hash, maintenance, store
from indexer.locking import WriterLock

DIM = 16


def unit(x: np.ndarray) -> np.ndarray:
    x = np.atleast_2d(np.asarray(x, dtype=np.float32))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


class Mirror:
    """What the bank should hold, kept by the test: id -> (unit vector, kind, section)."""

    def __init__(self) -> None:
        self.rows: dict[int, tuple[np.ndarray, str, str]] = {}

    def add(self, ids: list[int], vectors: np.ndarray, metas: list[EntryMeta] | None = None) -> None:
        for n, (i, v) in enumerate(zip(ids, unit(vectors), strict=True)):
            meta = metas[n] if metas else EntryMeta()
            self.rows[i] = (v, meta.kind, meta.section)

    def delete(self, ids: list[int]) -> None:
        for i in ids:
            self.rows.pop(i, None)

    def top(self, query: np.ndarray, k: int, kinds: set[str] | None = None, section: str | None = None
            ) -> list[tuple[int, float]]:
        q = unit(query)[0]
        scored = [(i, float(v @ q)) for i, (v, kind, sec) in self.rows.items()
                  if (kinds is None or kind in kinds) and (section is None or sec == section)]
        return sorted(scored, key=lambda t: -t[1])[:k]


def assert_matches(bank: MemoryBank, mirror: Mirror, rng: np.random.Generator, k: int = 10,
                   queries: int = 5, **filters: object) -> None:
    q = rng.standard_normal((queries, DIM)).astype(np.float32)
    kinds = filters.get("kinds")
    kind_set = {kinds} if isinstance(kinds, str) else (set(kinds) if kinds else None)  # type: ignore[arg-type]
    for row, hits in enumerate(bank.search(q, k, **filters)):  # type: ignore[arg-type]
        expected = mirror.top(q[row], k, kind_set, filters.get("section"))  # type: ignore[arg-type]
        assert [h.id for h in hits] == [i for i, _ in expected]
        np.testing.assert_allclose([h.score for h in hits], [s for _, s in expected], atol=1e-5)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def bank(tmp_path: Path):
    with MemoryBank(tmp_path / "bank", DIM, BankConfig(compact_after=40)) as b:
        yield b


def texts(n: int, prefix: str = "t") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


# -- round trips ----------------------------------------------------------------------------------


def test_add_search_delete_update_round_trip(bank: MemoryBank, rng: np.random.Generator) -> None:
    vectors = rng.standard_normal((5, DIM)).astype(np.float32)
    ids = bank.add_memory(vectors, texts(5))
    assert len(ids) == 5 and len(set(ids)) == 5 and len(bank) == 5

    hit = bank.search(vectors[2], k=1)[0][0]
    assert (hit.id, hit.text) == (ids[2], "t2")
    assert hit.score == pytest.approx(1.0, abs=1e-5)
    assert hit.entry.content_hash == content_hash("t2")

    assert bank.delete_memory([ids[2], 999_999]) == 1
    assert ids[2] not in {h.id for h in bank.search(vectors[2], k=5)[0]}
    assert len(bank) == 4

    new = bank.update_memory(ids[0], rng.standard_normal((2, DIM)), ["a", "b"])
    assert len(bank) == 5 and bank.get([ids[0]]) == []
    assert [e.text for e in bank.get(new)] == ["a", "b"]
    with pytest.raises(BankError, match="no entry"):
        bank.update_memory(ids[0], rng.standard_normal((1, DIM)), ["c"])
    assert bank.check() == []


def test_ids_are_never_reused(bank: MemoryBank, rng: np.random.Generator) -> None:
    first = bank.add_memory(rng.standard_normal((3, DIM)), texts(3))
    bank.delete_memory(first)
    second = bank.add_memory(rng.standard_normal((3, DIM)), texts(3))
    assert min(second) > max(first)


def test_update_inherits_metadata(bank: MemoryBank, rng: np.random.Generator) -> None:
    meta = EntryMeta(kind="function", file="src/a.ts", start_line=3, end_line=9, symbol="f")
    (old,) = bank.add_memory(rng.standard_normal((1, DIM)), ["function f() {}"], [meta])
    (new,) = bank.update_memory(old, rng.standard_normal((1, DIM)), ["function f() { return 1 }"])
    entry = bank.get([new])[0]
    assert (entry.kind, entry.file, entry.symbol, entry.start_line) == ("function", "src/a.ts", "f", 3)
    assert entry.content_hash == content_hash("function f() { return 1 }")


def test_bad_input_is_refused_with_a_message(bank: MemoryBank, rng: np.random.Generator) -> None:
    with pytest.raises(BankError, match=r"expected \(2, 16\)"):
        bank.add_memory(rng.standard_normal((2, DIM + 1)), texts(2))
    with pytest.raises(BankError, match="NaN"):
        bank.add_memory(np.full((1, DIM), np.nan), texts(1))
    with pytest.raises(BankError, match="section"):
        bank.add_memory(rng.standard_normal((1, DIM)), texts(1), [EntryMeta(section="vendor")])  # type: ignore[arg-type]
    with pytest.raises(BankError, match="queries"):
        bank.search(rng.standard_normal((1, 3)))
    assert len(bank) == 0


# -- exact search against brute force --------------------------------------------------------------


def test_search_matches_brute_force_across_delta_tombstones_and_compaction(
        bank: MemoryBank, rng: np.random.Generator) -> None:
    mirror = Mirror()
    generations, mixed = set(), 0
    for step in range(12):
        vectors = rng.standard_normal((15, DIM)).astype(np.float32)
        ids = bank.add_memory(vectors, texts(15, f"s{step}-"))
        mirror.add(ids, vectors)
        doomed = [int(i) for i in rng.choice(sorted(mirror.rows), size=6, replace=False)]
        assert bank.delete_memory(doomed) == 6
        mirror.delete(doomed)
        stats = bank.stats()
        generations.add(stats.generation)
        mixed += bool(stats.generation and stats.delta and stats.tombstones)
        assert len(bank) == len(mirror.rows) == stats.entries
        assert_matches(bank, mirror, rng)
    assert len(generations) >= 3, "compaction never ran"
    assert mixed >= 3, "never searched a generation with tombstones and a delta together"
    bank.compact()
    assert (bank.stats().delta, bank.stats().tombstones) == (0, 0)
    assert_matches(bank, mirror, rng, k=len(mirror.rows) + 5)
    assert bank.check() == []


def test_vectors_come_back_from_generation_and_delta(bank: MemoryBank, rng: np.random.Generator) -> None:
    old = rng.standard_normal((10, DIM)).astype(np.float32)
    old_ids = bank.add_memory(old, texts(10))
    bank.compact()
    new = rng.standard_normal((3, DIM)).astype(np.float32)
    new_ids = bank.add_memory(new, texts(3))
    got = bank.vectors([new_ids[1], old_ids[4], old_ids[0]])
    np.testing.assert_allclose(got, unit(np.stack([new[1], old[4], old[0]])), atol=1e-6)
    bank.delete_memory([old_ids[4]])
    with pytest.raises(BankError, match=str(old_ids[4])):
        bank.vectors([old_ids[4]])


@pytest.mark.parametrize("compact", [False, True])
def test_kind_and_section_filters_are_exact(tmp_path: Path, rng: np.random.Generator, compact: bool) -> None:
    """The selector of matching ids: exact over the generation and the delta, tombstones out."""
    mirror = Mirror()
    kinds = ["line"] * 300 + ["function"] * 30 + ["class"] * 3
    sections = ["workspace", "library"]
    metas = [EntryMeta(kind=k, section=sections[n % 7 == 0]) for n, k in enumerate(kinds)]
    with MemoryBank(tmp_path / "b", DIM, BankConfig(compact_after=10_000)) as bank:
        vectors = rng.standard_normal((len(metas), DIM)).astype(np.float32)
        ids = bank.add_memory(vectors, texts(len(metas)), metas)
        mirror.add(ids, vectors, metas)
        if compact:
            bank.compact()
        doomed = ids[::11]
        bank.delete_memory(doomed)
        mirror.delete(doomed)
        for filters in ({"kinds": "line"}, {"kinds": ["function", "class"]}, {"kinds": "class"},
                        {"section": "library"}, {"kinds": "function", "section": "library"},
                        {"kinds": "enum"}):
            assert_matches(bank, mirror, rng, k=8, **filters)


def test_a_filter_kept_across_commits_sees_deletes_and_additions(tmp_path: Path, rng: np.random.Generator) -> None:
    """The generation's ids passing a filter are found once per generation: later commits reach the
    search through the tombstones and the delta, never through a stale filter."""
    mirror = Mirror()
    metas = [EntryMeta(kind=("line", "function")[n % 3 == 0]) for n in range(120)]
    with MemoryBank(tmp_path / "b", DIM, BankConfig(compact_after=10_000)) as bank:
        vectors = rng.standard_normal((len(metas), DIM)).astype(np.float32)
        ids = bank.add_memory(vectors, texts(len(metas)), metas)
        mirror.add(ids, vectors, metas)
        bank.compact()
        assert_matches(bank, mirror, rng, k=8, kinds="function")  # the filter is found here
        query = vectors[next(n for n, m in enumerate(metas) if m.kind == "function")]
        nearest = bank.search(query, 1, kinds="function")[0][0].id
        bank.delete_memory([nearest])
        mirror.delete([nearest])
        assert nearest not in [h.id for h in bank.search(query, 8, kinds="function")[0]]
        more = rng.standard_normal((6, DIM)).astype(np.float32)
        more_metas = [EntryMeta(kind="function")] * 6
        mirror.add(bank.add_memory(more, texts(6, "m"), more_metas), more, more_metas)
        for filters in ({"kinds": "function"}, {"kinds": "line"}, {"kinds": ["line", "function"]}):
            assert_matches(bank, mirror, rng, k=10, **filters)


def test_searches_go_on_while_a_compaction_writes(bank: MemoryBank, rng: np.random.Generator,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    vectors = rng.standard_normal((30, DIM)).astype(np.float32)
    ids = bank.add_memory(vectors, texts(30))
    bank.delete_memory(ids[:3])
    building, release = threading.Event(), threading.Event()
    real_build = maintenance.build_next

    def slow_build(*args: object, **kwargs: object) -> maintenance.NextGeneration:
        building.set()
        assert release.wait(10)
        return real_build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(maintenance, "build_next", slow_build)
    compaction = threading.Thread(target=bank.compact)
    compaction.start()
    try:
        assert building.wait(10)
        assert bank.search(vectors[5], k=1)[0][0].id == ids[5]     # not blocked by the compaction
        assert len(bank) == 27 and bank.generation == 0
    finally:
        release.set()
        compaction.join()
    assert bank.generation == 1 and len(bank) == 27 and bank.check() == []


# -- re-use of vectors, files ---------------------------------------------------------------------


def test_find_by_hash_and_rename_reuse_vectors(bank: MemoryBank, rng: np.random.Generator) -> None:
    lines = ["const a = 1;", "const b = 2;", "export {a, b};"]
    metas = [EntryMeta(file="src/old.ts", start_line=n + 1, end_line=n + 1) for n in range(3)]
    vectors = rng.standard_normal((3, DIM)).astype(np.float32)
    ids = bank.add_memory(vectors, lines, metas)
    bank.compact()

    assert bank.rename_file("src/old.ts", "src/new.ts") == 3
    assert bank.files() == [("src/new.ts", "workspace", 3)]
    assert bank.entries(file="src/new.ts")[0].id == ids[0]
    np.testing.assert_allclose(bank.vectors(ids), unit(vectors), atol=1e-6)

    # a copy of the content elsewhere finds the stored vectors by hash instead of encoding again
    found = bank.find_by_hash([content_hash(t) for t in lines] + ["unknown"])
    assert set(found) == {content_hash(t) for t in lines}
    reused = bank.vectors([found[content_hash(t)] for t in lines])
    copies = bank.add_memory(reused, lines, [EntryMeta(file="src/copy.ts")] * 3)
    top = bank.search(vectors[1], k=2)[0]
    assert {h.id for h in top} == {ids[1], copies[1]}
    assert bank.delete_file("src/new.ts") == 3
    assert [f for f, _, _ in bank.files()] == ["src/copy.ts"]
    assert bank.check() == []


def test_entries_files_and_stats(bank: MemoryBank, rng: np.random.Generator) -> None:
    metas = [EntryMeta(kind="function", file="a.ts", symbol="f"), EntryMeta(file="a.ts"),
             EntryMeta(kind="interface", section="library", file="node_modules/x/index.d.ts")]
    bank.add_memory(rng.standard_normal((3, DIM)), ["f", "l", "i"], metas)
    assert [e.text for e in bank.entries(file="a.ts")] == ["f", "l"]
    assert [e.text for e in bank.entries(kind="interface")] == ["i"]
    assert [e.text for e in bank.entries(limit=1, offset=1)] == ["l"]
    assert bank.files() == [("a.ts", "workspace", 2), ("node_modules/x/index.d.ts", "library", 1)]
    stats = bank.stats()
    assert stats.by_kind == {"function": 1, "line": 1, "interface": 1}
    assert stats.by_section == {"workspace": 2, "library": 1}
    assert (stats.entries, stats.files, stats.delta, stats.generation) == (3, 2, 3, 0)


# -- persistence, readers -------------------------------------------------------------------------


def test_persistence_across_close_and_reopen(tmp_path: Path, rng: np.random.Generator) -> None:
    mirror = Mirror()
    config = BankConfig(compact_after=25)
    with MemoryBank(tmp_path / "b", DIM, config) as bank:
        for _ in range(4):
            vectors = rng.standard_normal((10, DIM)).astype(np.float32)
            mirror.add(bank.add_memory(vectors, texts(10)), vectors)
            doomed = sorted(mirror.rows)[:3]
            bank.delete_memory(doomed)
            mirror.delete(doomed)
        generation = bank.generation
    with MemoryBank(tmp_path / "b", DIM, config) as bank:
        assert bank.generation == generation and len(bank) == len(mirror.rows)
        assert_matches(bank, mirror, rng)
        assert bank.check() == []


def test_second_instance_sees_commits_after_refresh(tmp_path: Path, rng: np.random.Generator) -> None:
    config = BankConfig(compact_after=10)
    with MemoryBank(tmp_path / "b", DIM, config) as writer, \
            MemoryBank(tmp_path / "b", DIM, config, read_only=True) as reader:
        vectors = rng.standard_normal((4, DIM)).astype(np.float32)
        ids = writer.add_memory(vectors, texts(4))
        assert len(reader) == 4                      # every read refreshes (one small SQL read)
        writer.add_memory(rng.standard_normal((20, DIM)), texts(20))   # a bulk add: new generation
        assert reader.generation == writer.generation >= 1
        assert reader.search(vectors[3], k=1)[0][0].id == ids[3]
        assert reader.refresh() is False
        with pytest.raises(BankError, match="read-only"):
            reader.add_memory(vectors, texts(4))


def test_reader_of_a_missing_bank_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(BankError, match="shutka index"):
        MemoryBank(tmp_path / "none", DIM, read_only=True)


def test_shared_database_and_staged_transaction(tmp_path: Path, rng: np.random.Generator) -> None:
    """The workspace sync puts catalog and bank changes in one transaction of its own connection."""
    db = tmp_path / ".shutka" / "index.sqlite"
    db.parent.mkdir()
    lock = WriterLock(tmp_path / ".shutka" / "writer.lock")
    catalog = sqlite3.connect(db, isolation_level=None)
    catalog.execute("CREATE TABLE files (path TEXT PRIMARY KEY)")
    with MemoryBank(tmp_path / ".shutka" / "bank", DIM, db_path=db, lock=lock) as bank:
        tables = {r[0] for r in catalog.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"bank_entries", "bank_delta", "bank_tombstones", "bank_meta", "schema_versions"} <= tables
        assert catalog.execute("SELECT version FROM schema_versions WHERE component='bank'").fetchone() == (1,)

        with pytest.raises(BankError, match="writer lock"):
            bank.stage_add(catalog, rng.standard_normal((1, DIM)), ["x"])
        with lock:
            catalog.execute("BEGIN IMMEDIATE")
            catalog.execute("INSERT INTO files VALUES ('a.ts')")
            ids = bank.stage_add(catalog, rng.standard_normal((3, DIM)), texts(3),
                                 [EntryMeta(file="a.ts")] * 3)
            catalog.execute("ROLLBACK")              # the sync failed: neither catalog nor bank changed
            assert len(bank) == 0 and bank.check() == []

            catalog.execute("BEGIN IMMEDIATE")
            catalog.execute("INSERT INTO files VALUES ('a.ts')")
            ids = bank.stage_add(catalog, rng.standard_normal((3, DIM)), texts(3),
                                 [EntryMeta(file="a.ts")] * 3)
            assert len(bank) == 0                    # not committed yet: invisible
            catalog.execute("COMMIT")
            bank.refresh()
            assert len(bank) == 3

            catalog.execute("BEGIN IMMEDIATE")
            assert bank.stage_rename_file(catalog, "a.ts", "b.ts") == 3
            assert store.delete_entries(catalog, [int(i) for i in ids[:1]]) == 1  # staged: what delete_memory does
            catalog.execute("COMMIT")
            catalog.execute("BEGIN IMMEDIATE")
            assert bank.stage_delete_file(catalog, "b.ts") == 2
            catalog.execute("COMMIT")
        bank.refresh()
        assert len(bank) == 0 and bank.check() == []
    catalog.close()


def test_auto_save_off_commits_on_request(tmp_path: Path, rng: np.random.Generator) -> None:
    config = BankConfig(auto_save=False)
    with MemoryBank(tmp_path / "b", DIM, config) as writer, \
            MemoryBank(tmp_path / "b", DIM, config, read_only=True) as reader:
        ids = writer.add_memory(rng.standard_normal((3, DIM)), texts(3))
        writer.delete_memory(ids[:1])
        assert len(writer) == 2 and len(reader) == 0
        writer.commit()
        assert len(reader) == 2
        writer.add_memory(rng.standard_normal((3, DIM)), texts(3))
        writer.rollback()
        assert len(writer) == len(reader) == 2
        assert writer.check() == []


# -- the one-writer rule --------------------------------------------------------------------------


def test_second_writer_waits_then_raises_bank_locked(tmp_path: Path, rng: np.random.Generator) -> None:
    first = MemoryBank(tmp_path / "b", DIM)
    second = MemoryBank(tmp_path / "b", DIM, lock_timeout=0.2)   # its own lock object: like another process
    first.lock.acquire()
    try:
        started = time.monotonic()
        with pytest.raises(BankLocked, match="one writer"):
            second.add_memory(rng.standard_normal((1, DIM)), ["x"])
        assert time.monotonic() - started >= 0.2
        first.add_memory(rng.standard_normal((1, DIM)), ["y"])    # re-entrant for the holder
    finally:
        first.lock.release()
    second.lock_timeout = 5.0
    assert len(second.add_memory(rng.standard_normal((1, DIM)), ["z"])) == 1
    assert len(first) == len(second) == 2
    first.close()
    second.close()


# -- the model digest -----------------------------------------------------------------------------


def test_model_mismatch_raises_until_reencoded(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "b"
    with MemoryBank(path, DIM, model_digest="model-a") as bank:
        ids = bank.add_memory(rng.standard_normal((30, DIM)), texts(30))
        bank.delete_memory(ids[:2])
        assert bank.model_digest == "model-a"

    projection = rng.standard_normal((DIM, DIM)).astype(np.float32)

    def encode(batch: list[str], kinds: list[str] | None = None) -> np.ndarray:
        return np.stack([np.random.default_rng(int(t[1:])).standard_normal(DIM) for t in batch]) @ projection

    with MemoryBank(path, DIM, model_digest="model-b") as bank, \
            MemoryBank(path, DIM, model_digest="model-b", read_only=True) as reader:
        with pytest.raises(BankModelMismatch, match=r"model-a.*model-b.*re-encode"):
            bank.search(rng.standard_normal(DIM))
        with pytest.raises(BankModelMismatch):
            bank.add_memory(rng.standard_normal((1, DIM)), ["x"])
        with pytest.raises(BankModelMismatch):
            reader.search(rng.standard_normal(DIM))
        assert bank.get(ids[2:3])[0].text == "t2"     # metadata stays readable
        seen: list[tuple[int, int]] = []
        bank.reencode(encode, "model-b", progress=lambda done, total: seen.append((done, total)), batch_size=8)
        assert seen[-1] == (28, 28) and len(seen) == 4
        assert bank.model_digest == reader.model_digest == "model-b"
        hit = reader.search(encode(["t7"]), k=1)[0][0]
        assert hit.id == ids[7] and hit.score == pytest.approx(1.0, abs=1e-5)
        assert len(bank) == 28 and bank.check() == []


def test_empty_bank_adopts_the_new_model(tmp_path: Path) -> None:
    MemoryBank(tmp_path / "b", DIM, model_digest="a").close()
    with MemoryBank(tmp_path / "b", 2 * DIM, model_digest="b") as bank:
        assert bank.model_digest == "b" and bank.stats().dim == 2 * DIM


def test_dimension_mismatch_is_a_model_mismatch(tmp_path: Path, rng: np.random.Generator) -> None:
    with MemoryBank(tmp_path / "b", DIM) as bank:
        bank.add_memory(rng.standard_normal((2, DIM)), texts(2))
    with MemoryBank(tmp_path / "b", 2 * DIM) as bank, pytest.raises(BankModelMismatch, match="16-d"):
        bank.search(rng.standard_normal(2 * DIM))


# -- corruption -----------------------------------------------------------------------------------


def _bank_with_generation(path: Path, rng: np.random.Generator, n: int = 50) -> Path:
    with MemoryBank(path, DIM) as bank:
        bank.add_memory(rng.standard_normal((n, DIM)), texts(n))
        bank.compact()
        return path / f"gen-{bank.generation:06d}.faiss"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip_tail", "delete"])
def test_damaged_generation_gives_bank_corrupt_and_rebuild_repairs(
        tmp_path: Path, rng: np.random.Generator, damage: str) -> None:
    gen = _bank_with_generation(tmp_path / "b", rng)
    data = gen.read_bytes()
    if damage == "truncate":
        gen.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        gen.write_bytes(bytes(rng.integers(0, 256, len(data), dtype=np.uint8)))
    elif damage == "flip_tail":
        gen.write_bytes(data[:-8] + bytes(8))
    else:
        gen.unlink()
    with pytest.raises(BankCorrupt, match="shutka index --rebuild") as info:
        MemoryBank(tmp_path / "b", DIM)
    assert "Traceback" not in str(info.value) and "faiss::" not in str(info.value)

    def encode(batch: list[str], kinds: list[str] | None = None) -> np.ndarray:
        return np.ones((len(batch), DIM), np.float32)

    with MemoryBank.rebuild(tmp_path / "b", DIM, encode, "m") as bank:
        assert len(bank) == 50 and bank.check() == []


def test_check_reports_damage_inside_the_vectors(tmp_path: Path, rng: np.random.Generator) -> None:
    gen = _bank_with_generation(tmp_path / "b", rng, n=40_000)   # 2.5 MB: past the quick hash's ends
    data = bytearray(gen.read_bytes())
    middle = len(data) // 2                        # inside the vectors: only the full hash sees it
    data[middle:middle + 4] = b"\x00\x00\x80\x7f"
    with MemoryBank(tmp_path / "b", DIM) as bank:  # opened (and checked) before the damage
        gen.write_bytes(bytes(data))
        assert any("sha256" in p for p in bank.check())
    with pytest.raises(BankCorrupt, match="checksum mismatch"):   # the next open refuses it
        MemoryBank(tmp_path / "b", DIM)


def test_corrupt_database_gives_bank_corrupt(tmp_path: Path, rng: np.random.Generator) -> None:
    _bank_with_generation(tmp_path / "b", rng)
    db = tmp_path / "b" / "bank.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 500)
    with pytest.raises(BankCorrupt, match="`shutka index` on its workspace recovers it"):
        MemoryBank(tmp_path / "b", DIM)


def test_orphans_of_a_crashed_compaction_are_removed(tmp_path: Path, rng: np.random.Generator) -> None:
    gen = _bank_with_generation(tmp_path / "b", rng)
    orphan = gen.with_name("gen-000099.faiss")
    orphan.write_bytes(gen.read_bytes())
    tmp = gen.with_name("gen-000100.faiss.tmp")
    tmp.write_bytes(b"partial")
    with MemoryBank(tmp_path / "b", DIM) as bank:
        assert not orphan.exists() and not tmp.exists() and gen.exists()
        assert len(bank) == 50


# -- memory mapping -------------------------------------------------------------------------------


@pytest.mark.parametrize("index_type", ["flat", "ivf"])
def test_mmapped_generation_searches_like_brute_force(tmp_path: Path, rng: np.random.Generator,
                                                      index_type: str) -> None:
    config = BankConfig(mmap_min_bytes=1, index_type=index_type, ivf_min_vectors=1000, nprobe=64,
                        compact_after=5000)
    mirror = Mirror()
    with MemoryBank(tmp_path / "b", DIM, config) as bank:
        vectors = rng.standard_normal((2000, DIM)).astype(np.float32)
        mirror.add(bank.add_memory(vectors, texts(2000)), vectors)
        bank.compact()
        stats = bank.stats()
        assert stats.mmapped and stats.index_type == index_type
        maps = Path("/proc/self/maps")
        if maps.exists():                              # the kernel agrees: the file is mapped
            assert f"gen-{stats.generation:06d}.faiss" in maps.read_text()
        doomed = sorted(mirror.rows)[::5]
        bank.delete_memory(doomed)
        mirror.delete(doomed)
        extra = rng.standard_normal((20, DIM)).astype(np.float32)
        mirror.add(bank.add_memory(extra, texts(20)), extra)
        if index_type == "flat":
            assert_matches(bank, mirror, rng)
        else:                                          # IVF is approximate: most of the top 10
            q = rng.standard_normal((20, DIM)).astype(np.float32)
            recall = np.mean([len({h.id for h in hits} & {i for i, _ in mirror.top(q[n], 10)}) / 10
                              for n, hits in enumerate(bank.search(q, 10))])
            assert recall > 0.8
        bank.compact()                                 # compaction reads the mapped file, never writes it
        assert bank.stats().mmapped and bank.check() == []
        np.testing.assert_allclose(bank.vectors([max(mirror.rows)]), mirror.rows[max(mirror.rows)][0][None],
                                   atol=1e-6)
