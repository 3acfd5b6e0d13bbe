"""`shutka bench model` on a named size: the same report, for a fresh model of that size."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from assistant.cli import cli


def test_bench_model_measures_a_named_size(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(cli, ["bench", "model", "--size", "tiny", "--rounds", "3", "--memory-batch", "1",
                                      "--memory-seq", "16", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "fresh tiny model (random weights)" in result.output
    report = json.loads(out.read_text())
    assert set(report["speedup"]) == {"1x128", "16x128"} and all(v > 0 for v in report["speedup"].values())
    assert report["memory"]["plain_saved_activations_mb"] > 0


def test_bench_model_refuses_a_checkpoint_and_a_size(tmp_path: Path) -> None:
    ckpt = tmp_path / "m.safetensors"
    ckpt.write_bytes(b"x")
    result = CliRunner().invoke(cli, ["bench", "model", "--size", "tiny", "--checkpoint", str(ckpt)])
    assert result.exit_code == 2 and "not both" in result.output
