"""Named model sizes: plain data, importable without torch (configs validate against it)."""

from __future__ import annotations

from typing import Any, Literal

SizeName = Literal["tiny", "small", "base"]

MODEL_SIZES: dict[str, dict[str, Any]] = {
    # tests and CI smoke runs: trains in seconds on a CPU
    "tiny": dict(d_model=64, n_layers=3, n_heads=2, mlp_ratio=2, max_seq_len=128, latent_dim=32,
                 predictor_hidden=64, titans_capacity=256),
    # the bundled default: trains in about two hours on 2 CPU cores, answers in milliseconds. Wide and
    # shallow because int8 only speeds up the d^2 matrix multiplies: at d=256 the d-linear rest (norms,
    # attention, rotary, GELU) was half the int8 forward and held the speed-up under 2x
    "small": dict(d_model=448, n_layers=3, n_heads=7, mlp_ratio=4, max_seq_len=256, latent_dim=128,
                  predictor_hidden=256),
    # Kaggle T4s
    "base": dict(d_model=512, n_layers=8, n_heads=8, mlp_ratio=4, max_seq_len=512, latent_dim=256,
                 predictor_hidden=512),
}
