"""UltraEfficientTextJEPA: one causal trunk with a token head and a JEPA head, a slow target encoder,
the EAU with block skipping, and the Titans memory (DESIGN §2–§3).

Read top to bottom: construction, the two heads, the target encoder, Titans, export.
Notation: B batch, T tokens, D model width, V vocabulary, N predictions, K retrieved, L latent width.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from assistant.config import ModelConfig, TrainingConfig
from assistant.memory.episodes import EpisodicStore
from assistant.memory.titans_memory import TitansMemory
from assistant.model.decoder import ContextState, Healer, extend, generate, run_context, score_continuations
from assistant.model.encoder import LatentPooler, SpanEncoder, Trunk
from assistant.model.memory import MemoryState, NeuralMemory, WriteResult
from assistant.model.predictor import JEPAPredictor
from assistant.model.quant import export_int8


def resolve_config(config: ModelConfig | TrainingConfig | None, flags: dict[str, Any]) -> ModelConfig:
    """Accept a ModelConfig, a TrainingConfig, or the Kaggle-workflow keyword flags users write.

    Flags that are TrainingConfig fields configure the model through it; ModelConfig fields
    (vocab_size, d_model, ...) override the named size directly. Anything else is an error."""
    if isinstance(config, ModelConfig):
        return config.model_copy(update=flags) if flags else config
    training_fields = set(TrainingConfig.model_fields)
    model_fields = set(ModelConfig.model_fields)
    unknown = set(flags) - training_fields - model_fields
    if unknown:
        raise TypeError(f"unknown UltraEfficientTextJEPA option(s) {sorted(unknown)}; "
                        f"valid: {sorted(training_fields | model_fields)}")
    training = config if isinstance(config, TrainingConfig) else TrainingConfig()
    training = training.model_copy(update={k: v for k, v in flags.items() if k in training_fields})
    training = TrainingConfig.from_dict(training.model_dump())  # re-validate the merged flags
    return training.to_model_config(**{k: v for k, v in flags.items() if k in model_fields
                                       and k not in training_fields})


class UltraEfficientTextJEPA(nn.Module):
    """The Shutka model. `UltraEfficientTextJEPA()` builds the default (small) size.

    `memory_bank_dir` (a TrainingConfig field, or a flag) is where `predictor.memory_bank` keeps its
    files until a workspace's bank is attached; it is not part of the model's config."""

    def __init__(self, config: ModelConfig | TrainingConfig | None = None, **flags: Any) -> None:
        super().__init__()
        bank_dir = flags.pop("memory_bank_dir",
                             config.memory_bank_dir if isinstance(config, TrainingConfig) else None)
        self.config = cfg = resolve_config(config, flags)
        self.trunk = Trunk(cfg)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.trunk.embed.weight  # tied
        self.pooler = LatentPooler(cfg.d_model, cfg.latent_dim)
        self.predictor = JEPAPredictor(cfg.d_model, cfg.latent_dim, cfg.predictor_hidden,
                                       None if bank_dir is None else str(bank_dir))
        self.target_trunk = copy.deepcopy(self.trunk)
        self.target_trunk.requires_grad_(False)
        self.titans: NeuralMemory | None = None
        if cfg.use_titans:
            self.titans = NeuralMemory(
                cfg.latent_dim, cfg.titans_depth, lr=cfg.titans_lr, momentum=cfg.titans_momentum,
                decay=cfg.titans_decay, retention=cfg.miras_retention,
                attentional_bias=cfg.miras_attentional_bias,
                surprise_threshold=cfg.titans_surprise_threshold, huber_delta=cfg.miras_huber_delta,
                lp=cfg.miras_lp)
        self.titans_memory = TitansMemory(self.titans, cfg.latent_dim, cfg.titans_depth, cfg.titans_capacity)
        self.quantized = False
        self.apply(_init_weights)
        self.target_trunk.load_state_dict(self.trunk.state_dict())

    # -- token head ----------------------------------------------------------------------------------

    def forward(self, ids: Tensor, skip: bool | None = None) -> tuple[Tensor, Tensor, Tensor | None]:
        """ids: (B, T) -> logits (B, T, V), hidden (B, T, D), complexity (B,) or None."""
        out = self.trunk(ids, skip=skip)
        return self.head(out.hidden), out.hidden, out.complexity

    def run_context(self, ids: list[int], skip: bool | None = None) -> ContextState:
        """Run a context once (KV cache, EAU decision) for scoring and generation."""
        return run_context(self.trunk, self.head, ids, skip=skip)

    def extend_context(self, ctx: ContextState, ids: list[int]) -> ContextState:
        """`ctx` followed by `ids`, without changing `ctx`."""
        return extend(self.trunk, self.head, ctx, ids)

    def score_continuations(self, ctx: ContextState, continuations: list[list[int]]) -> tuple[Tensor, Tensor]:
        """Log-prob sums and lengths of each continuation after `ctx` (one batched pass)."""
        return score_continuations(self.trunk, self.head, ctx, continuations)

    def generate(self, ctx: ContextState, max_new_tokens: int, stop: frozenset[int] = frozenset(),
                 must_start: str = "", healer: Healer | None = None) -> tuple[list[int], float]:
        return generate(self.trunk, self.head, ctx, max_new_tokens, stop, must_start, healer)

    # -- JEPA head -----------------------------------------------------------------------------------

    def predict(self, h: Tensor, retrieved: Tensor | None = None, retrieved_mask: Tensor | None = None,
                titans: Tensor | None = None) -> Tensor:
        """h: (N, D) cursor states -> (N, L) predicted latents of what comes next."""
        return self.predictor(h, retrieved, retrieved_mask, titans)

    def predict_with_memory(self, h: Tensor, retrieved: Tensor | None = None,
                            retrieved_mask: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor | None]:
        """Two passes: the memory-free prediction is the Titans key; its read-out joins the second.

        -> (final (N, L), key (N, L), read-out (N, L) or None when Titans is off)."""
        key = self.predict(h, retrieved, retrieved_mask)
        if self.titans is None:
            return key, key, None
        readout = F.normalize(self.titans_read(key), dim=-1)
        return self.predict(h, retrieved, retrieved_mask, readout), key, readout

    # -- target encoder ------------------------------------------------------------------------------

    @property
    def target_encoder(self) -> SpanEncoder:
        """The slow copy of the trunk, pooled: what fills the memory bank."""
        return SpanEncoder(self.target_trunk, self.pooler)

    def encode_spans(self, ids: Tensor, mask: Tensor) -> Tensor:
        """ids: (B, T) right-padded, mask: (B, T) -> (B, L) target latents (unit norm)."""
        return self.target_encoder(ids, mask)

    @torch.no_grad()
    def update_target(self, momentum: float | None = None) -> None:
        """EMA step of the target trunk toward the online trunk."""
        m = self.config.target_momentum if momentum is None else momentum
        for t, o in zip(self.target_trunk.parameters(), self.trunk.parameters(), strict=True):
            t.mul_(m).add_(o.detach(), alpha=1.0 - m)

    # -- Titans --------------------------------------------------------------------------------------
    # The state and the episodes live in `titans_memory` (assistant.memory.titans_memory), which also
    # reads and writes their file; these methods are the calls the Kaggle guide uses, delegated.

    @property
    def episodic(self) -> EpisodicStore:
        return self.titans_memory.episodic

    @property
    def titans_state(self) -> MemoryState | None:
        return self.titans_memory.state

    def titans_read(self, query: Tensor) -> Tensor:
        """query: (N, L) -> (N, L) read from the test-time memory."""
        return self.titans_memory.read(query)

    def titans_surprise(self, keys: Tensor, values: Tensor) -> Tensor:
        """Per-association surprise (N,) without writing."""
        return self.titans_memory.surprise(keys, values)

    def titans_write(self, keys: Tensor, values: Tensor, source_ids: Tensor | None = None) -> WriteResult:
        """Write N associations as one chunk (see `TitansMemory.write`). keys, values: (N, L)."""
        return self.titans_memory.write(keys, values, source_ids)

    def forget_titans_memory(self, n: int) -> int:
        """Drop the n least-accessed episodes; returns how many were dropped."""
        return self.titans_memory.forget(n)

    def reset_titans_memory(self) -> None:
        self.titans_memory.reset()

    def save_titans_memory(self, path: str | Path) -> Path:
        """Memory weights, momentum and episodes to `path` (safetensors), by `titans_memory`."""
        return self.titans_memory.save(path)

    def load_titans_memory(self, path: str | Path) -> None:
        """Load what save_titans_memory wrote; a wrong shape or a corrupt file raises our error."""
        self.titans_memory.load(path)

    # -- export --------------------------------------------------------------------------------------

    def export_int8(self) -> UltraEfficientTextJEPA:
        """A copy whose trunk, target trunk and token head run on int8 integer kernels (inference only).

        The fake-quant BitLinear path is never used for inference."""
        model = copy.deepcopy(self).eval()
        model.head = nn.Linear(self.config.d_model, self.config.vocab_size, bias=False)
        model.head.weight = nn.Parameter(self.trunk.embed.weight.detach().clone(), requires_grad=False)
        for part in (model.trunk.blocks, model.target_trunk.blocks):
            export_int8(part)
        export_int8(model, skip=("trunk", "target_trunk", "pooler", "predictor", "titans"))
        model.quantized = True
        model.requires_grad_(False)
        return model

    # -- helpers -------------------------------------------------------------------------------------

    def num_parameters(self, trainable_only: bool = True) -> int:
        params = self.parameters() if not trainable_only else (p for p in self.parameters() if p.requires_grad)
        return sum(p.numel() for p in params)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)
