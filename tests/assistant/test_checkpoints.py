"""Checkpoints: round trips per weight format; corrupt or mismatched files raise our errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from assistant.checkpoints import load_checkpoint, read_metadata, save_checkpoint
from assistant.config import ModelConfig
from assistant.errors import CheckpointCorrupt, CheckpointMismatch
from assistant.model import UltraEfficientTextJEPA


def _logits(model: UltraEfficientTextJEPA, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(ids, skip=False)[0]


def test_fp32_round_trip_is_exact(tiny_model, tiny_tokenizer, tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model, tiny_tokenizer, extra={"step": 3})
    loaded = load_checkpoint(path)
    ids = torch.randint(0, tiny_model.config.vocab_size, (1, 12))
    assert torch.equal(_logits(loaded.model, ids), _logits(tiny_model, ids))
    assert loaded.config == tiny_model.config and loaded.extra == {"step": 3}
    assert loaded.tokenizer.digest == tiny_tokenizer.digest
    assert loaded.model.head.weight is loaded.model.trunk.embed.weight  # tie restored


def test_int8_checkpoint_loads_the_inference_model(tiny_model, tiny_tokenizer, tmp_path: Path) -> None:
    fp32 = save_checkpoint(tmp_path / "f.safetensors", tiny_model, tiny_tokenizer)
    int8 = save_checkpoint(tmp_path / "q.safetensors", tiny_model, tiny_tokenizer, weight_format="int8")
    assert int8.stat().st_size < 0.7 * fp32.stat().st_size
    loaded = load_checkpoint(int8)
    assert loaded.model.quantized and loaded.weight_format == "int8"
    ids = torch.randint(0, tiny_model.config.vocab_size, (1, 12))
    ref = torch.log_softmax(_logits(tiny_model, ids), -1)
    assert (torch.log_softmax(_logits(loaded.model, ids), -1) - ref).abs().max() < 0.05
    trainable = load_checkpoint(int8, for_training=True)
    assert not trainable.model.quantized and trainable.model.training


def test_ternary_checkpoint_packs_two_bits(tiny_tokenizer, tmp_path: Path) -> None:
    model = UltraEfficientTextJEPA(model_size="tiny", vocab_size=tiny_tokenizer.vocab_size, quantization="bitnet")
    int8 = save_checkpoint(tmp_path / "q.safetensors", model, tiny_tokenizer, weight_format="int8")
    packed = save_checkpoint(tmp_path / "t.safetensors", model, tiny_tokenizer, weight_format="ternary")
    assert packed.stat().st_size < int8.stat().st_size
    ids = torch.randint(0, model.config.vocab_size, (1, 12))
    torch.testing.assert_close(_logits(load_checkpoint(packed).model, ids),
                               _logits(load_checkpoint(int8).model, ids))


def test_ternary_needs_a_bitnet_model(tiny_model, tiny_tokenizer, tmp_path: Path) -> None:
    with pytest.raises(CheckpointMismatch, match="bitnet"):
        save_checkpoint(tmp_path / "t.safetensors", tiny_model, tiny_tokenizer, weight_format="ternary")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "missing"])
def test_corrupt_checkpoint_raises_our_error(tiny_model, tiny_tokenizer, tmp_path: Path, damage: str) -> None:
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model, tiny_tokenizer)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00" * 64 + data[64:])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
    with pytest.raises(CheckpointCorrupt):
        load_checkpoint(path)


def test_config_mismatch_names_key_and_both_values(tiny_model, tiny_tokenizer, tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model, tiny_tokenizer)
    expect = ModelConfig.model_validate({**tiny_model.config.model_dump(), "n_layers": 5})
    with pytest.raises(CheckpointMismatch, match=r"'n_layers' is 3 in the checkpoint but 5"):
        load_checkpoint(path, expect=expect)


def test_tampered_config_is_refused(tiny_model, tiny_tokenizer, tmp_path: Path) -> None:
    """Weights that do not fit the stored config (someone edited the header) are refused."""
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model, tiny_tokenizer)
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    cfg = json.loads(header["__metadata__"]["config"])
    cfg["d_model"] = 32
    header["__metadata__"]["config"] = json.dumps(cfg)
    new = json.dumps(header).encode()
    new += b" " * ((8 - len(new) % 8) % 8)
    path.write_bytes(len(new).to_bytes(8, "little") + new + raw[8 + n :])
    with pytest.raises(CheckpointMismatch, match="tensor"):
        load_checkpoint(path)


def test_a_foreign_safetensors_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointCorrupt, match="not a Shutka checkpoint"):
        read_metadata(path)
