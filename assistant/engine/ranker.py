"""The learned ranker: options' features -> scores, plus a 'none of these' score, softmaxed into
calibrated probabilities (confidence). Trained listwise on completion tasks; fine-tuned on a
workspace's own code (adaptation) with a pull toward the shipped weights.

P(option i) = softmax([s_1 … s_N, s_null])_i, s_i = MLP(features_i), s_null = w·task + b.
If no option is right, the target is the null slot, so P(top) is the probability that the top
option is exactly right: the gate compares it with the threshold. A temperature fitted on held-out
tasks keeps it calibrated.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from assistant.engine.features import FEATURES, GROUPS, INDEX, TASK_FEATURES
from assistant.errors import CheckpointCorrupt, CheckpointMismatch

log = logging.getLogger(__name__)

HIDDEN = 32


@dataclass
class RankingExample:
    """One task: option features (N, F), task features (T,), index of the right option or -1."""

    features: np.ndarray
    task: np.ndarray
    gold: int


class RankerNet(nn.Module):
    def __init__(self, n_features: int = len(FEATURES), n_task: int = len(TASK_FEATURES), hidden: int = HIDDEN):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(n_features, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.null = nn.Linear(n_task, 1)

    def forward(self, features: torch.Tensor, task: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """features (B, N, F), task (B, T), mask (B, N) -> logits (B, N + 1), last = none of these."""
        scores = self.mlp(features).squeeze(-1).masked_fill(~mask, float("-inf"))
        return torch.cat([scores, self.null(task)], dim=1)


VARIANTS: tuple[tuple[str, ...], ...] = (*((g,) for g in GROUPS), *(("decoding", g) for g in GROUPS if g != "decoding"))
"""The sets of signal groups (features.GROUPS) a ranker is also trained without (`shutka train ranker`
writes one variant each): each group alone, and, since the token head is off by default, the token head
with each other one, so a workspace that turns one more group off is served a ranker that never relied
on either."""


def variant_path(path: Path, groups: str | tuple[str, ...]) -> Path:
    """Where the ranker trained without `groups`' features lies, beside the ranker at `path`."""
    name = "-".join(sorted((groups,) if isinstance(groups, str) else groups))
    return path.with_name(path.name.replace(".ranker.safetensors", f".ranker-no-{name}.safetensors"))


class Ranker:
    """Inference in NumPy (microseconds for ~50 options); training in torch."""

    def __init__(self, net: RankerNet | None = None, temperature: float = 1.0, trained: bool = False) -> None:
        self.net = net or _heuristic_net()
        self.temperature = temperature
        self.trained = trained
        self._export()

    def _export(self) -> None:
        sd = {k: v.detach().numpy().astype(np.float64) for k, v in self.net.state_dict().items()}
        self._w1, self._b1 = sd["mlp.0.weight"].T, sd["mlp.0.bias"]
        self._w2, self._b2 = sd["mlp.2.weight"].T, sd["mlp.2.bias"]
        self._wn, self._bn = sd["null.weight"].T, sd["null.bias"]

    def scores(self, features: np.ndarray, task: np.ndarray) -> tuple[np.ndarray, float]:
        """(N, F), (T,) -> (option logits (N,), null logit) before temperature."""
        h = np.tanh(features.astype(np.float64) @ self._w1 + self._b1)
        s = (h @ self._w2 + self._b2).reshape(-1)
        null = float((task.astype(np.float64) @ self._wn + self._bn).reshape(-1)[0])
        return s, null

    def probabilities(self, features: np.ndarray, task: np.ndarray) -> tuple[np.ndarray, float]:
        """-> (P(option i is exactly right) (N,), P(none is))."""
        if len(features) == 0:
            return np.zeros(0), 1.0
        s, null = self.scores(features, task)
        logits = np.append(s, null) / self.temperature
        logits -= logits.max()
        p = np.exp(logits)
        p /= p.sum()
        return p[:-1], float(p[-1])

    # -- training --------------------------------------------------------------------------------------

    @classmethod
    def fit(cls, train: list[RankingExample], valid: list[RankingExample] | None = None, *, epochs: int = 60,
            lr: float = 3e-3, weight_decay: float = 1e-4, anchor: Ranker | None = None, anchor_weight: float = 0.0,
            seed: int = 0) -> Ranker:
        """Listwise training (cross-entropy over options + null). `anchor` pulls the weights toward
        another ranker's (workspace adaptation starts from, and stays near, the shipped ranker)."""
        torch.manual_seed(seed)
        net = RankerNet(hidden=anchor.hidden if anchor is not None else HIDDEN)
        if anchor is not None:
            net.load_state_dict(anchor.net.state_dict())
        ref = {k: v.detach().clone() for k, v in net.state_dict().items()}
        batches = _batches(train, 256, seed)
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
        for _ in range(epochs):
            for feats, task, mask, gold in batches:
                loss = F.cross_entropy(net(feats, task, mask), gold)
                if anchor is not None and anchor_weight > 0:
                    loss = loss + anchor_weight * sum(((p - ref[n]) ** 2).sum() for n, p in net.named_parameters())
                opt.zero_grad()
                loss.backward()
                opt.step()
        ranker = cls(net, trained=True)
        if valid:
            ranker.temperature = fit_temperature(ranker, valid)
        return ranker

    @classmethod
    def fit_ensemble(cls, train: list[RankingExample], valid: list[RankingExample] | None = None, *,
                     members: int = 5, **kwargs: object) -> Ranker:
        """`members` rankers fitted from different seeds, averaged (`merge`), then calibrated: one fit
        moved validation top-1 by up to 2 points from seed to seed."""
        fitted = [cls.fit(train, None, seed=seed, **kwargs) for seed in range(members)]  # type: ignore[arg-type]
        ranker = merge(fitted)
        if valid:
            ranker.temperature = fit_temperature(ranker, valid)
        return ranker

    @property
    def hidden(self) -> int:
        return int(self.net.mlp[0].out_features)

    # -- persistence -----------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tensors = {k: v.detach().contiguous() for k, v in self.net.state_dict().items()}
        save_file(tensors, str(tmp), metadata={"format": "shutka-ranker", "features": json.dumps(FEATURES),
                                               "task_features": json.dumps(TASK_FEATURES),
                                               "temperature": repr(self.temperature)})
        os.replace(tmp, out)
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Ranker:
        try:
            from safetensors import safe_open

            with safe_open(str(path), "pt") as fh:
                meta = fh.metadata() or {}
            tensors = load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise CheckpointCorrupt(f"{path}: ranker weights are unreadable ({exc})") from exc
        if meta.get("format") != "shutka-ranker":
            raise CheckpointCorrupt(f"{path}: not a Shutka ranker file")
        if json.loads(meta.get("features", "[]")) != list(FEATURES) or \
                json.loads(meta.get("task_features", "[]")) != list(TASK_FEATURES):
            raise CheckpointMismatch(f"{path}: ranker was trained on other features; retrain it "
                                     "(shutka train ranker)")
        hidden = tensors["mlp.0.weight"].shape[0] if "mlp.0.weight" in tensors else 0
        if hidden < 1:
            raise CheckpointCorrupt(f"{path}: ranker weights are incomplete; retrain it (shutka train ranker)")
        net = RankerNet(hidden=hidden)
        try:
            net.load_state_dict(tensors)
        except RuntimeError as exc:
            raise CheckpointCorrupt(f"{path}: ranker weights do not fit the ranker ({exc})") from exc
        return cls(net, float(meta.get("temperature", "1.0")), trained=True)


