"""The Kaggle guide's two commands, word for word: with no --source they read the default hub datasets
(redirected here to local data: tests never reach the network), write every file the guide promises in
both --checkpoint_dir (best_model.pt, best_model_titans.pt, checkpoint_titans.pt), log the guide's figures
to metrics.jsonl even after one step, and end phase 2 with shutka_v2_bundle.zip (model + Titans + memory
bank) in the working folder. Offline with nothing cached, the default source fails in one clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.memory.bank import MemoryBank
from tests.training.helpers import write_jsonl, write_ts_corpus
from training import config as training_config
from training.cli import phase1, phase2
from training.config import DataConfig, load_settings
from training.data.sources import HubUnreachable, InstructionPair, SkipCounts, SourceSpec, read_source
from training.monitor import Monitor

ROOT = Path(__file__).resolve().parents[2]
PHASE1 = ["--max_samples", "50000", "--batch_size", "16", "--epochs", "10"]
PHASE2 = ["--code_samples", "10000", "--instruction_samples", "10000", "--batch_size", "8", "--epochs", "20"]
FAST = ["--config", "tiny_cpu", "--num_threads", "1", "--no-progress"]
"""All a test adds to the guide's flags: the tiny preset, one thread, no bar (and --max_steps)."""
GUIDE_NAMES = ("peak_memory_mb", "throughput_tokens_per_s", "complexity", "block_skips")


def magicoder_rows() -> list[dict[str, Any]]:
    """Rows shaped like the default instruction set (problem / markdown solution / lang)."""
    rows = []
    for i, (name, op) in enumerate((("sum", "+"), ("difference", "-"), ("product", "*"), ("quotient", "/"),
                                    ("remainder", "%"), ("power", "**"), ("maximum", ">"), ("minimum", "<"))):
        code = f"export function {name}{i}(a: number, b: number): number {{\n  return a {op} b;\n}}\n"
        rows.append({"lang": "typescript", "problem": f"Write a TypeScript function returning the {name} of a and b.",
                     "solution": f"Here is the function:\n```typescript\n{code}```\nIt uses `{op}`."})
    rows.append({"lang": "python", "problem": "Write a Python function that adds two numbers.",
                 "solution": "```python\ndef add(a, b):\n    return a + b\n```\n"})
    return rows


@pytest.fixture(scope="module")
def guide_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Phase 1 then phase 2 with the guide's flags, the default sources pointing at local data."""
    root = tmp_path_factory.mktemp("guide")
    code = write_ts_corpus(root / "hub-code", packages=("alpha", "beta", "gamma", "delta"), files=10)
    pairs = write_jsonl(root / "hub-instructions.jsonl", magicoder_rows())
    working = root / "working"
    syntax, agent = working / "checkpoints_syntax", working / "checkpoints_agent"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training_config, "DEFAULT_SOURCES", (str(code),))
        mp.setattr(training_config, "DEFAULT_INSTRUCTION_SOURCES", (str(pairs),))
        first = CliRunner().invoke(phase1, [*PHASE1, "--checkpoint_dir", str(syntax), *FAST, "--max_steps", "1"])
        assert first.exit_code == 0, first.output
        second = CliRunner().invoke(phase2, ["--resume", str(syntax / "best_model.pt"), *PHASE2,
                                             "--checkpoint_dir", str(agent), *FAST, "--max_steps", "2"])
        assert second.exit_code == 0, second.output
    yield {"root": root, "working": working, "syntax": syntax, "agent": agent,
           "phase1": first.output, "phase2": second.output}


