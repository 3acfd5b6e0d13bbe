"""TrainingConfig: every Kaggle-workflow field, validation report, unknown keys, TOML."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from assistant.config import TrainingConfig
from indexer.errors import ConfigError

WORKFLOW_FIELDS = {
    "use_enhanced_encoder": True, "use_titans": True, "use_miras": True, "use_hoprag": True,
    "titans_capacity": 10000, "titans_depth": 3, "titans_surprise_threshold": 0.5,
    "miras_confidence_threshold": 0.66, "hoprag_max_hops": 2, "gradient_checkpointing": False,
}


def test_workflow_fields_and_defaults() -> None:
    cfg = TrainingConfig()
    for name, default in WORKFLOW_FIELDS.items():
        assert getattr(cfg, name) == default, name
    for name in ("batch_size", "learning_rate", "num_epochs", "model_size"):
        assert name in TrainingConfig.model_fields


def test_out_of_range_value_is_reported_by_name() -> None:
    cfg = TrainingConfig(titans_depth=0, miras_confidence_threshold=1.5)
    out = io.StringIO()
    assert cfg.print_validation_report(out) is False
    report = out.getvalue()
    assert "ERROR   titans_depth" in report and "ERROR   miras_confidence_threshold" in report
    with pytest.raises(ConfigError, match="titans_depth"):
        cfg.validate()


def test_contradicting_flags_warn() -> None:
    out = io.StringIO()
    assert TrainingConfig(use_titans=False, use_miras=True).print_validation_report(out)
    assert "WARNING use_miras" in out.getvalue()


def test_memory_estimate_against_a_t4() -> None:
    big = TrainingConfig(model_size="base", batch_size=512, max_seq_len=1024)
    errors, _ = big.issues()
    assert any("16 GiB T4" in e for e in errors)
    assert not TrainingConfig(model_size="small", batch_size=32).issues()[0]
    checkpointed = TrainingConfig(model_size="base", batch_size=64, gradient_checkpointing=True)
    plain = TrainingConfig(model_size="base", batch_size=64)
    assert checkpointed.estimated_step_memory_bytes() < plain.estimated_step_memory_bytes()


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "train.toml"
    path.write_text("[train]\nuse_titan = true\n")
    with pytest.raises(ConfigError, match="use_titan"):
        TrainingConfig.from_toml(path)


def test_wrong_type_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "train.toml"
    path.write_text("batch_size = 'lots'\n")
    with pytest.raises(ConfigError, match=r"train.toml batch_size"):
        TrainingConfig.from_toml(path)


def test_loads_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "train.toml"
    path.write_text("[train]\nmodel_size = 'tiny'\ntitans_depth = 2\nbatch_size = 4\n")
    cfg = TrainingConfig.from_toml(path)
    assert cfg.titans_depth == 2 and cfg.to_model_config().titans_depth == 2
