"""Config sections owned by `assistant`: the model, the bank, completion, the HTTP server, and the
Kaggle-workflow `TrainingConfig` users already write.

Every section is a frozen pydantic model with `extra="forbid"`: a typo is an error naming the key.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self, TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assistant.model.sizes import MODEL_SIZES, SizeName
from indexer.errors import ConfigError
from indexer.workspace import Workspace, format_validation_error, user_only, user_section

_FROZEN = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

AttentionalBias = Literal["l2", "huber", "lp"]
Retention = Literal["decay", "none"]


class ModelConfig(BaseModel):
    """Architecture of `UltraEfficientTextJEPA`; stored inside every checkpoint."""

    model_config = _FROZEN

    vocab_size: int = Field(8192, ge=64)
    """Tokenizer vocabulary size (checkpoints carry the tokenizer that matches)."""
    d_model: int = Field(256, ge=16)
    """Width of the trunk."""
    n_layers: int = Field(6, ge=1)
    """Transformer blocks in the trunk."""
    n_heads: int = Field(4, ge=1)
    """Attention heads; `d_model` must divide by it."""
    mlp_ratio: int = Field(4, ge=1)
    """MLP hidden width as a multiple of `d_model`."""
    max_seq_len: int = Field(256, ge=16)
    """Longest token sequence the trunk sees (context is cut from the left)."""
    latent_dim: int = Field(128, ge=8)
    """Dimension of JEPA latents: what the memory bank stores and the predictor outputs."""
    predictor_hidden: int = Field(256, ge=8)
    """Hidden width of the JEPA predictor MLP."""
    retrieved_latents: int = Field(4, ge=0)
    """How many retrieved latents (HopRAG seeds) the predictor reads besides the cursor state."""
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    """Dropout in attention and MLP while training."""
    layer_drop: float = Field(0.1, ge=0.0, lt=1.0)
    """Probability of dropping a skippable block while training, so block skipping is tolerated."""
    use_eau: bool = True
    """EAU: a tiny head that scores request complexity; simple requests skip the middle blocks."""
    skip_threshold: float = Field(0.35, ge=0.0, le=1.0)
    """Requests whose EAU complexity is below this skip the skippable blocks."""
    skip_blocks: tuple[int, ...] | None = None
    """Indices of skippable blocks; None = every block but the first and the last."""
    quantization: Literal["none", "bitnet"] = "none"
    """Train-time quantization: `bitnet` = ternary weights + 8-bit activations (BitNet b1.58)."""
    gradient_checkpointing: bool = False
    """Recompute trunk blocks in backward to save activation memory."""
    target_momentum: float = Field(0.996, ge=0.0, le=1.0)
    """EMA momentum of the slow target encoder (1.0 = frozen)."""
    use_titans: bool = True
    """Attach the Titans neural memory (test-time learning)."""
    titans_depth: int = Field(3, ge=1, le=8)
    """Layers of the Titans memory MLP."""
    titans_capacity: int = Field(10_000, ge=1)
    """Entries kept in the Titans episodic store."""
    titans_surprise_threshold: float = Field(0.5, ge=0.0)
    """Writes whose surprise (loss before the step) is below this are skipped."""
    titans_lr: float = Field(0.5, gt=0.0, lt=1.0)
    """Share of the surprise a single write removes (normalised step); < 1 keeps writes stable."""
    titans_momentum: float = Field(0.5, ge=0.0, lt=1.0)
    """Momentum over past surprise (the Titans 'past surprise' term)."""
    titans_decay: float = Field(0.001, ge=0.0, lt=1.0)
    """Forget gate: share of the memory weights decayed at each write (MIRAS retention)."""
    miras_attentional_bias: AttentionalBias = "l2"
    """The memory's associative loss: ℓ2, Huber or ℓp (MIRAS)."""
    miras_retention: Retention = "decay"
    """Retention gate of the memory: weight decay toward zero at each write, or none."""
    miras_huber_delta: float = Field(1.0, gt=0.0)
    """Huber transition point when `miras_attentional_bias = "huber"`."""
    miras_lp: float = Field(3.0, ge=1.0)
    """p of the ℓp bias when `miras_attentional_bias = "lp"`."""

    @model_validator(mode="after")
    def _heads_divide_width(self) -> Self:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if (self.d_model // self.n_heads) % 2:
            raise ValueError("d_model / n_heads must be even (rotary embeddings)")
        for i in self.skip_blocks or ():
            if not 0 <= i < self.n_layers:
                raise ValueError(f"skip_blocks has {i}, outside 0..{self.n_layers - 1}")
        return self

    @property
    def skippable(self) -> tuple[int, ...]:
        if self.skip_blocks is not None:
            return self.skip_blocks
        return tuple(range(1, self.n_layers - 1))

    @classmethod
    def from_size(cls, size: SizeName, **overrides: Any) -> ModelConfig:
        """A named size ("tiny", "small", "base") with overrides; unknown names list the valid ones."""
        if size not in MODEL_SIZES:
            raise ConfigError(f"unknown model size {size!r}; valid sizes: {', '.join(MODEL_SIZES)}")
        return cls(**{**MODEL_SIZES[size], **overrides})

    def parameter_estimate(self) -> int:
        """Trainable parameters of the trunk + heads (embeddings tied), without the EMA copy."""
        d, L, v = self.d_model, self.n_layers, self.vocab_size
        block = 4 * d * d + 2 * self.mlp_ratio * d * d + 2 * d
        return v * d + L * block + d * self.latent_dim + self.predictor_hidden * (2 * d + self.latent_dim)


# -- the Kaggle workflow config ------------------------------------------------------------------

T4_MEMORY_BYTES = 16 * 1024**3

LOSS_CHUNK_TOKENS = 1024
"""Tokens per chunk of the training token loss under gradient checkpointing: the logits are made this
many rows at a time and made again in backward ((1024, V) fp32 logits are 32 MiB at V = 8192)."""


def loss_chunk_sequences(seq_len: int) -> int:
    """Whole sequences per chunk of the checkpointed token loss: as many as LOSS_CHUNK_TOKENS holds, at least
    one."""
    return max(1, LOSS_CHUNK_TOKENS // seq_len)


CONFIDENCE_THRESHOLD = 0.66
"""Default of `miras_confidence_threshold` in `[completion]` and in `TrainingConfig` (which carries it
to serving): one default, so a checkpoint of a run that never set it serves like no checkpoint value.
Chosen on dev by the typing replay (`shutka eval replay --sweep`, 120 lines, as shipped: token head off,
the stricter gate in comments and strings, a wrong suggestion kept on screen while the user types what it
shows, as the language server keeps its ghost text): the lowest threshold with at most 3 wrong suggestions
per 100 keys, the gate a person meets on every keystroke. 0.66 saves 16.7 % of characters at 2.9 wrong per
100 (0.64: 17.1 % at 3.3; 0.6: 18.2 % at 3.6; 0.7: 15.8 % at 2.6; 0.5: 21.8 % at 5.7)."""
MAX_HOPS = 2
"""Default of `hoprag_max_hops`, in both sections likewise."""
SERVING_KEYS: dict[str, str] = {
    "use_titans": "use_titans",
    "use_miras": "use_gate",
    "miras_confidence_threshold": "miras_confidence_threshold",
    "use_hoprag": "use_hoprag",
    "hoprag_max_hops": "hoprag_max_hops",
}
"""TrainingConfig field -> the `[completion]` key whose serving default it becomes (see
`TrainingConfig.serving_defaults`). The other Titans keys (capacity, depth, surprise threshold) are the
model's own config (`to_model_config`) and travel in the checkpoint with it."""


class TrainingConfig(BaseModel):
    """The flags of the Kaggle workflow (`UltraEfficientTextJEPA(**fields)` accepts them too).

    The Titans keys shape the model (`to_model_config`); the MIRAS gate and HopRAG keys are what a
    checkpoint of the run serves with where the workspace's `[completion]` does not set them
    (`serving_defaults`). Ranges are checked by `validate()` / `print_validation_report()`, not at construction,
    so a report can list every problem at once; unknown keys are rejected immediately."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_assignment=True)

    model_size: SizeName = "small"
    """Named architecture: tiny (tests), small (the bundled default), base (Kaggle GPUs)."""
    use_enhanced_encoder: bool = True
    """EAU complexity estimator with per-request block skipping in the trunk."""
    use_titans: bool = True
    """Titans test-time memory (off: the model has none, so serving neither reads nor writes one)."""
    use_miras: bool = True
    """MIRAS: the Titans memory's attentional bias and retention as configured below (off: plain Titans,
    ℓ2 and decay) and the confidence gate on completions (off: serving defaults to `[completion]
    use_gate = false`, the best candidates are shown whatever their confidence)."""
    use_hoprag: bool = True
    """Multi-hop retrieval over the code graph for the predictor and the candidate ranker (serving default
    of `[completion] use_hoprag`)."""
    titans_capacity: int = 10_000
    """Entries kept in the Titans episodic store."""
    titans_depth: int = 3
    """Layers of the Titans memory MLP."""
    titans_surprise_threshold: float = 0.5
    """Titans writes whose surprise is below this are skipped."""
    miras_confidence_threshold: float = CONFIDENCE_THRESHOLD
    """Completions whose calibrated confidence is below this are not shown (serving default of
    `[completion] miras_confidence_threshold`)."""
    miras_attentional_bias: AttentionalBias = "l2"
    """Associative loss of the Titans memory (with `use_miras`)."""
    miras_retention: Retention = "decay"
    """Retention (forgetting) of the Titans memory (with `use_miras`)."""
    hoprag_max_hops: int = MAX_HOPS
    """Longest walk over the code graph from a retrieval seed (serving default of `[completion]
    hoprag_max_hops`)."""
    memory_bank_dir: str | None = None
    """Where `model.predictor.memory_bank` of a model built from these flags keeps its files (`auto_save`
    commits every add/delete there), e.g. /kaggle/working/memory_bank; unset: a temporary directory removed
    when the bank is closed. Training never writes the bank; a workspace's bank lives in `.shutka/bank/`."""
    gradient_checkpointing: bool = False
    """Recompute trunk blocks in backward (less memory, ~15% more time)."""
    quantization: Literal["none", "bitnet"] = "none"
    """Train-time BitNet b1.58 fake quantization, or none (int8 post-training quantization)."""
    batch_size: int = 32
    """Sequences per optimizer step (per device)."""
    max_seq_len: int = 256
    """Tokens per training sequence."""
    learning_rate: float = 3e-4
    """Peak AdamW learning rate."""
    num_epochs: int = 3
    """Passes over the training data."""

    # -- conversion ------------------------------------------------------------------------------

    def to_model_config(self, **overrides: Any) -> ModelConfig:
        """The architecture these flags describe (sizes from `MODEL_SIZES`)."""
        self.validate()
        fields = dict(
            use_eau=self.use_enhanced_encoder,
            use_titans=self.use_titans,
            titans_capacity=self.titans_capacity,
            titans_depth=self.titans_depth,
            titans_surprise_threshold=self.titans_surprise_threshold,
            miras_attentional_bias=self.miras_attentional_bias if self.use_miras else "l2",
            miras_retention=self.miras_retention if self.use_miras else "decay",
            gradient_checkpointing=self.gradient_checkpointing,
            quantization=self.quantization,
            max_seq_len=self.max_seq_len,
        )
        fields.update(overrides)
        return ModelConfig.from_size(self.model_size, **fields)

    def serving_defaults(self) -> dict[str, Any]:
        """The `[completion]` values a checkpoint of this run serves with where the workspace does not set
        them (`save_checkpoint(..., serving=config)`; `CompletionConfig.over`), keyed as in `[completion]`."""
        return {key: getattr(self, name) for name, key in SERVING_KEYS.items()}

    @classmethod
    def from_toml(cls, path: str | Path, section: str | None = "train") -> TrainingConfig:
        """Load from a TOML file: the `[train]` table if present, else the top level."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{p}: config file not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML ({exc})") from exc
        if section and isinstance(data.get(section), dict):
            data = data[section]
        return cls.from_dict(data, where=str(p))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "TrainingConfig") -> TrainingConfig:
        """Validate a plain dict; unknown keys and wrong types raise ConfigError naming the key."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, where, cls)) from exc

    # -- validation ------------------------------------------------------------------------------

    def issues(self) -> tuple[list[str], list[str]]:
        """(errors, warnings): out-of-range values, contradicting flags, T4 memory estimate."""
        errors: list[str] = []
        warnings: list[str] = []

        def need(ok: bool, msg: str) -> None:
            if not ok:
                errors.append(msg)

        need(self.titans_capacity >= 1, f"titans_capacity must be >= 1 (got {self.titans_capacity})")
        need(1 <= self.titans_depth <= 8, f"titans_depth must be in 1..8 (got {self.titans_depth})")
        need(self.titans_surprise_threshold >= 0,
             f"titans_surprise_threshold must be >= 0 (got {self.titans_surprise_threshold})")
        need(0.0 <= self.miras_confidence_threshold <= 1.0,
             f"miras_confidence_threshold must be in [0, 1] (got {self.miras_confidence_threshold})")
        need(0 <= self.hoprag_max_hops <= 10, f"hoprag_max_hops must be in 0..10 (got {self.hoprag_max_hops})")
        need(self.batch_size >= 1, f"batch_size must be >= 1 (got {self.batch_size})")
        need(16 <= self.max_seq_len <= 4096, f"max_seq_len must be in 16..4096 (got {self.max_seq_len})")
        need(0 < self.learning_rate < 1, f"learning_rate must be in (0, 1) (got {self.learning_rate})")
        need(self.num_epochs >= 1, f"num_epochs must be >= 1 (got {self.num_epochs})")

        if self.use_miras and not self.use_titans:
            warnings.append("use_miras configures the Titans memory, but use_titans is off: "
                            "only the MIRAS confidence gate stays active")
        if not self.use_miras and (self.miras_attentional_bias, self.miras_retention) != ("l2", "decay"):
            warnings.append("use_miras is off: miras_attentional_bias and miras_retention are ignored "
                            "(the memory is plain Titans: l2, decay)")
        if self.hoprag_max_hops == 0 and self.use_hoprag:
            warnings.append("use_hoprag is on but hoprag_max_hops = 0: retrieval will not walk the graph")
        if self.miras_confidence_threshold > 0.95:
            warnings.append(f"miras_confidence_threshold {self.miras_confidence_threshold} hides almost "
                            "every completion")
        if self.titans_surprise_threshold > 5:
            warnings.append(f"titans_surprise_threshold {self.titans_surprise_threshold} is so high that "
                            "the memory will almost never be written")
        if self.learning_rate > 3e-3:
            warnings.append(f"learning_rate {self.learning_rate} is high for AdamW on a transformer; "
                            "expect divergence (try 3e-4)")
        if self.quantization == "bitnet" and self.model_size == "tiny":
            warnings.append("bitnet quantization on the tiny size loses most of its capacity")
        if not errors:
            estimate = self.estimated_step_memory_bytes()
            gib = estimate / 1024**3
            if estimate > T4_MEMORY_BYTES:
                errors.append(f"one training step needs about {gib:.1f} GiB, more than a 16 GiB T4: "
                              "lower batch_size or max_seq_len, or turn on gradient_checkpointing")
            elif estimate > 0.8 * T4_MEMORY_BYTES:
                warnings.append(f"one training step needs about {gib:.1f} GiB of a 16 GiB T4 "
                                "(over 80%): fragmentation may run it out of memory")
            elif self.gradient_checkpointing and estimate < 0.1 * T4_MEMORY_BYTES:
                warnings.append(f"gradient_checkpointing costs ~15% speed and this step only needs "
                                f"{gib:.2f} GiB: it is not needed")
        return errors, warnings

    def estimated_step_memory_bytes(self) -> int:
        """Rough fp16-AMP memory of one training step on a GPU: weights, grads, AdamW, EMA, activations."""
        size = dict(MODEL_SIZES[self.model_size])
        d, L, v = size["d_model"], size["n_layers"], size.get("vocab_size", 8192)
        mlp = size.get("mlp_ratio", 4)
        params = ModelConfig.from_size(self.model_size).parameter_estimate()
        state = params * (4 + 4 + 8 + 4)  # fp32 weights, grads, AdamW moments, EMA target copy
        tokens = self.batch_size * self.max_seq_len
        per_layer = tokens * d * (10 + 2 * mlp) * 2  # fp16 activations kept for backward
        layers = L if not self.gradient_checkpointing else 2
        activations = per_layer * layers + tokens * d * 2 * L * self.gradient_checkpointing
        rows = self.batch_size  # fp32 logits, softmax and grad of every sequence,
        if self.gradient_checkpointing:  # or of one chunk of whole sequences at a time
            rows = min(rows, loss_chunk_sequences(self.max_seq_len))
        logits = rows * self.max_seq_len * v * 4 * 3
        return int(state + activations + logits + 512 * 1024**2)  # + CUDA context

    def validate(self) -> Self:
        """Raise ConfigError listing every error; warnings do not raise."""
        errors, _ = self.issues()
        if errors:
            raise ConfigError("invalid training config: " + "; ".join(errors))
        return self

    def print_validation_report(self, file: TextIO | None = None) -> bool:
        """Print every field, then errors and warnings; return True when there is no error."""
        out = file or sys.stdout
        errors, warnings = self.issues()
        print("Shutka training config", file=out)
        for name in type(self).model_fields:
            print(f"  {name:28s} = {getattr(self, name)!r}", file=out)
        if not errors:
            gib = self.estimated_step_memory_bytes() / 1024**3
            print(f"  estimated step memory        ≈ {gib:.2f} GiB (T4: 16 GiB)", file=out)
        for msg in errors:
            print(f"ERROR   {msg}", file=out)
        for msg in warnings:
            print(f"WARNING {msg}", file=out)
        print("config OK" if not errors else f"{len(errors)} error(s)", file=out)
        return not errors


# -- runtime sections ----------------------------------------------------------------------------


class BankConfig(BaseModel):
    """`[bank]`: the FAISS memory bank under `.shutka/bank/`."""

    model_config = _FROZEN

    index_type: Literal["flat", "ivf"] = "ivf"
    """Flat (exact) up to `ivf_min_vectors`, then IVF when `ivf` is chosen (`flat`: always exact)."""
    ivf_min_vectors: int = Field(100_000, ge=1_000)
    """An `ivf` bank stays flat until it holds this many vectors."""
    nprobe: int = Field(16, ge=1)
    """IVF lists searched per query."""
    mmap_min_bytes: int = Field(64 * 1024**2, ge=0)
    """Indexes at least this large are opened memory-mapped instead of read into RAM."""
    compact_after: int = Field(20_000, ge=1)
    """Vectors added or removed since the last generation before the index file is rewritten."""
    auto_save: bool = True
    """Commit after every add/delete (off: the caller commits)."""


class CompletionConfig(BaseModel):
    """`[completion]`: the completion engine's switches and budgets.

    The gate, HopRAG and Titans switches a workspace does not set come from the checkpoint (the training
    run's `TrainingConfig`, see `over`), then from the defaults here."""

    model_config = _FROZEN

    miras_confidence_threshold: float = Field(CONFIDENCE_THRESHOLD, ge=0.0, le=1.0)
    """Completions below this calibrated confidence are not shown (silence beats a wrong line)."""
    use_gate: bool = True
    """Apply the confidence gate (off: the best candidates are returned whatever their confidence)."""
    use_hoprag: bool = True
    """Cross-file context from the code graph."""
    hoprag_max_hops: int = Field(MAX_HOPS, ge=0, le=10)
    """Longest walk over the code graph."""
    use_titans: bool = True
    """Read the Titans memory and write what the user actually typed (off: neither; a model trained
    without Titans has none to use)."""
    use_decoding: bool = False
    """Score candidates with the model's token head and generate short continuations (off: copies and
    edits ranked by retrieval, latent and Titans signals, with the ranker trained without the token
    head). Off by default: `shutka eval ablations` on dev measured it adding nothing typed or one-shot
    (EM 27.5 with, 27.2 without; 20.8 % vs 21.4 % of characters saved) at 3.3x the time per keystroke
    (p50 38.9 vs 11.8 ms); the test packages agree (EM 20.6 / 20.8, saved 11.9 / 13.3 %)."""
    quantized: bool = True
    """Run the int8 export (off: fp32)."""
    fill_in_middle: bool = False
    """Read the code after the cursor too."""
    max_candidates: int = Field(48, ge=1)
    """Candidates ranked per request."""
    scored_candidates: int = Field(8, ge=0)
    """Top candidates re-scored by the token head."""
    max_items: int = Field(3, ge=1)
    """Completions returned at most."""
    context_lines: int = Field(4, ge=1)
    """Non-blank lines before a line that are its context: at the cursor, the retrieval (BM25) query; for
    every indexed line, the context it is matched by (the shipped ranker was fitted with 4)."""
    max_document_bytes: int = Field(2_000_000, ge=1_000)
    """Larger documents are answered from a window around the cursor only."""
    context_tokens: int = Field(128, ge=16)
    """Tokens before the cursor's line the model reads (at most the model's window less room for the
    line and a candidate): the largest share of a completion's time."""
    num_threads: int = Field(1, ge=1)
    """torch threads per completion. On 2 cores one is fastest once anything else runs (the editor,
    the LSP client: p50 through LSP 54 ms with one, 87 ms with two); with more cores, try two."""
    block_skipping: bool = True
    """Let the EAU skip the middle blocks on simple requests (off: every request runs every block)."""
    adapt: bool = True
    """After indexing, fine-tune the ranker on tasks made from the workspace's own code (background)."""
    adapt_seconds: float = Field(120.0, gt=0)
    """Time budget of that adaptation."""

    def over(self, defaults: Mapping[str, Any]) -> CompletionConfig:
        """This section over a checkpoint's serving defaults (`Checkpoint.serving`): a key set here
        (shutka.toml, CLI flags, LSP options) wins, then `defaults`, then the field defaults. Keys this
        Shutka does not know are ignored (a newer checkpoint)."""
        given = {key: value for key, value in defaults.items()
                 if key in type(self).model_fields and key not in self.model_fields_set}
        if not given:
            return self
        return type(self).model_validate({**given, **self.model_dump(include=self.model_fields_set)})


class ServerConfig(BaseModel):
    """`[server]`: the OpenAI-compatible HTTP API."""

    model_config = _FROZEN

    host: str = Field("127.0.0.1", json_schema_extra=user_only("--host"))
    """Address to bind; anything but loopback needs an API key."""
    port: int = Field(8000, ge=0, le=65535)
    """TCP port (0 picks a free one)."""
    api_key: str | None = Field(None, json_schema_extra=user_only("--api-key (or $SHUTKA_API_KEY)"))
    """Bearer token clients must send (also SHUTKA_API_KEY)."""
    allowed_hosts: tuple[str, ...] = Field((), json_schema_extra=user_only("--allowed-host"))
    """Names besides the bound address a request's Host header may give (a LAN name, a proxy's); "*" accepts
    any. Other Host headers are refused (DNS rebinding)."""
    model_id: str = "shutka-v2"
    """The model name `/v1/models` reports."""
    max_request_bytes: int = Field(1_000_000, ge=1_000)
    """Larger request bodies are refused with 413."""
    max_tokens_limit: int = Field(512, ge=1)
    """Upper bound on `max_tokens`."""


def load_server_config(workspace: Workspace, flags: dict[str, Any] | None = None) -> ServerConfig:
    """`[server]` for `shutka serve`: defaults < the user's own config (`user_config_path()`) < the
    workspace's shutka.toml, which may not set `host`, `api_key` or `allowed_hosts` (refused) < `flags`
    (the command line and its environment variables; None values are ignored)."""
    given = {key: value for key, value in (flags or {}).items() if value is not None}
    return workspace.section("server", ServerConfig, given, base=user_section("server", ServerConfig))
