"""The trainer on a tiny model: the loss goes down, resume is exact, budgets stop cleanly, phase 2
continues from phase 1, and resume files that do not fit are refused loudly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from assistant.checkpoints import load_checkpoint
from assistant.errors import CheckpointCorrupt, CheckpointMismatch
from training.checkpointing import load_resume, resume_path
from training.config import Settings
from training.run import run_phase

MakeSettings = Callable[..., Settings]


def test_tiny_model_learns_from_a_folder_and_a_jsonl(ts_corpus: Path, code_jsonl: Path,
                                                     make_settings: MakeSettings) -> None:
    settings = make_settings([str(ts_corpus), str(code_jsonl)], run={"max_steps": 30, "eval_every": 15})
    result = run_phase("phase1", settings)
    first = sum(h["token"] for h in result.history[:3]) / 3
    last = sum(h["token"] for h in result.history[-3:]) / 3
    assert result.steps == 30 and last < first - 1.0
    assert result.validations[-1]["val_token_loss"] < result.validations[0]["val_token_loss"]
    assert all(h["eff_rank"] > 1.5 for h in result.history[-3:])  # latents have not collapsed
    out = Path(settings.run.checkpoint_dir)
    best = load_checkpoint(out / "best_model.pt")
    assert best.extra["phase"] == "phase1" and best.extra["validation"]["val_token_loss"] == result.best_metric
    best.model.load_titans_memory(out / "best_model_titans.pt")
    assert (out / "data_phase1.json").is_file() and (out / "metrics.jsonl").read_text().count('"val"') == 2


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_resume(path).tensors.items() if k.startswith(("model/", "optim/"))}


def test_resume_continues_bit_for_bit(ts_corpus: Path, make_settings: MakeSettings, tmp_path: Path) -> None:
    straight = make_settings([str(ts_corpus)], run={"max_steps": 8, "checkpoint_dir": str(tmp_path / "a")})
    full = run_phase("phase1", straight)
    half = make_settings([str(ts_corpus)], run={"max_steps": 4, "checkpoint_dir": str(tmp_path / "b")})
    run_phase("phase1", half)
    rest = make_settings([str(ts_corpus)], run={"max_steps": 8, "checkpoint_dir": str(tmp_path / "b")})
    resumed = run_phase("phase1", rest, resume="auto")
    assert resumed.steps == 8 and len(resumed.history) == 4
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in full.history[4:]]
    a, b = _weights(resume_path(tmp_path / "a", "phase1")), _weights(resume_path(tmp_path / "b", "phase1"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    state = load_resume(resume_path(tmp_path / "b", "phase1")).state
    assert (state.step, state.step_in_epoch) == (8, 8)
    elsewhere = make_settings([str(ts_corpus)], run={"max_steps": 9, "checkpoint_dir": str(tmp_path / "c")})
    run_phase("phase1", elsewhere, resume=str(resume_path(tmp_path / "b", "phase1")))  # a new session's folder
    assert (tmp_path / "c" / "best_model.pt").is_file() and (tmp_path / "c" / "best_model_titans.pt").is_file()


def test_resume_refuses_other_settings_and_unreadable_files(ts_corpus: Path, make_settings: MakeSettings,
                                                           tmp_path: Path) -> None:
    settings = make_settings([str(ts_corpus)], run={"max_steps": 2})
    run_phase("phase1", settings)
    last = resume_path(settings.run.checkpoint_dir, "phase1")
    other = make_settings([str(ts_corpus)], train={"batch_size": 2}, run={"max_steps": 4})
    with pytest.raises(CheckpointMismatch, match=r"train\.batch_size is 4 in the resume file but 2 now"):
        run_phase("phase1", other, resume=str(last))
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    with pytest.raises(CheckpointCorrupt):
        run_phase("phase1", settings, resume=str(broken))
    more_data = make_settings([str(ts_corpus), str(tmp_path / "extra")], run={"max_steps": 4})
    (tmp_path / "extra" / "pkg").mkdir(parents=True)
    (tmp_path / "extra" / "pkg" / "a.ts").write_text("export const answer = 42;\n")
    with pytest.raises(CheckpointMismatch):
        run_phase("phase1", more_data, resume=str(last))


def test_time_budget_stops_with_a_saved_checkpoint(ts_corpus: Path, make_settings: MakeSettings) -> None:
    settings = make_settings([str(ts_corpus)], train={"num_epochs": 50}, run={"max_steps": 10_000, "max_minutes": 0.01})
    result = run_phase("phase1", settings)
    assert result.stop_reason == "max_minutes" and 1 <= result.steps < 50 * 21
    assert load_resume(resume_path(settings.run.checkpoint_dir, "phase1")).state.step == result.steps


def test_phase2_starts_from_the_phase1_model(ts_corpus: Path, instruction_jsonl: Path,
                                             make_settings: MakeSettings) -> None:
    run_phase("phase1", make_settings([str(ts_corpus)], run={"max_steps": 3}))
    phase2 = make_settings([str(ts_corpus)], [str(instruction_jsonl)], run={"max_steps": 3})
    result = run_phase("phase2", phase2, resume="auto")
    out = Path(phase2.run.checkpoint_dir)
    assert result.steps == 3
    best = load_checkpoint(out / "best_model.pt")
    assert best.extra["phase"] == "phase2" and best.extra["started_from"].endswith("best_model.pt")
    stats = (out / "data_phase2.json").read_text()
    assert '"train_pairs": 0' not in stats


def test_resume_with_a_model_checkpoint_starts_from_its_weights(ts_corpus: Path, make_settings: MakeSettings,
                                                                tmp_path: Path) -> None:
    first = make_settings([str(ts_corpus)], run={"max_steps": 2, "checkpoint_dir": str(tmp_path / "a")})
    run_phase("phase1", first)
    best = tmp_path / "a" / "best_model.pt"
    again = make_settings([str(ts_corpus)], run={"max_steps": 2, "checkpoint_dir": str(tmp_path / "b")})
    result = run_phase("phase1", again, resume=str(best))
    assert result.steps == 2  # a new run (step 0 → 2), not a continuation
    assert load_checkpoint(tmp_path / "b" / "best_model.pt").extra["started_from"] == str(best)
    assert load_checkpoint(best).config.vocab_size == load_checkpoint(tmp_path / "b" / "best_model.pt").config.vocab_size
