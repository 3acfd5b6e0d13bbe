"""Output shapes and the constructor forms users already write."""

from __future__ import annotations

import pytest
import torch

from assistant.config import TrainingConfig
from assistant.model import UltraEfficientTextJEPA
from assistant.model.factory import build_model
from assistant.model.sizes import MODEL_SIZES
from indexer.errors import ConfigError


def test_default_and_flag_constructors() -> None:
    default = UltraEfficientTextJEPA()
    assert default.config.d_model == MODEL_SIZES["small"]["d_model"] and default.config.use_titans
    flagged = UltraEfficientTextJEPA(use_enhanced_encoder=True, use_titans=True, model_size="tiny")
    assert flagged.trunk.eau is not None and flagged.titans is not None
    plain = UltraEfficientTextJEPA(use_enhanced_encoder=False, use_titans=False, model_size="tiny")
    assert plain.trunk.eau is None and plain.titans is None


def test_unknown_flag_is_rejected_by_name() -> None:
    with pytest.raises(TypeError, match="use_titan"):
        UltraEfficientTextJEPA(use_titan=True)


def test_bad_flag_value_is_reported_by_name() -> None:
    with pytest.raises(ConfigError, match="titans_depth"):
        UltraEfficientTextJEPA(titans_depth=0)


def test_unknown_size_lists_valid_ones() -> None:
    with pytest.raises(ConfigError, match="tiny, small, base"):
        build_model("huge")  # type: ignore[arg-type]


def test_forward_shapes(tiny_model: UltraEfficientTextJEPA) -> None:
    cfg = tiny_model.config
    ids = torch.randint(0, cfg.vocab_size, (3, 17))
    logits, hidden, complexity = tiny_model(ids)
    assert logits.shape == (3, 17, cfg.vocab_size)
    assert hidden.shape == (3, 17, cfg.d_model)
    assert complexity is not None and complexity.shape == (3,)
    assert bool(((complexity >= 0) & (complexity <= 1)).all())


def test_jepa_shapes_and_unit_norm(tiny_model: UltraEfficientTextJEPA) -> None:
    cfg = tiny_model.config
    h = torch.randn(5, cfg.d_model)
    retrieved = torch.nn.functional.normalize(torch.randn(5, 4, cfg.latent_dim), dim=-1)
    mask = torch.tensor([[True, False, True, True]] * 5)
    pred = tiny_model.predict(h, retrieved, mask)
    assert pred.shape == (5, cfg.latent_dim)
    torch.testing.assert_close(pred.norm(dim=-1), torch.ones(5))
    final, key, readout = tiny_model.predict_with_memory(h, retrieved, mask)
    assert final.shape == key.shape == (5, cfg.latent_dim) and readout is not None
    ids = torch.randint(0, cfg.vocab_size, (4, 9))
    valid = torch.ones(4, 9, dtype=torch.bool)
    valid[1, 5:] = False
    latents = tiny_model.encode_spans(ids, valid)
    assert latents.shape == (4, cfg.latent_dim)


def test_padding_does_not_change_a_span_latent(tiny_model: UltraEfficientTextJEPA) -> None:
    ids = torch.randint(0, tiny_model.config.vocab_size, (1, 6))
    short = tiny_model.encode_spans(ids, torch.ones(1, 6, dtype=torch.bool))
    padded_ids = torch.cat([ids, torch.zeros(1, 4, dtype=torch.long)], dim=1)
    mask = torch.cat([torch.ones(1, 6, dtype=torch.bool), torch.zeros(1, 4, dtype=torch.bool)], dim=1)
    torch.testing.assert_close(tiny_model.encode_spans(padded_ids, mask), short)


def test_block_skipping_runs_fewer_blocks(tiny_model: UltraEfficientTextJEPA) -> None:
    tiny_model.eval()
    ids = torch.randint(0, tiny_model.config.vocab_size, (1, 12))
    full = tiny_model.trunk(ids, skip=False)
    short = tiny_model.trunk(ids, skip=True)
    assert not full.skipped and short.skipped
    assert not torch.allclose(full.hidden, short.hidden)


def test_eau_decides_skipping_at_inference(tiny_model: UltraEfficientTextJEPA) -> None:
    tiny_model.eval()
    ids = torch.randint(0, tiny_model.config.vocab_size, (1, 12))
    with torch.no_grad():
        tiny_model.trunk.eau.net[-1].bias.fill_(-20.0)  # type: ignore[union-attr]  # "simple"
        assert tiny_model.trunk(ids).skipped
        tiny_model.trunk.eau.net[-1].bias.fill_(20.0)  # type: ignore[union-attr]  # "complex"
        assert not tiny_model.trunk(ids).skipped


def test_scored_continuations_equal_full_forward(tiny_model: UltraEfficientTextJEPA) -> None:
    tiny_model.eval()
    V = tiny_model.config.vocab_size
    context = torch.randint(0, V, (7,)).tolist()
    continuations = [torch.randint(0, V, (n,)).tolist() for n in (1, 3, 5)]
    ctx = tiny_model.run_context(context, skip=False)
    scores, lengths = tiny_model.score_continuations(ctx, continuations)
    assert lengths.tolist() == [1, 3, 5]
    for cont, score in zip(continuations, scores, strict=True):
        ids = torch.tensor([context + cont])
        logits, _, _ = tiny_model(ids, skip=False)
        logprobs = torch.log_softmax(logits[0], dim=-1)
        expected = sum(logprobs[len(context) - 1 + i, tok] for i, tok in enumerate(cont))
        torch.testing.assert_close(score, expected, atol=1e-4, rtol=1e-4)


def test_training_config_builds_the_model_config() -> None:
    cfg = TrainingConfig(model_size="tiny", use_enhanced_encoder=False, titans_depth=2).to_model_config()
    assert not cfg.use_eau and cfg.titans_depth == 2 and cfg.d_model == 64
