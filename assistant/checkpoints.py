"""Checkpoints: one safetensors file holding the weights, the ModelConfig, the tokenizer and its digest,
and the training run's serving defaults (`[completion]` gate, HopRAG and Titans switches).

Nothing is ever unpickled. Three weight formats:
  fp32     trainable float weights (training resumes from these)
  int8     the inference export: trunk, target trunk and token head as int8 + per-channel scales
  ternary  as int8, with BitNet ternary weights packed four per byte (2 bits) on disk
Loading compares format version, config and tokenizer before touching weights and raises
CheckpointMismatch naming the key and both values, or CheckpointCorrupt for unreadable files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from assistant.config import CompletionConfig, ModelConfig, TrainingConfig
from assistant.errors import CheckpointCorrupt, CheckpointMismatch
from assistant.home import shutka_home
from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.model.quant import pack_ternary, unpack_ternary
from assistant.tokenizer import TypeScriptTokenizer

log = logging.getLogger(__name__)

FORMAT_VERSION = "2"
WeightFormat = Literal["fp32", "int8", "ternary"]
DEFAULT_CHECKPOINT_NAME = "shutka-small.safetensors"
ENV_CHECKPOINT = "SHUTKA_CHECKPOINT"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (in eval mode), its tokenizer and what was stored with them."""

    model: UltraEfficientTextJEPA
    tokenizer: TypeScriptTokenizer
    config: ModelConfig
    weight_format: WeightFormat
    digest: str
    """Identifies these exact weights (the bank records it to never mix latents of two models)."""
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    serving: dict[str, Any] = field(default_factory=dict)
    """`[completion]` defaults of the training run (`TrainingConfig.serving_defaults`): what the model
    serves with where the workspace does not set its own (`CompletionConfig.over`). Empty: none stored."""


