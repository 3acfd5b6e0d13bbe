"""Titans memory invariants: surprise falls with repetition, gated writes, forgetting, persistence."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from assistant.errors import CheckpointCorrupt, CheckpointMismatch
from assistant.memory.episodes import EpisodicStore
from assistant.model import UltraEfficientTextJEPA
from assistant.model.memory import NeuralMemory


@pytest.fixture
def memory() -> NeuralMemory:
    torch.manual_seed(0)
    return NeuralMemory(16, depth=3, chunk_size=4).double()


def _pair(dim: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    k = F.normalize(torch.randn(1, 1, dim, generator=g, dtype=torch.float64), dim=-1)
    v = F.normalize(torch.randn(1, 1, dim, generator=g, dtype=torch.float64), dim=-1)
    return k, v


def test_repeating_an_association_lowers_its_surprise(memory: NeuralMemory) -> None:
    k, v = _pair()
    state = memory.initial_state()
    surprises = []
    for _ in range(8):
        result = memory.write(k, v, state)
        surprises.append(float(result.surprise[0]))
        state = result.state
    assert all(b <= a for a, b in itertools.pairwise(surprises)), surprises
    assert surprises[1] < surprises[0] and surprises[-1] < memory.surprise_threshold


def test_a_write_below_threshold_changes_nothing(memory: NeuralMemory) -> None:
    k, v = _pair()
    memory.surprise_threshold = 1e9
    state = memory.initial_state()
    result = memory.write(k, v, state)
    assert not bool(result.written[0])
    for a, b in zip(result.state.weights + result.state.momentum, state.weights + state.momentum, strict=True):
        assert torch.equal(a, b)


def test_split_calls_match_one_call(memory: NeuralMemory) -> None:
    x = torch.randn(2, 6 * memory.chunk_size, memory.dim, dtype=torch.float64)
    whole, _ = memory(x)
    for chunks_per_call in (1, 2, 3):
        state, parts = None, []
        for piece in x.split(chunks_per_call * memory.chunk_size, dim=1):
            out, state = memory(piece, state)
            parts.append(out)
        torch.testing.assert_close(torch.cat(parts, dim=1), whole)


@pytest.mark.parametrize("bias", ["huber", "lp"])
def test_attentional_bias_changes_the_write(bias: str) -> None:
    torch.manual_seed(0)
    l2 = NeuralMemory(16, 2, surprise_threshold=0.0, attentional_bias="l2")
    other = NeuralMemory(16, 2, surprise_threshold=0.0, attentional_bias=bias)
    other.load_state_dict(l2.state_dict())
    k, v = (t.float() for t in _pair())
    a = l2.write(k * 3, v * 3, l2.initial_state()).state.weights[0]
    b = other.write(k * 3, v * 3, other.initial_state()).state.weights[0]
    assert not torch.allclose(a, b)


def test_retention_decay_forgets_and_none_does_not() -> None:
    torch.manual_seed(0)
    decaying = NeuralMemory(8, 2, decay=0.5, retention="decay", surprise_threshold=0.0)
    keeping = NeuralMemory(8, 2, decay=0.5, retention="none", surprise_threshold=0.0)
    keeping.load_state_dict(decaying.state_dict())
    k, v = (t[..., :8].float() for t in _pair())
    w0 = decaying.initial_state().weights[0]
    wd = decaying.write(k, v, decaying.initial_state()).state.weights[0]
    wk = keeping.write(k, v, keeping.initial_state()).state.weights[0]
    assert wd.norm() < wk.norm() and (wk - w0).norm() < w0.norm()


def test_forget_removes_exactly_the_n_least_accessed() -> None:
    store = EpisodicStore(dim=4, capacity=100)
    store.add(torch.randn(6, 4), torch.randn(6, 4), torch.ones(6), torch.arange(6))
    store.access = torch.tensor([5, 0, 3, 1, 0, 9])
    assert store.forget(3) == 3
    assert sorted(store.source_ids.tolist()) == [0, 2, 5]


def test_capacity_evicts_least_accessed() -> None:
    store = EpisodicStore(dim=2, capacity=3)
    store.add(torch.randn(3, 2), torch.randn(3, 2), torch.ones(3), torch.tensor([10, 11, 12]))
    store.access = torch.tensor([4, 0, 2])
    store.add(torch.randn(1, 2), torch.randn(1, 2), torch.ones(1), torch.tensor([13]))
    assert sorted(store.source_ids.tolist()) == [10, 12, 13]


def test_model_save_load_round_trips_exactly(tiny_model: UltraEfficientTextJEPA, tmp_path: Path) -> None:
    L = tiny_model.config.latent_dim
    keys = F.normalize(torch.randn(3, L), dim=-1)
    values = F.normalize(torch.randn(3, L), dim=-1)
    tiny_model.titans_write(keys, values, torch.tensor([1, 2, 3]))
    tiny_model.episodic.access[0] = 7
    path = tiny_model.save_titans_memory(tmp_path / "best_model_titans.pt")
    before = tiny_model.titans_read(keys)
    tiny_model.reset_titans_memory()
    assert not torch.equal(tiny_model.titans_read(keys), before)
    tiny_model.load_titans_memory(path)
    assert torch.equal(tiny_model.titans_read(keys), before)
    assert tiny_model.episodic.access[0] == 7 and len(tiny_model.episodic) == 3


def test_model_forget_titans_memory(tiny_model: UltraEfficientTextJEPA) -> None:
    L = tiny_model.config.latent_dim
    tiny_model.titans_write(F.normalize(torch.randn(4, L), dim=-1), F.normalize(torch.randn(4, L), dim=-1))
    assert len(tiny_model.episodic) == 4
    assert tiny_model.forget_titans_memory(3) == 3 and len(tiny_model.episodic) == 1


def test_loading_a_corrupt_or_foreign_memory_raises(tiny_model: UltraEfficientTextJEPA, tmp_path: Path) -> None:
    bad = tmp_path / "x_titans.pt"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointCorrupt):
        tiny_model.load_titans_memory(bad)
    other = UltraEfficientTextJEPA(model_size="tiny", vocab_size=tiny_model.config.vocab_size, titans_depth=2)
    path = other.save_titans_memory(tmp_path / "other_titans.pt")
    with pytest.raises(CheckpointMismatch, match=r"weight\.2"):
        tiny_model.load_titans_memory(path)