def test_both_phases_write_every_file_the_guide_promises(guide_run: dict[str, Any]) -> None:
    for phase, folder in (("phase1", guide_run["syntax"]), ("phase2", guide_run["agent"])):
        for name in ("best_model.pt", "best_model_titans.pt", "checkpoint_titans.pt", f"last_{phase}.safetensors",
                     "metrics.jsonl"):
            assert (folder / name).is_file(), f"{phase}: no {name}"
        output = guide_run[phase]
        assert "NOTE    no --source given: reading the default hub dataset(s)" in output
        assert str(folder / "checkpoint_titans.pt") in output and str(folder / "best_model_titans.pt") in output
    assert "phase1: 1 steps (max_steps)" in guide_run["phase1"]
    assert "phase2: 2 steps (max_steps)" in guide_run["phase2"]
    stats = json.loads((guide_run["agent"] / "data_phase2.json").read_text())
    assert stats["train_pairs"] + stats["val_pairs"] > 8  # the table's pairs and the mined JSDoc pairs


def test_a_one_step_run_logs_the_guide_figures(guide_run: dict[str, Any]) -> None:
    records = [json.loads(line) for line in (guide_run["syntax"] / "metrics.jsonl").read_text().splitlines()]
    kinds = [r["kind"] for r in records]
    assert kinds.count("train") == 1 and kinds[-1] == "end" and "val" in kinds
    train = next(r for r in records if r["kind"] == "train")
    assert all(name in train for name in GUIDE_NAMES) and "tok_s" not in train and "mem_mb" not in train
    assert train["peak_memory_mb"] > 0 and train["throughput_tokens_per_s"] > 0
    assert 0.0 <= train["complexity"] <= 1.0 and 0.0 <= train["block_skips"] <= 100.0
    assert records[-1]["steps"] == 1 and records[-1]["stop_reason"] == "max_steps"


