"""Two processes (torchrun, gloo on CPU) match one process accumulating the same global batch, bit for bit."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from training.checkpointing import load_resume, resume_path
from training.config import Settings
from training.run import run_phase

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_two_processes_match_one_with_the_same_global_batch(ts_corpus: Path, tmp_path: Path,
                                                            make_settings: Callable[..., Settings]) -> None:
    two = tmp_path / "two"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(ROOT / "training" / "train_typescript.py"), "--config", "tiny_cpu", "--source", str(ts_corpus),
           "--batch_size", "2", "--max_steps", "4", "--num_threads", "1", "--checkpoint_dir", str(two),
           "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "phase1: 4 steps" in done.stdout

    one = make_settings([str(ts_corpus)], train={"batch_size": 2, "num_epochs": 1},
                        data={"val_file_fraction": 0.05}, optim={"accumulation_steps": 2},
                        run={"max_steps": 4, "checkpoint_dir": str(tmp_path / "one")})
    run_phase("phase1", one)

    a, b = load_resume(resume_path(two, "phase1")), load_resume(resume_path(tmp_path / "one", "phase1"))
    assert a.data_fingerprint == b.data_fingerprint and a.state.step == b.state.step == 4
    weights = [k for k in a.tensors if k.startswith(("model/", "optim/"))]
    assert weights and all(torch.equal(a.tensors[k], b.tensors[k]) for k in weights)
