"""TrainingConfig's gate, HopRAG and Titans keys reach serving: they travel in the checkpoint and become
the defaults of a workspace's `[completion]`, whose own keys still win; `context_lines` is read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch

from assistant.checkpoints import load_checkpoint, read_metadata, save_checkpoint
from assistant.config import CompletionConfig, TrainingConfig
from assistant.errors import CheckpointMismatch
from assistant.model import UltraEfficientTextJEPA
from assistant.runtime import Runtime, open_runtime
from assistant.tokenizer import TypeScriptTokenizer
from assistant.types import CompletionRequest
from tests.conftest import BASIC_WORKSPACE, write_workspace

BUFFER = "const a = 1;\nconst b = 2;\nconst c = 3;\nconst "
"""A buffer whose last line has candidates (the lines above it) without any indexing."""


def _request(text: str = BUFFER) -> CompletionRequest:
    lines = text.split("\n")
    return CompletionRequest(text, len(lines) - 1, len(lines[-1]), "src/buffer.ts")


def _checkpoint(path: Path, tokenizer: TypeScriptTokenizer, **train: Any) -> Path:
    """A tiny model trained (here: built) with these TrainingConfig flags, saved as training saves it."""
    config = TrainingConfig(model_size="tiny", **train)
    torch.manual_seed(0)
    model = UltraEfficientTextJEPA(config, vocab_size=tokenizer.vocab_size)
    return save_checkpoint(path, model, tokenizer, serving=config)


@contextmanager
def _serving(tmp_path: Path, checkpoint: Path, completion_toml: str = "") -> Iterator[Runtime]:
    root = write_workspace(tmp_path / "ws", BASIC_WORKSPACE)
    if completion_toml:
        (root / "shutka.toml").write_text("[completion]\n" + completion_toml, encoding="utf-8")
    with open_runtime(root, checkpoint=checkpoint, sync=False) as runtime:
        yield runtime


def _hops_walked(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the `max_hops` of every HopRAG walk the completer starts."""
    walks: list[int] = []
    hops = runtime.parts.completer.hops
    retrieve = hops.retrieve

    def spy(path: str, near: list[str], query: Any, max_hops: int, *args: Any, **kw: Any) -> Any:
        walks.append(max_hops)
        return retrieve(path, near, query, max_hops, *args, **kw)

    monkeypatch.setattr(hops, "retrieve", spy)
    runtime.assistant.complete(_request())
    return walks


# -- the checkpoint carries them ---------------------------------------------------------------------


def test_training_defaults_equal_the_serving_defaults() -> None:
    """A run that never sets them serves exactly as a checkpoint without serving defaults."""
    assert CompletionConfig().over(TrainingConfig().serving_defaults()) == CompletionConfig()


def test_the_checkpoint_stores_and_reloads_them(tmp_path: Path, tiny_tokenizer) -> None:
    path = _checkpoint(tmp_path / "m.safetensors", tiny_tokenizer, miras_confidence_threshold=0.7,
                       use_hoprag=False, hoprag_max_hops=3, use_miras=False)
    assert json.loads(read_metadata(path)["serving"]) == {
        "miras_confidence_threshold": 0.7, "use_hoprag": False, "hoprag_max_hops": 3, "use_gate": False,
        "use_titans": True}
    assert load_checkpoint(path).serving["hoprag_max_hops"] == 3
    with pytest.raises(CheckpointMismatch, match="not_a_key"):
        save_checkpoint(tmp_path / "bad.safetensors", load_checkpoint(path).model, tiny_tokenizer,
                        serving={"not_a_key": 1})


def test_a_checkpoint_without_them_serves_the_completion_defaults(tmp_path: Path, tiny_checkpoint: Path) -> None:
    assert load_checkpoint(tiny_checkpoint).serving == {}
    with _serving(tmp_path, tiny_checkpoint) as runtime:
        assert runtime.completion_config == CompletionConfig()


