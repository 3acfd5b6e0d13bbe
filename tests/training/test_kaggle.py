"""The Kaggle launcher: commands for one and two GPUs, corpus discovery, the notebook, and path hygiene."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from training import kaggle

ROOT = Path(__file__).resolve().parents[2]


def test_two_gpus_run_under_torchrun_and_one_under_python() -> None:
    two = kaggle.phase_command("phase1", 2, [Path("corpus")], ("--max_samples", "10"))
    assert two[:5] == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert two[5].endswith("train_typescript.py") and "kaggle_t4x2" in two and two[-2:] == ["--max_samples", "10"]
    one = kaggle.phase_command("phase2", 1, [Path("corpus")])
    assert one[1].endswith("train_real_data.py") and "kaggle_t4" in one and "--resume" in one


def test_find_corpora_skips_the_project_itself(tmp_path: Path) -> None:
    (tmp_path / "shutka-src" / "training").mkdir(parents=True)
    (tmp_path / "shutka-src" / "pyproject.toml").write_text("[project]\n")
    (tmp_path / "shutka-src" / "training" / "x.ts").write_text("const a = 1;\n")
    (tmp_path / "ts-corpus" / "train" / "pkg").mkdir(parents=True)
    (tmp_path / "ts-corpus" / "train" / "pkg" / "a.ts").write_text("const a = 1;\n")
    (tmp_path / "images").mkdir()
    assert kaggle.find_corpora(tmp_path) == [tmp_path / "ts-corpus"]


def test_notebook_is_a_short_launcher() -> None:
    notebook = json.loads((ROOT / "training" / "kaggle" / "shutka_kaggle.ipynb").read_text())
    code = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    assert notebook["nbformat"] == 4 and len(code) <= 6
    joined = "\n".join(code)
    for step in ("pip install", "training.kaggle detect", "training.kaggle phase1", "training.kaggle phase2",
                 "training.kaggle bundle"):
        assert step in joined
    assert (ROOT / "training" / "kaggle" / "KAGGLE_GUIDE.md").is_file()


def test_only_kaggle_py_knows_kaggle_paths() -> None:
    offenders = [p.relative_to(ROOT).as_posix() for p in (ROOT / "training").rglob("*.py")
                 if p.name != "kaggle.py" and re.search(r"[\"']/kaggle/", p.read_text(encoding="utf-8"))]
    assert offenders == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
def test_cuda_check_refuses_plainly_without_a_gpu(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "training" / "kaggle" / "cuda_check.sh"
    done = subprocess.run(["bash", str(script), str(tmp_path), str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=120, cwd=script.parents[2], env={**os.environ, "PYTHON": sys.executable})
    assert done.returncode == 1 and "NO CUDA" in done.stdout