def test_the_bar_reads_like_the_guide(tmp_path: Path) -> None:
    import torch

    monitor = Monitor(tmp_path, 1, 0, torch.device("cpu"), enabled=True, progress=False, desc="phase1")
    figures = {"loss": 3.0, "token": 2.0, "jepa": 1.0, "cosine": 0.5, "eau": 0.1, "complexity": 0.65,
               "eau_skip": 0.15, "skipped": 0.0, "lr": 1e-3}
    shown = monitor.step(1, figures, tokens=500, log_now=False)
    text = monitor._postfix(shown)
    assert text.startswith("Peak Memory: ") and "MB | Throughput: " in text
    assert "tok/s | Complexity: 0.65 | Block Skips: 15% | loss 3.000" in text
    monitor.finish(1, {"stop_reason": "max_steps"})  # the unlogged last step, then the end line
    kinds = [json.loads(line)["kind"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert kinds == ["train", "end"]


def test_phase2_ends_with_a_bundle_that_unpacks(guide_run: dict[str, Any], tmp_path: Path) -> None:
    bundle = guide_run["working"] / "shutka_v2_bundle.zip"  # the parent of --checkpoint_dir
    assert bundle.is_file() and str(bundle) in guide_run["phase2"]
    assert not (guide_run["syntax"].parent / "memory_bank").exists()  # so phase 2 built one
    with zipfile.ZipFile(bundle) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    roles = {m["role"] for m in manifest["members"]}
    assert roles == {"checkpoint", "titans", "bank"}
    assert any(m["path"].endswith(".faiss") for m in manifest["members"])
    unpacked = CliRunner().invoke(cli, ["bundle", "unpack", str(bundle), "--into", str(tmp_path / "home")])
    assert unpacked.exit_code == 0, unpacked.output
    bank_dir = tmp_path / "home" / "bank"
    assert f"bank       {bank_dir}" in unpacked.output
    with MemoryBank.open(bank_dir, manifest["model"]["latent_dim"], read_only=True) as bank:
        assert 0 < len(bank) <= 2000 and bank.model_digest and bank.model_digest.endswith("-fp32")


def test_an_existing_guide_memory_bank_is_packed(guide_run: dict[str, Any], tmp_path: Path) -> None:
    from training.bundle import build_bank, unpack
    from training.run import write_bundle
    from training.trainer import FitResult

    working = tmp_path / "working"
    agent = working / "checkpoints_agent"
    agent.mkdir(parents=True)
    for name in ("best_model.pt", "best_model_titans.pt"):
        (agent / name).write_bytes((guide_run["agent"] / name).read_bytes())
    build_bank(agent / "best_model.pt", [("a.ts", "export const answer = 42;\nconst other = answer + 1;\n")],
               working / "memory_bank")
    result = FitResult(1, "max_steps", None)
    bundle = write_bundle(result, agent, None, load_settings("tiny_cpu"))  # type: ignore[arg-type]
    assert result.files["memory bank"] == working / "memory_bank" and not (agent / "memory_bank").exists()
    done = unpack(bundle, tmp_path / "out")
    assert done.bank is not None and (done.bank / "bank.sqlite").is_file() and done.titans is not None


def test_check_names_the_default_hub_datasets() -> None:
    first = CliRunner().invoke(phase1, [*PHASE1, "--checkpoint_dir", "unused", "--check"])
    assert first.exit_code == 0, first.output
    assert "hf:bleugreen/typescript-chunks" in first.output and "Magicoder" not in first.output
    second = CliRunner().invoke(phase2, ["--resume", "best_model.pt", *PHASE2, "--checkpoint_dir", "unused", "--check"])
    assert second.exit_code == 0, second.output
    for spec in (*training_config.DEFAULT_SOURCES, *training_config.DEFAULT_INSTRUCTION_SOURCES):
        assert spec in second.output
    assert second.output.count("NOTE    no --source given") == 1
    given = CliRunner().invoke(phase1, ["--source", str(ROOT / "examples"), "--check"])
    assert "no --source given" not in given.output and "typescript-chunks" not in given.output


def test_offline_the_default_source_fails_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run([sys.executable, str(ROOT / "training" / "train_typescript.py"), *PHASE1,
                           "--checkpoint_dir", str(tmp_path / "working" / "checkpoints_syntax")],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors == done.stderr.strip().splitlines()[-1:]
    assert "default hub dataset hf:bleugreen/typescript-chunks could not be reached" in errors[0]
    assert "--source" in errors[0] and "offline" in errors[0]


def test_hub_rows_keep_one_language_and_only_the_fenced_code(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    seen: dict[str, Any] = {}

    def fake_load_dataset(name: str, config: str | None, **kwargs: Any) -> list[dict[str, Any]]:
        seen.update(name=name, **kwargs)
        return magicoder_rows()

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    counts = SkipCounts()
    spec = SourceSpec.parse(training_config.DEFAULT_INSTRUCTION_SOURCES[0])
    records = list(read_source(spec, DataConfig(), counts, limit=3))
    assert seen["name"] == "ise-uiuc/Magicoder-OSS-Instruct-75K" and seen["streaming"] is True
    assert len(records) == 3 and all(isinstance(r, InstructionPair) and r.origin == "hub" for r in records)
    assert records[0].code == "export function sum0(a: number, b: number): number {\n  return a + b;\n}\n"
    python_only = list(read_source(spec, DataConfig(), counts))
    assert len(python_only) == 8 and counts["other_language"] == 1

    def unreachable(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Couldn't reach 'x' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(HubUnreachable) as caught:
        list(read_source(spec, DataConfig(), SkipCounts()))
    assert caught.value.location == "ise-uiuc/Magicoder-OSS-Instruct-75K"
    assert caught.value.source == training_config.DEFAULT_INSTRUCTION_SOURCES[0]


def test_without_titans_the_summary_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "no_titans.toml"
    preset = (ROOT / "training" / "presets" / "tiny_cpu.toml").read_text()
    assert "[train]\n" in preset
    config.write_text(preset.replace("[train]\n", "[train]\nuse_titans = false\nuse_miras = false\n", 1))
    code = write_ts_corpus(tmp_path / "code", files=8)
    out = tmp_path / "working" / "checkpoints_syntax"
    done = CliRunner().invoke(phase1, ["--source", str(code), "--batch_size", "16", "--checkpoint_dir", str(out),
                                       "--config", str(config), "--num_threads", "1", "--no-progress",
                                       "--max_steps", "1"])
    assert done.exit_code == 0, done.output
    assert "use_titans is off" in done.output
    assert (out / "best_model.pt").is_file() and not (out / "checkpoint_titans.pt").exists()
