"""The workspace's Titans memory belongs to one model: opening the workspace with another checkpoint
(a fine-tuned bundle, another size) must neither crash nor recall the old model's latents."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
import torch

from assistant.checkpoints import save_checkpoint
from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.runtime import DB_NAME, build_runtime, open_runtime
from assistant.tokenizer import TypeScriptTokenizer


def _teach(runtime: object, n: int = 3) -> int:
    """Write n surprising associations straight into the workspace's memory -> episodes kept."""
    store = runtime.parts.completer.titans  # type: ignore[attr-defined]
    dim = store.model.config.latent_dim
    torch.manual_seed(1)
    keys = torch.nn.functional.normalize(torch.randn(n, dim), dim=-1)
    values = torch.nn.functional.normalize(torch.randn(n, dim), dim=-1)
    kept, _ = store.learn(keys, values, [f"const v{i} = {i};" for i in range(n)], ["src/main.ts"] * n, [None] * n)
    return kept


def _episodes(runtime: object) -> int:
    return runtime.assistant.titans_stats().episodes  # type: ignore[attr-defined]


@pytest.fixture
def other_checkpoint(tmp_path: Path, tiny_tokenizer: TypeScriptTokenizer) -> Path:
    """Another model for the same tokenizer, with narrower latents (what made start-up crash)."""
    torch.manual_seed(7)
    model = UltraEfficientTextJEPA(model_size="tiny", vocab_size=tiny_tokenizer.vocab_size, latent_dim=16)
    return save_checkpoint(tmp_path / "other.safetensors", model, tiny_tokenizer)


def test_another_model_starts_a_fresh_memory(basic_workspace: Path, tiny_checkpoint: Path, other_checkpoint: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    with open_runtime(basic_workspace, checkpoint=tiny_checkpoint, sync=True) as rt:
        assert _teach(rt) > 0
        taught = _episodes(rt)
    with caplog.at_level(logging.WARNING), open_runtime(basic_workspace, checkpoint=other_checkpoint, sync=True) as rt:
        assert _episodes(rt) == 0
        assert _teach(rt) > 0  # the new model's memory works
    assert any(f"dropped {taught} Titans episodes written by another model" in r.getMessage() for r in caplog.records)
    with open_runtime(basic_workspace, checkpoint=tiny_checkpoint, sync=True) as rt:
        assert _episodes(rt) == 0  # and going back does not resurrect what was dropped


def test_keeping_the_old_model_data_leaves_it_on_disk_unused(basic_workspace: Path, tiny_checkpoint: Path,
                                                             other_checkpoint: Path) -> None:
    with open_runtime(basic_workspace, checkpoint=tiny_checkpoint, sync=True) as rt:
        _teach(rt)
        taught = _episodes(rt)
    rt = build_runtime(basic_workspace, checkpoint=other_checkpoint, on_model_change="keep")
    try:
        assert len(rt.parts.completer.model.episodic) == 0  # nothing of the other model is recalled
        assert _teach(rt) == 0 and _episodes(rt) == taught  # nor mixed with new writes; the old stay on disk
    finally:
        rt.close()
    with open_runtime(basic_workspace, checkpoint=tiny_checkpoint, sync=True) as rt:
        assert _episodes(rt) == taught


def test_a_memory_written_before_models_were_recorded_keeps_only_what_fits(
        basic_workspace: Path, tiny_checkpoint: Path, other_checkpoint: Path) -> None:
    with open_runtime(basic_workspace, checkpoint=tiny_checkpoint, sync=True) as rt:
        _teach(rt)
        db = rt.workspace.state_dir / DB_NAME
    with sqlite3.connect(db) as conn:  # as a workspace indexed by an older Shutka left it
        conn.execute("DELETE FROM titans_model")
    with open_runtime(basic_workspace, checkpoint=other_checkpoint, sync=True) as rt:
        assert _episodes(rt) == 0  # 32-wide episodes cannot be this 16-wide model's: dropped, no crash


def test_switching_between_int8_and_fp32_keeps_the_memory(basic_workspace: Path, tiny_checkpoint: Path) -> None:
    with open_runtime(basic_workspace, checkpoint=tiny_checkpoint, sync=True) as rt:
        _teach(rt)
        taught = _episodes(rt)
    with open_runtime(basic_workspace, checkpoint=tiny_checkpoint, sync=True, completion={"quantized": False}) as rt:
        assert _episodes(rt) == taught and len(rt.parts.completer.model.episodic) == taught