def test_best_model_and_its_export_carry_the_runs_training_config(tmp_path: Path, tiny_tokenizer) -> None:
    from click.testing import CliRunner

    from training.checkpointing import BEST_MODEL, save_best
    from training.export import export_command

    config = TrainingConfig(model_size="tiny", miras_confidence_threshold=0.8, hoprag_max_hops=4)
    model = UltraEfficientTextJEPA(config, vocab_size=tiny_tokenizer.vocab_size)
    save_best(tmp_path, model, tiny_tokenizer, {"settings": {"train": config.model_dump()}})
    assert load_checkpoint(tmp_path / BEST_MODEL).serving["miras_confidence_threshold"] == 0.8
    out = tmp_path / "export.safetensors"
    result = CliRunner().invoke(export_command, ["--checkpoint", str(tmp_path / BEST_MODEL), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert load_checkpoint(out).serving == load_checkpoint(tmp_path / BEST_MODEL).serving


# -- each key changes serving, and the workspace's own value wins ------------------------------------


def test_confidence_threshold(tmp_path: Path, tiny_tokenizer) -> None:
    ckpt = _checkpoint(tmp_path / "m.safetensors", tiny_tokenizer, miras_confidence_threshold=0.9)
    with _serving(tmp_path / "a", ckpt) as runtime:
        assert runtime.assistant.complete(_request()).threshold == 0.9
        assert runtime.assistant.explain(_request()).threshold == 0.9
    with _serving(tmp_path / "b", ckpt, "miras_confidence_threshold = 0.25\n") as runtime:
        assert runtime.assistant.complete(_request()).threshold == 0.25


def test_use_miras_off_turns_the_gate_off(tmp_path: Path, tiny_tokenizer) -> None:
    ckpt = _checkpoint(tmp_path / "m.safetensors", tiny_tokenizer, use_miras=False, miras_confidence_threshold=1.0)
    with _serving(tmp_path / "a", ckpt) as runtime:
        result = runtime.assistant.complete(_request())
        assert result.items and not any(item.shown for item in result.items)  # below 1.0, returned anyway
    with _serving(tmp_path / "b", ckpt, "use_gate = true\n") as runtime:
        result = runtime.assistant.complete(_request())
        assert not result.items and result.hidden > 0
    gated = _checkpoint(tmp_path / "g.safetensors", tiny_tokenizer, miras_confidence_threshold=1.0)
    with _serving(tmp_path / "c", gated) as runtime:
        assert not runtime.assistant.complete(_request()).items


def test_hoprag_switch_and_hops(tmp_path: Path, tiny_tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    ckpt = _checkpoint(tmp_path / "m.safetensors", tiny_tokenizer, hoprag_max_hops=3)
    with _serving(tmp_path / "a", ckpt) as runtime:
        assert _hops_walked(runtime, monkeypatch) == [3]
    with _serving(tmp_path / "b", ckpt, "hoprag_max_hops = 1\n") as runtime:
        assert _hops_walked(runtime, monkeypatch) == [1]
    off = _checkpoint(tmp_path / "off.safetensors", tiny_tokenizer, use_hoprag=False)
    with _serving(tmp_path / "c", off) as runtime:
        assert _hops_walked(runtime, monkeypatch) == []
    with _serving(tmp_path / "d", off, "use_hoprag = true\n") as runtime:
        assert _hops_walked(runtime, monkeypatch) == [2]


def _learn(runtime: Runtime, lines: list[str]) -> int:
    """Accept `lines` one after the other; -> episodes the workspace's Titans store holds."""
    for line in lines:
        runtime.assistant.feedback(_request(), line, accepted=True)
    titans = runtime.parts.titans
    return 0 if titans is None else titans.count()


def test_titans_off_writes_nothing(tmp_path: Path, tiny_tokenizer) -> None:
    off = _checkpoint(tmp_path / "off.safetensors", tiny_tokenizer, use_titans=False)
    with _serving(tmp_path / "a", off) as runtime:
        assert runtime.checkpoint.model.titans is None and runtime.parts.titans is None
        assert runtime.assistant.feedback(_request(), "d = 4;", accepted=True) == (0, 0.0)
    on = _checkpoint(tmp_path / "on.safetensors", tiny_tokenizer, titans_surprise_threshold=0.0)
    with _serving(tmp_path / "b", on) as runtime:
        assert _learn(runtime, ["d = 4;"]) == 1
    with _serving(tmp_path / "c", on, "use_titans = false\n") as runtime:
        assert _learn(runtime, ["d = 4;"]) == 0
        assert runtime.checkpoint.model.titans_state is None  # the memory was never written either


def test_titans_capacity_depth_and_surprise_threshold(tmp_path: Path, tiny_tokenizer) -> None:
    small = _checkpoint(tmp_path / "s.safetensors", tiny_tokenizer, titans_capacity=2, titans_depth=2,
                        titans_surprise_threshold=0.0)
    with _serving(tmp_path / "a", small) as runtime:
        model = runtime.checkpoint.model
        assert model.titans is not None and len(model.titans.init_weights) == 2
        assert _learn(runtime, ["d = 4;", "e = 5;", "f = 6;", "g = 7;"]) == 2
        assert runtime.assistant.titans_stats().capacity == 2
    deep = _checkpoint(tmp_path / "d.safetensors", tiny_tokenizer, titans_depth=4)
    with _serving(tmp_path / "b", deep) as runtime:
        assert len(runtime.checkpoint.model.titans.init_weights) == 4
    unsurprised = _checkpoint(tmp_path / "u.safetensors", tiny_tokenizer, titans_surprise_threshold=1e6)
    with _serving(tmp_path / "c", unsurprised) as runtime:
        assert _learn(runtime, ["d = 4;", "e = 5;"]) == 0


def test_use_miras_off_is_plain_titans() -> None:
    config = TrainingConfig(use_miras=False, miras_attentional_bias="huber", miras_retention="none")
    model_config = config.to_model_config()
    assert (model_config.miras_attentional_bias, model_config.miras_retention) == ("l2", "decay")
    assert any("use_miras is off" in w for w in config.issues()[1])


# -- context_lines -----------------------------------------------------------------------------------


def test_context_lines_is_the_retrieval_window(tmp_path: Path, tiny_checkpoint: Path) -> None:
    text = "let alpha = 1;\nlet beta = 2;\nlet gamma = 3;\nlet "
    for lines, expect in ((2, {"beta", "gamma"}), (4, {"alpha", "beta", "gamma"})):
        with _serving(tmp_path / str(lines), tiny_checkpoint, f"context_lines = {lines}\n") as runtime:
            completer = runtime.parts.completer
            assert runtime.parts.lines.window == completer.contexts.window == lines
            query = completer.contexts.build(_request(text), False, 10_000).query
            assert {t for t in query if t.isalpha() and t != "let"} == expect
