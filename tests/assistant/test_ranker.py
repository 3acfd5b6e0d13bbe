"""The ranker: an ensemble merged into one wider net scores as the mean of its members, and a wider
ranker file loads, calibrates and serves as an adaptation anchor like a single one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from assistant.engine.features import FEATURES, INDEX, TASK_FEATURES
from assistant.engine.ranker import Ranker, RankingExample, merge
from assistant.errors import CheckpointCorrupt


def _examples(n: int, seed: int = 0) -> list[RankingExample]:
    """The right option is the one with the best context match; a third of the tasks have none."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        feats = rng.random((6, len(FEATURES)), dtype=np.float32)
        best = int(np.argmax(feats[:, INDEX["bm25_rel"]]))
        gold = best if rng.random() > 0.33 else -1
        out.append(RankingExample(feats, rng.random(len(TASK_FEATURES), dtype=np.float32), gold))
    return out


def test_a_merged_ranker_scores_the_mean_of_its_members() -> None:
    train = _examples(120)
    members = [Ranker.fit(train, epochs=3, seed=s) for s in range(3)]
    merged = merge(members)
    assert merged.hidden == sum(m.hidden for m in members)
    e = _examples(1, seed=9)[0]
    scores = [m.scores(e.features, e.task) for m in members]
    got, null = merged.scores(e.features, e.task)
    np.testing.assert_allclose(got, np.mean([s for s, _ in scores], axis=0), rtol=1e-5, atol=1e-6)
    assert null == pytest.approx(np.mean([n for _, n in scores]), rel=1e-5, abs=1e-6)


def test_an_ensemble_is_saved_loaded_and_fine_tuned_from(tmp_path: Path) -> None:
    train, valid = _examples(150), _examples(40, seed=1)
    ranker = Ranker.fit_ensemble(train, valid, members=2, epochs=5)
    loaded = Ranker.load(ranker.save(tmp_path / "r.safetensors"))
    e = valid[0]
    np.testing.assert_allclose(loaded.probabilities(e.features, e.task)[0], ranker.probabilities(e.features, e.task)[0])
    adapted = Ranker.fit(train[:30], epochs=2, anchor=loaded, anchor_weight=0.1)
    assert adapted.hidden == loaded.hidden


def test_a_ranker_file_without_weights_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.safetensors"
    save_file({"null.bias": torch.zeros(1)}, str(path), metadata={"format": "shutka-ranker",
                                                                   "features": json.dumps(FEATURES),
                                                                   "task_features": json.dumps(TASK_FEATURES)})
    with pytest.raises(CheckpointCorrupt, match="retrain"):
        Ranker.load(path)

