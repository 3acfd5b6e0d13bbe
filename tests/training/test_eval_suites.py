"""`shutka eval suite …` on a tiny trained model: each suite writes its JSON report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from training.config import Settings
from training.evaluation.model_ops import retrieval_metrics
from training.evaluation.suites import algorithmic_items, suite_command
from training.run import run_phase


@pytest.fixture
def checkpoint(ts_corpus: Path, make_settings: Callable[..., Settings]) -> Path:
    settings = make_settings([str(ts_corpus)], data={"val_file_fraction": 0.3}, run={"max_steps": 3})
    run_phase("phase1", settings)
    return Path(settings.run.checkpoint_dir) / "best_model.pt"


def _run(args: list[str], out: Path) -> dict:
    result = CliRunner().invoke(suite_command, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def test_syntax_suite_on_the_checkpoint_validation_split(checkpoint: Path, tmp_path: Path) -> None:
    report = _run(["syntax", "--checkpoint", str(checkpoint), "--limit", "6", "--max-new-tokens", "6"],
                  tmp_path / "syntax.json")
    m = report["metrics"]
    assert report["suite"] == "syntax" and report["data"].startswith("validation split of")
    assert m["cases"] == 6 and 0.0 <= m["parse_rate"] <= 1.0 and 0.0 <= m["edit_similarity"] <= 1.0
    assert {"expected", "completion", "errors_completed", "errors_original"} <= set(report["examples"][0])


def test_programming_suite_on_explicit_held_out_code(checkpoint: Path, tmp_path: Path, ts_corpus: Path,
                                                     instruction_jsonl: Path) -> None:
    report = _run(["programming", "--checkpoint", str(checkpoint), "--source", str(ts_corpus / "gamma"),
                   "--source", str(instruction_jsonl), "--limit", "12"], tmp_path / "programming.json")
    m = report["metrics"]
    assert m["candidates"] == 12 and 0.0 <= m["recall@1"] <= m["recall@5"] <= 1.0 and 0 < m["mrr@10"] <= 1.0


def test_algorithmic_suite(checkpoint: Path, tmp_path: Path) -> None:
    report = _run(["algorithmic", "--checkpoint", str(checkpoint), "--max-new-tokens", "4"], tmp_path / "a.json")
    assert report["items"] == len(algorithmic_items()) >= 20
    assert report["metrics"]["retrieval"]["candidates"] == report["items"]
    assert report["metrics"]["completion"]["cases"] > 100


def test_algorithmic_set_is_valid_typescript() -> None:
    from training.data.syntax import error_count

    items = algorithmic_items()
    assert len({i["id"] for i in items}) == len(items)
    assert all(error_count(i["code"]) == 0 and len(i["description"].split()) >= 6 for i in items)


def test_retrieval_metrics_on_a_known_ranking() -> None:
    import torch

    keys = torch.eye(4)
    queries = torch.tensor([[1.0, 0, 0, 0], [0, 0, 1, 0.9], [0, 0, 1, 0], [0, 0, 0, 1]])
    m = retrieval_metrics(queries, keys)  # query 1: keys 2 and 3 score higher, its tie with key 0 counts for it
    assert m["recall@1"] == 0.75 and m["recall@5"] == 1.0 and m["mrr@10"] == pytest.approx((1 + 1 / 3 + 1 + 1) / 4)
