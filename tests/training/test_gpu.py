"""CUDA-only paths: fp16 autocast + GradScaler, and resuming the scaler state. Skipped without CUDA."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from training.checkpointing import load_resume, resume_path
from training.config import Settings
from training.run import run_phase

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_fp16_autocast_with_grad_scaler_trains_and_resumes(ts_corpus: Path, make_settings: Callable[..., Settings],
                                                           tmp_path: Path) -> None:
    gpu = {"device": "cuda", "precision": "fp16", "checkpoint_dir": str(tmp_path / "gpu")}
    result = run_phase("phase1", make_settings([str(ts_corpus)], run={**gpu, "max_steps": 6}))
    assert result.steps == 6 and all(math.isfinite(h["loss"]) for h in result.history)
    state = load_resume(resume_path(tmp_path / "gpu", "phase1")).state
    assert state.scaler and state.scaler["scale"] > 0
    resumed = run_phase("phase1", make_settings([str(ts_corpus)], run={**gpu, "max_steps": 8}), resume="auto")
    assert resumed.steps == 8


def test_fp16_is_refused_without_cuda_in_the_report(make_settings: Callable[..., Settings], ts_corpus: Path) -> None:
    settings = make_settings([str(ts_corpus)], run={"device": "cuda", "precision": "fp16"})
    assert not settings.issues("phase1")[0]  # with CUDA present the combination is valid