def merge(rankers: list[Ranker]) -> Ranker:
    """One ranker whose scores are the mean of `rankers`' (before temperature): their hidden units side
    by side, output weights divided by their number; the null head, linear, averaged."""
    k = len(rankers)
    net = RankerNet(hidden=sum(r.hidden for r in rankers))
    with torch.no_grad():
        net.mlp[0].weight.copy_(torch.cat([r.net.mlp[0].weight for r in rankers]))
        net.mlp[0].bias.copy_(torch.cat([r.net.mlp[0].bias for r in rankers]))
        net.mlp[2].weight.copy_(torch.cat([r.net.mlp[2].weight for r in rankers], dim=1) / k)
        net.mlp[2].bias.copy_(torch.stack([r.net.mlp[2].bias for r in rankers]).mean(0))
        net.null.weight.copy_(torch.stack([r.net.null.weight for r in rankers]).mean(0))
        net.null.bias.copy_(torch.stack([r.net.null.bias for r in rankers]).mean(0))
    return Ranker(net, trained=all(r.trained for r in rankers))


def _heuristic_net() -> RankerNet:
    """Before any training: copy the option with the best context match (baseline A), null ~ 60%."""
    net = RankerNet()
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        w1 = net.mlp[0].weight
        w1[0, INDEX["bm25_rel"]] = 1.0
        w1[0, INDEX["bm25_top"]] = 1.0
        net.mlp[2].weight[0, 0] = 4.0
        net.null.bias.fill_(1.5)
    return net


def _batches(examples: list[RankingExample], size: int, seed: int
             ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(examples))
    out = []
    for start in range(0, len(order), size):
        chunk = [examples[i] for i in order[start : start + size]]
        width = max(1, max(len(e.features) for e in chunk))
        feats = torch.zeros(len(chunk), width, len(FEATURES))
        mask = torch.zeros(len(chunk), width, dtype=torch.bool)
        task = torch.zeros(len(chunk), len(TASK_FEATURES))
        gold = torch.zeros(len(chunk), dtype=torch.long)
        for row, e in enumerate(chunk):
            n = len(e.features)
            if n:
                feats[row, :n] = torch.from_numpy(e.features)
                mask[row, :n] = True
            task[row] = torch.from_numpy(e.task)
            gold[row] = e.gold if e.gold >= 0 else width  # the null slot is last
        out.append((feats, task, mask, gold))
    return out


def fit_temperature(ranker: Ranker, valid: list[RankingExample]) -> float:
    """The temperature minimising validation NLL (grid search; robust and fast)."""
    best, best_nll = 1.0, float("inf")
    for t in np.exp(np.linspace(np.log(0.3), np.log(3.0), 41)):
        ranker.temperature = float(t)
        nll = 0.0
        for e in valid:
            p, p_null = ranker.probabilities(e.features, e.task)
            nll -= np.log(max(1e-9, p[e.gold] if e.gold >= 0 else p_null))
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best
