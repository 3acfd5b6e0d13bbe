"""`shutka train …` and the Kaggle scripts: the validation report comes first and errors exit 2."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from indexer.errors import ConfigError
from training.config import load_settings, preset_names
from training.schedules import LinearMomentum, WarmupCosine

ROOT = Path(__file__).resolve().parents[2]


def test_report_names_a_bad_field_and_exits_2(tmp_path: Path, ts_corpus: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nmodel_size = 'tiny'\n\n[optim]\nwarmup_steps = -5\n")
    result = CliRunner().invoke(cli, ["train", "phase1", "--config", str(bad), "--source", str(ts_corpus)])
    assert result.exit_code == 2 and "[optim] warmup_steps" in result.output

    result = CliRunner().invoke(cli, ["train", "phase1", "--config", "tiny_cpu", "--source", str(ts_corpus),
                                      "--batch_size", "0"])
    assert result.exit_code == 2
    assert "ERROR   batch_size must be >= 1 (got 0)" in result.output  # TrainingConfig's own report
    assert "[data] sources" in result.output  # ... followed by ours

    result = CliRunner().invoke(cli, ["train", "phase1", "--config", "tiny_cpu", "--source", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "nope: no such folder" in result.output

    typo = tmp_path / "typo.toml"
    typo.write_text("[data]\nsourcez = []\n")
    result = CliRunner().invoke(cli, ["train", "phase1", "--config", str(typo)])
    assert result.exit_code == 2 and "[data] sourcez: Extra inputs are not permitted" in result.output


def test_check_prints_the_report_and_does_no_work(ts_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "ckpt"
    result = CliRunner().invoke(cli, ["train", "phase1", "--config", "tiny_cpu", "--source", str(ts_corpus),
                                      "--checkpoint_dir", str(out), "--check"])
    assert result.exit_code == 0, result.output
    assert "config OK" in result.output and "settings OK" in result.output and not out.exists()


def test_phase1_then_phase2_through_the_cli(ts_corpus: Path, instruction_jsonl: Path, tmp_path: Path) -> None:
    out = tmp_path / "ckpt"
    common = ["--config", "tiny_cpu", "--source", str(ts_corpus), "--checkpoint_dir", str(out),
              "--batch_size", "4", "--max_steps", "3", "--num_threads", "1", "--no-progress"]
    first = CliRunner().invoke(cli, ["train", "phase1", *common, "--max_samples", "12"])
    assert first.exit_code == 0, first.output
    assert "phase1: 3 steps (max_steps)" in first.output
    second = CliRunner().invoke(cli, ["train", "phase2", *common, "--resume", "--instruction-source",
                                      str(instruction_jsonl), "--code_samples", "12", "--instruction_samples", "50"])
    assert second.exit_code == 0, second.output
    assert (out / "last_phase2.safetensors").is_file() and (out / "best_model.pt").is_file()


def test_scripts_document_the_kaggle_flags() -> None:
    for script, flags in (("train_typescript.py", ("--max_samples", "--batch_size", "--epochs", "--checkpoint_dir")),
                          ("train_real_data.py", ("--resume", "--code_samples", "--instruction_samples",
                                                  "--batch_size", "--epochs", "--checkpoint_dir"))):
        done = subprocess.run([sys.executable, str(ROOT / "training" / script), "--help"], capture_output=True,
                              text=True, cwd=ROOT, timeout=60)
        assert done.returncode == 0, done.stderr
        assert all(flag in done.stdout for flag in (*flags, "--config"))


def test_a_plain_training_config_file_is_the_train_table(tmp_path: Path) -> None:
    plain = tmp_path / "plain.toml"
    plain.write_text("model_size = 'tiny'\nbatch_size = 4\n\n[run]\nseed = 3\n")
    settings = load_settings(plain)
    assert (settings.train.model_size, settings.train.batch_size, settings.run.seed) == ("tiny", 4, 3)
    weird = tmp_path / "weird.toml"
    weird.write_text("[trian]\nbatch_size = 4\n")
    with pytest.raises(ConfigError, match=r"unknown table\(s\) \[trian\]"):
        load_settings(weird)


@pytest.mark.parametrize("name", ["tiny_cpu", "default_cpu", "kaggle_t4", "kaggle_t4x2"])
def test_presets_load(name: str) -> None:
    assert name in preset_names()
    settings = load_settings(name)
    assert not settings.train.issues()[0]


def test_schedules_step_returns_the_value() -> None:
    lr = WarmupCosine(peak=1.0, warmup=4, total=14, min_ratio=0.1)
    values = [lr.step() for _ in range(16)]
    assert values[:4] == [0.25, 0.5, 0.75, 1.0]
    assert values[4] == 1.0 and values[9] == pytest.approx(0.55) and values[14] == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(values[3:]))
    ema = LinearMomentum(0.99, 1.0, total=10)
    assert [ema.step() for _ in range(3)] == pytest.approx([0.99, 0.991, 0.992])


def test_options_that_do_not_apply_here_are_errors(ts_corpus: Path) -> None:
    settings = load_settings("tiny_cpu", {"data": {"sources": [str(ts_corpus)]},
                                          "run": {"device": "cpu", "precision": "fp16"}})
    errors, _ = settings.issues("phase1")
    assert any(e.startswith("[run] precision: fp16 needs a CUDA device") for e in errors)
    assert any("phase 2 needs code or instruction pairs" in e
               for e in load_settings("tiny_cpu").issues("phase2")[0])