def _dedupe_shared(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """safetensors refuses tensors sharing storage (tied embeddings): keep the first of each."""
    seen: set[tuple[int, int]] = set()
    out = {}
    for name, t in state.items():
        key = (t.untyped_storage().data_ptr(), t.storage_offset())
        if key in seen and t.numel() > 0:
            continue
        seen.add(key)
        out[name] = t.detach().contiguous()
    return out


def save_checkpoint(path: str | os.PathLike[str], model: UltraEfficientTextJEPA, tokenizer: TypeScriptTokenizer,
                    *, weight_format: WeightFormat = "fp32", extra: dict[str, Any] | None = None,
                    serving: TrainingConfig | Mapping[str, Any] | None = None) -> Path:
    """Write atomically (temp file + rename). `int8`/`ternary` store the inference export.

    `serving`: the run's TrainingConfig (or `Checkpoint.serving` of the checkpoint this one is made
    from): its gate, HopRAG and Titans switches become the model's `[completion]` defaults."""
    serving_json = _serving_json(serving)
    if tokenizer.vocab_size != model.config.vocab_size:
        raise CheckpointMismatch(f"vocab_size: model has {model.config.vocab_size}, "
                                 f"tokenizer has {tokenizer.vocab_size}")
    if weight_format == "fp32" and model.quantized:
        raise CheckpointMismatch("weight_format: an int8-exported model cannot be saved as fp32")
    source = model if weight_format == "fp32" or model.quantized else model.export_int8()
    state = _dedupe_shared(dict(source.state_dict()))
    shapes: dict[str, list[int]] = {}
    if weight_format == "ternary":
        if model.config.quantization != "bitnet":
            raise CheckpointMismatch("weight_format: ternary packing needs a model trained with "
                                     "quantization='bitnet' (this one is 'none'); use int8")
        ternary = [n for n, t in state.items()
                   if n.endswith("weight_t") and t.dtype == torch.int8 and int(t.abs().max()) <= 1]
        for name in ternary:  # the token head is PTQ int8, not ternary: it stays int8
            shapes[name] = list(state[name].shape)
            state[name] = pack_ternary(state[name])
    embeddings: list[str] = []
    if weight_format != "fp32":  # embeddings as int8 rows + a scale per row: a quarter of the bytes
        for name in [n for n in state if n.endswith("embed.weight")]:
            w = state.pop(name).float()
            scale = w.abs().amax(dim=1, keepdim=True).clamp_min(1e-8) / 127.0
            state[name + ".q8"] = (w / scale).round().to(torch.int8)
            state[name + ".q8scale"] = scale
            embeddings.append(name)
    metadata = {
        "format": "shutka-checkpoint",
        "format_version": FORMAT_VERSION,
        "weight_format": weight_format,
        "config": model.config.model_dump_json(),
        "tokenizer": tokenizer.to_json(),
        "tokenizer_digest": tokenizer.digest,
        "packed_shapes": json.dumps(shapes),
        "int8_embeddings": json.dumps(embeddings),
        "extra": json.dumps(extra or {}),
    }
    if serving_json is not None:
        metadata["serving"] = serving_json
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    save_file(state, str(tmp), metadata=metadata)
    os.replace(tmp, out)
    return out


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The checkpoint's metadata without loading weights; CheckpointCorrupt if unreadable."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            header_len = int.from_bytes(fh.read(8), "little")
            if header_len <= 0 or header_len > 100 * 1024**2:
                raise CheckpointCorrupt(f"{p}: not a safetensors checkpoint (bad header length)")
            header = json.loads(fh.read(header_len))
    except FileNotFoundError as exc:
        raise CheckpointCorrupt(f"{p}: checkpoint not found") from exc
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise CheckpointCorrupt(f"{p}: not a readable checkpoint ({exc})") from exc
    meta = header.get("__metadata__") or {}
    if meta.get("format") != "shutka-checkpoint":
        raise CheckpointCorrupt(f"{p}: not a Shutka checkpoint (no 'shutka-checkpoint' metadata)")
    return meta


def file_digest(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def load_checkpoint(path: str | os.PathLike[str], *, expect: ModelConfig | None = None,
                    for_training: bool = False) -> Checkpoint:
    """Load and check a checkpoint. `expect`: refuse any config field that differs.

    `for_training` turns an int8/ternary file back into float weights (dequantized) so it can be
    fine-tuned; otherwise int8 files give the int8 inference model and fp32 files the float model."""
    p = Path(path)
    meta = read_metadata(p)
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointMismatch(f"{p}: format_version is {meta.get('format_version')!r}, "
                                 f"this Shutka reads {FORMAT_VERSION!r}")
    try:
        config = ModelConfig.model_validate_json(meta["config"])
    except (KeyError, ValidationError) as exc:
        raise CheckpointCorrupt(f"{p}: stored config is invalid ({exc})") from exc
    if expect is not None:
        _compare_configs(p, expect, config)
    tokenizer = TypeScriptTokenizer.from_json(meta.get("tokenizer", ""))
    if tokenizer.digest != meta.get("tokenizer_digest"):
        raise CheckpointMismatch(f"{p}: tokenizer_digest is {meta.get('tokenizer_digest')!r} but the "
                                 f"stored tokenizer hashes to {tokenizer.digest!r}")
    if tokenizer.vocab_size != config.vocab_size:
        raise CheckpointMismatch(f"{p}: vocab_size is {config.vocab_size} in the config, "
                                 f"{tokenizer.vocab_size} in the tokenizer")
    weight_format: WeightFormat = meta.get("weight_format", "fp32")  # type: ignore[assignment]
    try:
        state = load_file(str(p))
    except (SafetensorError, OSError) as exc:
        raise CheckpointCorrupt(f"{p}: weights are unreadable ({exc}); re-download or re-train") from exc
    try:
        for name, shape in json.loads(meta.get("packed_shapes", "{}")).items():
            state[name] = unpack_ternary(state[name], tuple(shape))
        for name in json.loads(meta.get("int8_embeddings", "[]")):
            state[name] = state.pop(name + ".q8").float() * state.pop(name + ".q8scale")
    except KeyError as exc:
        raise CheckpointCorrupt(f"{p}: quantized tensor {exc.args[0]!r} is missing") from exc
    model = UltraEfficientTextJEPA(config)
    if weight_format != "fp32":
        model = model.export_int8()
    _load_state(p, model, state)
    if for_training and weight_format != "fp32":
        model = dequantize(model, config)
    model.train(for_training)
    digest = file_digest(p)
    extra = json.loads(meta.get("extra", "{}"))
    return Checkpoint(model, tokenizer, config, weight_format, digest, p, extra, _read_serving(p, meta))


def _serving_json(serving: TrainingConfig | Mapping[str, Any] | None) -> str | None:
    """Serving defaults as stored (None: nothing to store); CheckpointMismatch for a key that is not
    in `[completion]` or a value it refuses."""
    if serving is None:
        return None
    values = serving.serving_defaults() if isinstance(serving, TrainingConfig) else dict(serving)
    if not values:
        return None
    unknown = sorted(set(values) - set(CompletionConfig.model_fields))
    if unknown:
        raise CheckpointMismatch(f"serving: {unknown} are not [completion] keys")
    try:
        CompletionConfig.model_validate(values)
    except ValidationError as exc:
        raise CheckpointMismatch(f"serving: {exc}") from exc
    return json.dumps(values, sort_keys=True)


def _read_serving(path: Path, meta: dict[str, str]) -> dict[str, Any]:
    """The stored serving defaults this Shutka knows (a newer one's extra keys are left out)."""
    if "serving" not in meta:
        return {}
    try:
        values = json.loads(meta["serving"])
        if not isinstance(values, dict):
            raise ValueError("not a JSON object")
        known = {key: value for key, value in values.items() if key in CompletionConfig.model_fields}
        CompletionConfig.model_validate(known)
    except ValueError as exc:  # JSON and pydantic errors alike
        raise CheckpointCorrupt(f"{path}: stored serving defaults are invalid ({exc})") from exc
    return known


def _compare_configs(path: Path, expect: ModelConfig, got: ModelConfig) -> None:
    for key in ModelConfig.model_fields:
        a, b = getattr(expect, key), getattr(got, key)
        if a != b:
            raise CheckpointMismatch(f"{path}: config key {key!r} is {b!r} in the checkpoint but {a!r} "
                                     "is expected; use a checkpoint built for this config")


def _load_state(path: Path, model: UltraEfficientTextJEPA, state: dict[str, Tensor]) -> None:
    check_weights_fit(path, model, state)
    model.load_state_dict(state, strict=False)


def check_weights_fit(path: str | os.PathLike[str], model: UltraEfficientTextJEPA, state: Mapping[str, Tensor], *,
                      check_dtype: bool = True) -> None:
    """Raise CheckpointMismatch naming the first difference unless `state` (read from `path`) holds exactly
    the model's tensors (the tied token head may be absent) with its shapes (and dtypes)."""
    expected = model.state_dict()
    tied = {"head.weight"} if getattr(model.head, "weight", None) is model.trunk.embed.weight else set()
    missing = sorted(set(expected) - set(state) - tied)
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointMismatch(f"{path}: weights do not fit the model (missing: {missing[:5]}, "
                                 f"unexpected: {unexpected[:5]})")
    for name, tensor in state.items():
        want = expected[name]
        if tuple(tensor.shape) != tuple(want.shape) or (check_dtype and tensor.dtype != want.dtype):
            raise CheckpointMismatch(f"{path}: tensor {name!r} is {tuple(tensor.shape)} {tensor.dtype} in "
                                     f"the file, the model expects {tuple(want.shape)} {want.dtype}")


def dequantize(quantized: UltraEfficientTextJEPA, config: ModelConfig) -> UltraEfficientTextJEPA:
    """A float model whose linear weights are the int8 weights × scales (to fine-tune a shipped model)."""
    from assistant.model.quant import Int8Linear

    model = UltraEfficientTextJEPA(config)
    float_state = model.state_dict()
    for name, module in quantized.named_modules():
        if isinstance(module, Int8Linear):
            w = module.weight_t.t().float() * module.weight_scale.t()
            float_state[f"{name}.weight"] = w
            if module.bias is not None:
                float_state[f"{name}.bias"] = module.bias
    for name, tensor in quantized.state_dict().items():
        if name in float_state and tensor.dtype.is_floating_point and tensor.shape == float_state[name].shape:
            float_state[name] = tensor
    if "head.weight" in float_state:
        float_state["trunk.embed.weight"] = float_state["head.weight"]
    model.load_state_dict(float_state)
    model.head.weight = model.trunk.embed.weight
    return model


# -- where the default model lives ------------------------------------------------------------------


def bundled_checkpoint() -> Path:
    """The default checkpoint shipped inside the package."""
    return Path(__file__).resolve().parent / "default_model" / DEFAULT_CHECKPOINT_NAME


def resolve_checkpoint(path: str | os.PathLike[str] | None = None) -> Path:
    """An explicit path, else $SHUTKA_CHECKPOINT, else SHUTKA_HOME/models/default, else the bundled one.

    A checkpoint named explicitly (argument or environment) that does not exist is an error, never a
    silent fall back to another model."""
    explicit = [(Path(path), "")] if path else []
    if os.environ.get(ENV_CHECKPOINT):
        explicit.append((Path(os.environ[ENV_CHECKPOINT]), f" (from ${ENV_CHECKPOINT})"))
    if explicit:
        chosen, origin = explicit[0]
        if chosen.is_dir():
            inside = sorted(p.name for p in chosen.glob("*.safetensors") if ".ranker" not in p.name)
            example = chosen / (inside[0] if inside else DEFAULT_CHECKPOINT_NAME)
            raise CheckpointCorrupt(f"{chosen}: is a directory{origin}, not a checkpoint: pass the checkpoint file "
                                    f"itself, one .safetensors file written by `shutka train` (e.g. {example})")
        if not chosen.is_file():
            raise CheckpointCorrupt(f"{chosen}: checkpoint not found{origin}")
        return chosen
    for candidate in (shutka_home() / "models" / DEFAULT_CHECKPOINT_NAME, bundled_checkpoint()):
        if candidate.is_file():
            return candidate
    raise CheckpointCorrupt("no checkpoint found: the bundled default model is missing from this install; "
                            "reinstall shutka or pass --checkpoint")
