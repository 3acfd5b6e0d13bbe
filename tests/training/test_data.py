"""The data pipeline: sources, skip counting, caps, the split, and the rows the views produce."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from assistant.tokenizer import TypeScriptTokenizer
from tests.training.helpers import ts_file, write_jsonl, write_ts_corpus
from training.config import DataConfig
from training.data.corpus import is_validation, load_corpus
from training.data.instructions import InstructionRows
from training.data.rows import collate
from training.data.sources import SkipCounts, SourceSpec, read_source
from training.data.views import CodeRows, encode_documents
from training.errors import DataError


def test_empty_undecodable_and_overlong_inputs_are_skipped_and_counted(tmp_path: Path) -> None:
    pkg = tmp_path / "corpus" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "good.ts").write_text(ts_file("pkg", 1))
    (pkg / "empty.ts").write_text("   \n\n")
    (pkg / "latin1.ts").write_bytes("const s = 'caf\xe9';\n".encode("latin-1"))
    (pkg / "binary.ts").write_bytes(b"\x00\x01\x02const")
    (pkg / "minified.ts").write_text("var a=1;" * 500)
    (pkg / "huge.ts").write_text("const x = 1;\n" * 30_000)
    (pkg / "notes.md").write_text("not code")
    rows = [{"content": ts_file("t", 2), "path": "a.ts"}, {"content": "", "path": "b.ts"},
            {"content": "x" * 5000, "path": "c.ts"}, {"content": "const y = 2;", "path": "README.md"}]
    table = write_jsonl(tmp_path / "code.jsonl", rows)
    with table.open("ab") as fh:
        fh.write(b'{"content": "bad \xff\xfe bytes", "path": "d.ts"}\n{not json}\n')
    config = DataConfig(max_file_lines=20_000)
    counts = SkipCounts()
    docs = [*read_source(SourceSpec.parse(str(tmp_path / "corpus")), config, counts),
            *read_source(SourceSpec.parse(str(table)), config, counts)]
    assert sorted(d.path for d in docs) == ["a.ts", "good.ts"]
    assert counts.counts == {"empty": 2, "undecodable": 3, "too_long": 3, "not_typescript": 1, "malformed": 1}
    assert any("latin1.ts" in e for e in counts.examples["undecodable"])


def test_tables_json_and_parquet_are_read_through_datasets(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = ts_file("p", 3)
    pq.write_table(pa.table({"content": [text, ""], "path": ["x.ts", "y.ts"]}), tmp_path / "code.parquet")
    (tmp_path / "pairs.json").write_text('[{"instruction": "Add two numbers please", "output": "const f = 1;"}]')
    counts = SkipCounts()
    docs = list(read_source(SourceSpec.parse(str(tmp_path / "code.parquet")), DataConfig(), counts))
    pairs = list(read_source(SourceSpec.parse(str(tmp_path / "pairs.json")), DataConfig(), counts))
    assert [d.text for d in docs] == [text] and counts["empty"] == 1
    assert pairs[0].instruction == "Add two numbers please" and pairs[0].code == "const f = 1;"


def test_hub_sources_fail_fast_and_clearly_offline() -> None:
    spec = SourceSpec.parse("hf:nobody/nothing:ts?split=train&data_dir=data/typescript")
    assert spec.kind == "hub" and spec.option("config") == "ts" and spec.option("data_dir") == "data/typescript"
    with pytest.raises(DataError, match="hf:nobody/nothing"):
        list(read_source(spec, DataConfig(), SkipCounts()))


def test_split_is_by_package_and_file_and_never_leaks(tmp_path: Path) -> None:
    write_ts_corpus(tmp_path / "c", packages=tuple(f"pkg{i}" for i in range(12)), files=5)
    config = DataConfig(sources=(str(tmp_path / "c"),), val_file_fraction=0.2, val_package_fraction=0.25,
                        val_packages=("pkg0",))
    corpus = load_corpus(config, "phase1")
    again = load_corpus(config, "phase1")
    assert [d.key for d in corpus.val] == [d.key for d in again.val]  # deterministic
    assert {d.key for d in corpus.train}.isdisjoint({d.key for d in corpus.val})
    held_whole = {d.package for d in corpus.val} - {d.package for d in corpus.train}
    assert "pkg0" in held_whole and len(held_whole) >= 2  # whole packages held out ...
    assert {d.package for d in corpus.val} & {d.package for d in corpus.train}  # ... and files of the others
    assert all(is_validation(d.package, d.path, config) for d in corpus.val)


def test_duplicates_and_the_package_cap(tmp_path: Path) -> None:
    root = write_ts_corpus(tmp_path / "c", packages=("big", "small"), files=10)
    (root / "small" / "src" / "copy.ts").write_text((root / "big" / "src" / "mod0.ts").read_text())
    lines = len(ts_file("big", 0).splitlines())
    config = DataConfig(sources=(str(root),), max_lines_per_package=3 * lines + 5, val_file_fraction=0.0)
    corpus = load_corpus(config, "phase1")
    by_package = {p: sum(d.package == p for d in corpus.train) for p in ("big", "small")}
    assert by_package == {"big": 3, "small": 3}
    assert corpus.dropped["duplicate"] == 1 and corpus.dropped["package_cap"] == 2 * 10 + 1 - 1 - 6


@pytest.fixture
def tokenizer() -> TypeScriptTokenizer:
    return TypeScriptTokenizer.train([ts_file("alpha", i) for i in range(8)], vocab_size=600, min_frequency=1)


def test_line_targets_are_the_stripped_line_seen_from_before_it(tmp_path: Path, tokenizer: TypeScriptTokenizer) -> None:
    root = write_ts_corpus(tmp_path / "c", packages=("alpha",), files=3)
    config = DataConfig(sources=(str(root),), val_file_fraction=0.0, fim_rate=0.0, body_weight=0.0, use_weight=0.0)
    docs = load_corpus(config, "phase1").train
    rows = CodeRows(encode_documents(docs, tokenizer), tokenizer, config, max_seq_len=96)
    texts = {line.strip() for d in docs for line in d.text.splitlines()}
    for index in range(len(rows)):
        row = rows.row(index, random.Random(index))
        assert row.cursors and len(row.tokens) <= 96
        for cursor, target in zip(row.cursors, row.targets, strict=True):
            assert target[0] == tokenizer.line_id
            line = tokenizer.decode(target[1:])
            assert line in texts or len(target) == config.max_target_tokens
            context = tokenizer.decode(row.tokens[: cursor + 1])
            following = tokenizer.decode(row.tokens[cursor + 1 :])
            typed = context.rsplit("\n", 1)[-1].strip()
            assert line.startswith(typed)  # the cursor sits inside the line: only its typed part is visible
            assert following.lstrip(" \t").startswith(line[len(typed):].lstrip()[:5])


def test_fim_body_and_use_views(tmp_path: Path, tokenizer: TypeScriptTokenizer) -> None:
    root = write_ts_corpus(tmp_path / "c", packages=("alpha",), files=2)
    docs = load_corpus(DataConfig(sources=(str(root),), val_file_fraction=0.0), "phase1").train
    encoded = encode_documents(docs, tokenizer)
    fim = CodeRows(encoded, tokenizer, DataConfig(fim_rate=1.0), 128).row(0, random.Random(1))
    t = fim.tokens
    assert t[0] == tokenizer.fim_prefix_id and t[fim.cursors[0]] == tokenizer.fim_middle_id and t[-1] == tokenizer.eos_id
    middle = tokenizer.decode(t[fim.cursors[0] + 1 : -1]).strip()
    assert tokenizer.decode(fim.targets[0][1:]) == middle[: len(tokenizer.decode(fim.targets[0][1:]))]
    body_rows = CodeRows(encoded, tokenizer, DataConfig(fim_rate=0.0, line_weight=0.0, use_weight=0.0), 128)
    bodies = [r for i in range(len(body_rows)) for r in [body_rows.row(i, random.Random(i))] if r.cursors]
    assert bodies
    for row in bodies:
        for cursor, target in zip(row.cursors, row.targets, strict=True):
            assert target[0] == tokenizer.span_id
            assert tokenizer.decode(row.tokens[cursor : cursor + 1]).strip().endswith("{")
    use_rows = CodeRows(encoded, tokenizer, DataConfig(fim_rate=0.0, line_weight=0.0, body_weight=0.0), 128)
    uses = [use_rows.row(i, random.Random(i)) for i in range(len(use_rows))]
    assert any(r.cursors for r in uses)


def test_instruction_rows_and_collate(tokenizer: TypeScriptTokenizer) -> None:
    from training.data.sources import InstructionPair

    pairs = [InstructionPair("Return the sum of two numbers.", "export const add = (a: number, b: number) => a + b;",
                             "p", "x"), InstructionPair("Return it twice.", "export const add = (a: number, b: number) => a + b;", "p", "y")]
    rows = InstructionRows(pairs, tokenizer, DataConfig(), 64)
    a, b = rows.row(0, random.Random(0)), rows.row(1, random.Random(0))
    assert a.tokens[0] == tokenizer.instruction_id and a.tokens[a.cursors[0]] == tokenizer.code_id
    assert a.hashes == b.hashes  # same code: never each other's negatives
    batch = collate([a, b], tokenizer.pad_id)
    n = len(a.tokens)
    assert batch.loss_mask[0, : a.cursors[0]].sum() == 0 and batch.loss_mask[0, a.cursors[0] : n - 1].all()
    assert batch.tokens.shape == (2, max(len(a.tokens), len(b.tokens)))
    assert batch.target_tokens.shape[:2] == (2, 1) and batch.target_tokens[0, 0, 0] == tokenizer.span_id


def test_workspace_source_reads_the_index_or_walks_the_disk(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from indexer.sync import Indexer
    from indexer.workspace import Workspace

    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "src" / "a.ts").write_text(ts_file("ws", 1))
    (ws / "src" / "b.tsx").write_text("export const B = () => <div>hello</div>;\n")
    (ws / "build").mkdir()
    (ws / "build" / "gen.ts").write_text(ts_file("ws", 2))
    (ws / ".gitignore").write_text("build/\n")
    spec = SourceSpec.parse(f"workspace:{ws}")
    walked = list(read_source(spec, DataConfig(), SkipCounts()))
    assert sorted(d.path for d in walked) == ["src/a.ts", "src/b.tsx"] and {d.package for d in walked} == {"ws"}
    assert "has no index" in caplog.text
    with Indexer(Workspace(ws)) as indexer:
        indexer.sync()
    caplog.clear()
    indexed = list(read_source(spec, DataConfig(), SkipCounts()))
    assert [(d.path, d.text) for d in indexed] == [(d.path, d.text) for d in walked] and not caplog.text


def test_max_samples_thins_code_across_packages_but_pairs_come_from_every_file(ts_corpus: Path) -> None:
    config = DataConfig(sources=(str(ts_corpus),), val_file_fraction=0.0, max_samples=4)
    sampled = load_corpus(config, "phase2")
    everything = load_corpus(config.model_copy(update={"max_samples": None}), "phase2")
    assert len(sampled.train) == 4 and len({d.package for d in sampled.train}) >= 2
    assert sampled.dropped["max_samples"] == 14
    assert len(sampled.train_pairs) == len(everything.train_pairs) > 4 * 3
