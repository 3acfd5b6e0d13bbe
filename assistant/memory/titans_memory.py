"""The Titans memory's state beside a model: the memory weights and momentum written at test time, the
episodes, and their file (safetensors, tensors only).

The model (`assistant.model`) stays stateless: its `NeuralMemory` reads and writes a `MemoryState` it is
given. `UltraEfficientTextJEPA` carries one `TitansMemory` and its `titans_*` / `*_titans_memory`
methods (the Kaggle guide's calls) delegate here; `TitansStore` keeps it in step with the workspace.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from assistant.errors import CheckpointCorrupt, CheckpointMismatch
from assistant.memory.episodes import EpisodicStore
from assistant.model.memory import MemoryState, NeuralMemory, WriteResult

TITANS_FORMAT = "shutka-titans-1"


class TitansMemory:
    """One memory's state (`state`, None until first used) and episodes around a `NeuralMemory`."""

    def __init__(self, network: NeuralMemory | None, latent_dim: int, depth: int, capacity: int) -> None:
        self.network, self.latent_dim, self.depth, self.capacity = network, latent_dim, depth, capacity
        self.state: MemoryState | None = None
        self.episodic = EpisodicStore(latent_dim, capacity)

    def _require(self) -> NeuralMemory:
        if self.network is None:
            raise CheckpointMismatch("this model was built with use_titans=False: it has no Titans memory")
        return self.network

    def current(self) -> MemoryState:
        """The state, created empty on first use."""
        network = self._require()
        if self.state is None:
            with torch.no_grad():
                self.state = network.initial_state(batch=1).detach()
        return self.state

    @torch.no_grad()
    def read(self, query: Tensor) -> Tensor:
        """query: (N, L) -> (N, L) read from the memory."""
        network, state = self._require(), self.current()
        return network.read(query.unsqueeze(0), state)[0]

    def surprise(self, keys: Tensor, values: Tensor) -> Tensor:
        """Per-association surprise (N,) without writing."""
        network, state = self._require(), self.current()
        with torch.no_grad():
            return torch.stack([network.surprise(k.view(1, 1, -1), v.view(1, 1, -1), state)[0]
                                for k, v in zip(keys, values, strict=True)]) if len(keys) else torch.zeros(0)

    def write(self, keys: Tensor, values: Tensor, source_ids: Tensor | None = None) -> WriteResult:
        """Write N associations as one chunk: one surprise-gated gradient step. Associations that were
        surprising on their own are kept as episodes. keys, values: (N, L)."""
        network = self._require()
        per_item = self.surprise(keys, values)  # (N,) before the step
        result = network.write(keys.unsqueeze(0), values.unsqueeze(0), self.current())
        self.state = result.state.detach()
        if bool(result.written[0]):
            keep = per_item >= network.surprise_threshold
            ids = source_ids[keep] if source_ids is not None else None
            self.episodic.add(keys[keep], values[keep], per_item[keep], ids)
        return result

    def forget(self, n: int) -> int:
        """Drop the n least-accessed episodes; returns how many were dropped."""
        self._require()
        return self.episodic.forget(n)

    def reset(self) -> None:
        self.state = None
        self.episodic = EpisodicStore(self.latent_dim, self.capacity)

    def save(self, path: str | Path) -> Path:
        """Tensors only (safetensors, no pickle): memory weights, momentum, episodic store."""
        state = self.current()
        tensors: dict[str, Tensor] = {"writes": state.writes.clone()}
        for i, (w, m) in enumerate(zip(state.weights, state.momentum, strict=True)):
            tensors[f"weight.{i}"] = w.contiguous().clone()
            tensors[f"momentum.{i}"] = m.contiguous().clone()
        for name, t in self.episodic.tensors().items():
            tensors[f"episodic.{name}"] = t.contiguous().clone()
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        save_file(tensors, str(tmp), metadata={"format": TITANS_FORMAT, "latent_dim": str(self.latent_dim),
                                               "depth": str(self.depth)})
        tmp.replace(out)
        return out

    def load(self, path: str | Path) -> None:
        """Load what `save` wrote; a wrong shape or a corrupt file raises our error."""
        network = self._require()
        try:
            data = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointCorrupt(f"{path}: not a readable Titans memory file ({exc})") from exc
        depth = self.depth
        try:
            weights = tuple(data[f"weight.{i}"] for i in range(depth))
            momentum = tuple(data[f"momentum.{i}"] for i in range(depth))
            episodic = {k.split(".", 1)[1]: v for k, v in data.items() if k.startswith("episodic.")}
            writes = data["writes"]
        except KeyError as exc:
            raise CheckpointMismatch(f"{path}: Titans memory lacks {exc.args[0]} (titans_depth here is {depth})") from exc
        for i, (w, ref) in enumerate(zip(weights, network.init_weights, strict=True)):
            if tuple(w.shape[1:]) != tuple(ref.shape):
                raise CheckpointMismatch(f"{path}: Titans layer {i} has shape {tuple(w.shape[1:])}, "
                                         f"this model expects {tuple(ref.shape)}")
        try:
            self.episodic.load_tensors(episodic)
        except (KeyError, ValueError) as exc:
            raise CheckpointMismatch(f"{path}: episodic store does not fit this model ({exc})") from exc
        self.state = MemoryState(weights, momentum, writes)
