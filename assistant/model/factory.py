"""Build models by name: an explicit dict of sizes, no reflection."""

from __future__ import annotations

from typing import Any

from assistant.config import ModelConfig
from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.model.sizes import MODEL_SIZES, SizeName

__all__ = ["MODEL_SIZES", "build_model"]


def build_model(config: ModelConfig | SizeName = "small", **overrides: Any) -> UltraEfficientTextJEPA:
    """A fresh model from a ModelConfig or a named size (unknown names list the valid ones)."""
    cfg = config if isinstance(config, ModelConfig) else ModelConfig.from_size(config, **overrides)
    if isinstance(config, ModelConfig) and overrides:
        cfg = cfg.model_copy(update=overrides)
    return UltraEfficientTextJEPA(cfg)
