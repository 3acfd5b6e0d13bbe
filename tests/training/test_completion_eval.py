"""`shutka eval` and ranker training end to end on a tiny two-package corpus (real index, tiny model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.engine.features import INDEX
from assistant.engine.ranker import VARIANTS, Ranker
from training.completion_eval.baselines import predict_a, predict_b
from training.completion_eval.make_tasks import make_tasks
from training.completion_eval.scoring import identifier_f1, score
from training.eval_cli import command as eval_command
from training.ranker_training import files_seen_by, load_examples, ranker_command, variant_path


def _service(i: int, name: str) -> str:
    return "\n".join([
        f"import {{ Store{i % 3} }} from './store{i % 3}';",
        "",
        f"export class {name}Service{i} {{",
        f"  constructor(private readonly store: Store{i % 3}) {{}}",
        "",
        f"  async find{name}(id: string): Promise<{name} | undefined> {{",
        f"    const cached = this.store.get<{name}>(`{name.lower()}:${{id}}`);",
        "    if (cached !== undefined) {",
        "      return cached;",
        "    }",
        f"    const fresh = await this.store.load<{name}>('{name.lower()}', id);",
        f"    this.store.set(`{name.lower()}:${{id}}`, fresh);",
        "    return fresh;",
        "  }",
        "}",
        "",
    ])


def _store(i: int) -> str:
    return "\n".join([
        f"export class Store{i} {{",
        "  private readonly items = new Map<string, unknown>();",
        "  get<T>(key: string): T | undefined {",
        "    return this.items.get(key) as T | undefined;",
        "  }",
        "  set<T>(key: string, value: T): void {",
        "    this.items.set(key, value);",
        "  }",
        "  async load<T>(kind: string, id: string): Promise<T> {",
        "    return { kind, id } as unknown as T;",
        "  }",
        "}",
        "",
    ])


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    for pkg, name in (("alpha", "User"), ("beta", "Order")):
        src = root / pkg / "src"
        (src / "services").mkdir(parents=True)
        (root / pkg / ".corpus.json").write_text(json.dumps({"name": f"@t/{pkg}"}))
        for i in range(3):
            (src / f"store{i}.ts").write_text(_store(i))
        for i in range(12):
            folder = src / "services" / f"g{i % 4}"
            folder.mkdir(exist_ok=True)
            (folder / f"service{i}.ts").write_text(_service(i, name).replace("'./store", "'../../store"))
    return root


@pytest.fixture
def tasks_file(corpus: Path, tmp_path: Path) -> Path:
    rows = []
    for pkg in ("alpha", "beta"):
        for t in make_tasks(corpus / pkg, f"@t/{pkg}", files_per_package=4, lines_per_file=3):
            rows.append({"id": t.id, "package": t.package, "file": t.file, "line_no": t.line_no,
                         "prefix": t.prefix, "cursor_prefix": t.cursor_prefix, "target": t.target,
                         "suffix": t.suffix})
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_scores() -> None:
    assert score("return  x;", "return x;").em == 1.0
    assert score("abc", "abd").es == pytest.approx(2 / 3)
    assert identifier_f1("foo(bar)", "foo(baz)") == pytest.approx(0.5)
    assert predict_a([]) == "" and predict_b([]) == ""


def test_eval_runs_with_baselines_and_writes_reports(corpus: Path, tasks_file: Path, tiny_checkpoint: Path,
                                                     tmp_path: Path) -> None:
    out, preds = tmp_path / "report.json", tmp_path / "pred.jsonl"
    result = CliRunner().invoke(eval_command, ["--tasks", str(tasks_file), "--corpus", str(corpus),
                                               "--checkpoint", str(tiny_checkpoint), "--compare-baselines",
                                               "--online", "--out", str(out), "--predictions", str(preds)])
    assert result.exit_code == 0, result.output
    assert "OVERALL" in result.output and "A_EM" in result.output
    report = json.loads(out.read_text())
    overall = report["table"]["OVERALL"]
    assert overall["n"] == 24 and 0 <= overall["em"] <= 100 and "A_em" in overall
    assert "ECE" in result.output
    cal = report["calibration"]
    assert len(cal["bins"]) == 10 and cal["n"] == sum(b["count"] for b in cal["bins"]) <= 24
    assert report["calibration_shown"]["n"] <= cal["n"]
    assert len(preds.read_text().splitlines()) == 24


@pytest.mark.parametrize("flag", ["--no-hoprag", "--no-titans", "--no-decoding", "--no-gate", "--fp32", "--fim"])
def test_eval_ablations_run(flag: str, corpus: Path, tasks_file: Path, tiny_checkpoint: Path) -> None:
    result = CliRunner().invoke(eval_command, ["--tasks", str(tasks_file), "--corpus", str(corpus), "--checkpoint",
                                               str(tiny_checkpoint), "--packages", "@t/alpha", "--limit", "4", flag])
    assert result.exit_code == 0, result.output
    assert flag.lstrip("-") in result.output


def test_eval_rejects_unknown_packages(corpus: Path, tasks_file: Path, tiny_checkpoint: Path) -> None:
    result = CliRunner().invoke(eval_command, ["--tasks", str(tasks_file), "--corpus", str(corpus), "--checkpoint",
                                               str(tiny_checkpoint), "--packages", "nope"])
    assert result.exit_code != 0 and "nope" in result.output


def test_ranker_training_writes_main_and_variants(corpus: Path, tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny.ranker.safetensors"
    cache = tmp_path / "examples.npz"
    run_config = tmp_path / "run.toml"  # the model "trained" on half the files: tasks come from the rest
    run_config.write_text("[data]\nval_file_fraction = 0.5\n")
    args = ["--corpus", str(corpus), "--checkpoint", str(tiny_checkpoint), "--valid", "@t/beta", "--files", "4",
            "--lines", "3", "--unseen-by", str(run_config), "--examples", str(cache), "--out", str(out)]
    result = CliRunner().invoke(ranker_command, args)
    assert result.exit_code == 0, result.output
    assert Ranker.load(out).trained
    for groups in VARIANTS:
        assert Ranker.load(variant_path(out, groups)).trained
    assert variant_path(out, ("decoding", "latent")).is_file(), "the token head off with one more group"
    again = CliRunner().invoke(ranker_command, args)  # cached examples are reused
    assert again.exit_code == 0 and "loaded" in again.output
    # every signal is collected, the token head's too though `[completion]` has it off by default: the
    # main ranker weighs it and its variants are fitted by zeroing one group
    examples, _ = load_examples(cache)
    assert any(e.features[:, INDEX["lm_scored"]].any() for e in examples if len(e.features))


def test_unseen_by_leaves_out_exactly_the_files_phase1_trains_on(corpus: Path, tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text('[data]\nval_packages = ["beta"]\nval_file_fraction = 0.3\nmax_lines_per_package = 120\n')
    seen = files_seen_by(str(config), corpus)
    assert "beta" not in seen  # held out whole
    alpha = seen["alpha"]
    assert 0 < len(alpha) < 15  # some files held out by the file split, some beyond the line cap
    tasks = make_tasks(corpus / "alpha", "@t/alpha", files_per_package=20, lines_per_file=2, exclude=alpha)
    assert tasks and not {t.file for t in tasks} & alpha
