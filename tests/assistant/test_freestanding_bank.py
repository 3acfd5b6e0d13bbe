"""`model.predictor.memory_bank` on a model outside any workspace: the Kaggle guide's memory hygiene
(§7) as written, persistence under a directory with and without auto_save (§8), memory mapping."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from assistant.config import BankConfig, TrainingConfig
from assistant.errors import BankError
from assistant.memory.bank import MemoryBank, freestanding_bank
from assistant.model import UltraEfficientTextJEPA


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _texts(bank: MemoryBank) -> list[str]:
    return [e.text for e in bank.entries()]


def test_the_guide_calls_as_written() -> None:
    model = UltraEfficientTextJEPA()
    bank = model.predictor.memory_bank
    assert bank is model.predictor.memory_bank and bank.auto_save
    rng = np.random.default_rng(0)
    embeddings = _unit(rng, 1, model.config.latent_dim)

    # Add (Appends to FAISS + Metadata)
    ids = bank.add_memory(embeddings, ["interface User { id: string }"])
    [[hit]] = bank.search(embeddings, k=1)
    assert hit.id == ids[0] and hit.entry.text == "interface User { id: string }"
    # Delete (Remove by ID)
    bank.delete_memory(ids)
    assert len(bank) == 0 and bank.search(embeddings, k=1) == [[]]
    # Update (Delete + Add workflow), with torch tensors (what the model makes) as well as numpy
    old_id = bank.add_memory(torch.from_numpy(embeddings).requires_grad_(), ["interface User { id: string }"])[0]
    new_embeddings = torch.from_numpy(_unit(rng, 1, model.config.latent_dim))
    new_ids = bank.update_memory(old_id, new_embeddings, ["interface User { id: number }"])
    assert _texts(bank) == ["interface User { id: number }"]
    assert bank.search(new_embeddings[0], k=1)[0][0].id == new_ids[0]

    scratch = bank.directory
    assert scratch.is_dir()
    bank.close()
    assert not scratch.exists()  # in memory by default: nothing is left behind


def test_auto_save_flushes_every_add_and_delete_to_the_directory(tmp_path: Path) -> None:
    directory = tmp_path / "memory_bank"
    model = UltraEfficientTextJEPA(model_size="tiny", memory_bank_dir=str(directory))
    bank = model.predictor.memory_bank
    dim = model.config.latent_dim
    vectors = _unit(np.random.default_rng(1), 3, dim)
    ids = bank.add_memory(vectors, ["type A = string;", "type B = number;", "type C = boolean;"])
    bank.delete_memory(ids[1:2])

    other = MemoryBank(directory, dim)  # another reader of the same directory, while the first is open
    try:
        assert _texts(other) == ["type A = string;", "type C = boolean;"]
        assert other.search(vectors[2], k=1)[0][0].entry.text == "type C = boolean;"
    finally:
        other.close()
    bank.close()
    with MemoryBank(directory, dim) as reopened:
        assert _texts(reopened) == ["type A = string;", "type C = boolean;"]
        assert reopened.get(ids[1:2]) == []  # the deleted entry stays gone
    # the model's own bank opens afresh from the directory after close
    assert _texts(model.predictor.memory_bank) == ["type A = string;", "type C = boolean;"]
    model.predictor.memory_bank.close()


def test_auto_save_off_writes_nothing_until_commit_and_on_again_flushes(tmp_path: Path) -> None:
    dim = 16
    rng = np.random.default_rng(2)
    bank = freestanding_bank(dim, tmp_path / "memory_bank")
    reader = MemoryBank(tmp_path / "memory_bank", dim, read_only=True)
    try:
        bank.auto_save = False
        assert not bank.auto_save and not bank.config.auto_save
        first = bank.add_memory(_unit(rng, 1, dim), ["let a = 1;"])
        assert _texts(bank) == ["let a = 1;"]  # the writer sees its own pending change
        reader.refresh()
        assert len(reader) == 0                 # nobody else does: nothing is on disk yet
        bank.commit()
        reader.refresh()
        assert _texts(reader) == ["let a = 1;"]

        bank.delete_memory(first)
        bank.add_memory(_unit(rng, 1, dim), ["let b = 2;"])
        reader.refresh()
        assert _texts(reader) == ["let a = 1;"]
        bank.auto_save = True                   # on again: what was pending is flushed at once
        reader.refresh()
        assert _texts(reader) == ["let b = 2;"]
        bank.add_memory(_unit(rng, 1, dim), ["let c = 3;"])
        reader.refresh()
        assert _texts(reader) == ["let b = 2;", "let c = 3;"]
    finally:
        reader.close()
        bank.close()


def test_a_large_generation_reopens_memory_mapped(tmp_path: Path) -> None:
    dim = 16
    vectors = _unit(np.random.default_rng(3), 50, dim)
    mapped = BankConfig(mmap_min_bytes=0)
    bank = freestanding_bank(dim, tmp_path / "memory_bank", mapped)
    bank.add_memory(vectors, [f"const v{i} = {i};" for i in range(50)])
    bank.compact()  # the delta folded into a FAISS generation file
    bank.close()
    with MemoryBank(tmp_path / "memory_bank", dim, mapped) as reopened:
        stats = reopened.stats()
        assert stats.mmapped and stats.generation_vectors == 50
        assert reopened.search(vectors[7], k=1)[0][0].entry.text == "const v7 = 7;"
    with MemoryBank(tmp_path / "memory_bank", dim) as in_ram:  # below the default 64 MiB: read into RAM
        assert not in_ram.stats().mmapped


def test_the_bank_directory_comes_from_the_training_config(tmp_path: Path) -> None:
    config = TrainingConfig(model_size="tiny", memory_bank_dir=str(tmp_path / "memory_bank"))
    model = UltraEfficientTextJEPA(config)
    assert model.predictor.bank_directory == str(tmp_path / "memory_bank")
    assert "memory_bank_dir" not in model.config.model_dump()  # not part of the model (or its checkpoints)
    bank = model.predictor.memory_bank
    try:
        assert bank.directory == tmp_path / "memory_bank" and bank.dim == model.config.latent_dim
    finally:
        bank.close()


def test_copies_leave_the_bank_behind_and_attaching_replaces_it(tmp_path: Path) -> None:
    model = UltraEfficientTextJEPA(model_size="tiny")
    own = model.predictor.memory_bank
    try:
        assert copy.deepcopy(model).predictor._bank is None
        assert model.export_int8().predictor._bank is None
        with freestanding_bank(model.config.latent_dim, tmp_path / "other") as other:
            model.predictor.attach_memory_bank(other)
            assert model.predictor.memory_bank is other
            other.close()
            with pytest.raises(BankError, match="closed"):  # an attached bank is its owner's to reopen
                len(model.predictor.memory_bank)
        model.predictor.attach_memory_bank(None)
        fresh = model.predictor.memory_bank
        assert fresh is not own and not fresh.closed
        fresh.close()
    finally:
        own.close()


def test_an_open_workspace_attaches_its_own_bank(basic_workspace: Path, tiny_checkpoint: Path) -> None:
    from assistant.runtime import open_runtime

    with open_runtime(basic_workspace, checkpoint=tiny_checkpoint, sync=False) as runtime:
        predictor = runtime.checkpoint.model.predictor
        assert predictor.memory_bank is runtime.parts.bank
        assert predictor.memory_bank.directory == basic_workspace / ".shutka" / "bank"
    assert predictor._bank is None  # closed with the workspace: a later use makes a freestanding bank


def test_the_bank_persists_where_the_environment_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On Kaggle the guide's bank flushes to /kaggle/working/memory_bank; anywhere, $SHUTKA_MEMORY_BANK_DIR."""
    monkeypatch.setenv("SHUTKA_MEMORY_BANK_DIR", str(tmp_path / "memory_bank"))
    model = UltraEfficientTextJEPA()
    rng = np.random.default_rng(1)
    ids = model.predictor.memory_bank.add_memory(_unit(rng, 2, model.config.latent_dim), ["a", "b"])
    with MemoryBank(tmp_path / "memory_bank", model.config.latent_dim, read_only=True) as reader:
        assert sorted(e.id for e in reader.entries()) == sorted(ids)
