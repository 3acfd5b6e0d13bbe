"""Resume files: one safetensors file with the model (online and EMA target weights), the AdamW state
and the RNG states as tensors, and everything else as JSON metadata (step, data position, schedules,
GradScaler, Python/NumPy RNG, best metric, settings, model config, tokenizer, data fingerprint).
Nothing is pickled. Written atomically (temp file + rename); reading fails loudly on a file that is
unreadable (CheckpointCorrupt) or was written for other settings, model or data (CheckpointMismatch,
naming the key and both values).

The best model is a regular Shutka checkpoint (`assistant.checkpoints.save_checkpoint`) named
`best_model.pt` as the Kaggle workflow expects, beside `best_model_titans.pt` (the Titans memory). Each
resume file is written with `checkpoint_titans.pt` beside it: the Titans memory at that same moment.
"""

from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor

from assistant.checkpoints import check_weights_fit
from assistant.config import ModelConfig, TrainingConfig
from assistant.errors import CheckpointCorrupt, CheckpointMismatch
from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.tokenizer import TypeScriptTokenizer
from indexer.errors import ConfigError
from training.config import Settings

log = logging.getLogger(__name__)

RESUME_FORMAT = "shutka-train-state"
RESUME_VERSION = "1"
BEST_MODEL = "best_model.pt"
BEST_TITANS = "best_model_titans.pt"
CHECKPOINT_TITANS = "checkpoint_titans.pt"
"""The Titans memory when the resume file (`last_<phase>.safetensors`) was last written."""


def resume_path(checkpoint_dir: str | Path, phase: str) -> Path:
    return Path(checkpoint_dir) / f"last_{phase}.safetensors"


@dataclass
class TrainState:
    """The scalars of a run (JSON): where it is, and what it has seen."""

    phase: str
    step: int = 0
    """Optimizer steps done."""
    epoch: int = 0
    step_in_epoch: int = 0
    """Data position: optimizer steps done within `epoch` (the next batch is this one)."""
    tokens_seen: int = 0
    world: int = 1
    """Processes that trained it: the data order (and the global batch) depend on it."""
    best_metric: float | None = None
    best_step: int | None = None
    scaler: dict[str, Any] = field(default_factory=dict)
    python_rng: list[Any] | None = None
    numpy_rng: dict[str, Any] | None = None


# -- RNG ------------------------------------------------------------------------------------------------


def capture_rng(state: TrainState, tensors: dict[str, Tensor]) -> None:
    """Python and NumPy generators into `state`, torch (CPU and CUDA) into `tensors`."""
    version, internal, gauss = random.getstate()
    state.python_rng = [version, list(internal), gauss]
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state.numpy_rng = {"name": name, "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)}
    tensors["rng/numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = s


def restore_rng(state: TrainState, tensors: dict[str, Tensor]) -> None:
    if state.python_rng is not None:
        version, internal, gauss = state.python_rng
        random.setstate((version, tuple(internal), gauss))
    if state.numpy_rng is not None and "rng/numpy" in tensors:
        n = state.numpy_rng
        keys = tensors["rng/numpy"].numpy().astype(np.uint32)
        np.random.set_state((n["name"], keys, n["pos"], n["has_gauss"], n["cached"]))
    if "rng/torch" in tensors:
        torch.set_rng_state(tensors["rng/torch"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng/cuda/"))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])


# -- optimizer --------------------------------------------------------------------------------------------


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], list[dict[str, Any]]]:
    """AdamW state as flat tensors `optim/{param}/{name}` plus JSON-able param groups."""
    sd = optimizer.state_dict()
    tensors = {f"optim/{idx}/{name}": value.detach().cpu().contiguous()
               for idx, slots in sd["state"].items() for name, value in slots.items()
               if isinstance(value, Tensor)}
    return tensors, sd["param_groups"]


def load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor], groups: list[dict[str, Any]],
                   path: Path) -> None:
    current = optimizer.state_dict()["param_groups"]
    if [len(g["params"]) for g in groups] != [len(g["params"]) for g in current]:
        raise CheckpointMismatch(f"{path}: optimizer groups hold {[len(g['params']) for g in groups]} "
                                 f"parameters in the resume file but {[len(g['params']) for g in current]} now")
    state: dict[int, dict[str, Tensor]] = {}
    for key, value in tensors.items():
        _, idx, name = key.split("/", 2)
        state.setdefault(int(idx), {})[name] = value
    for group in groups:
        for k in ("betas",):
            if k in group:
                group[k] = tuple(group[k])
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as exc:
        raise CheckpointMismatch(f"{path}: optimizer state does not fit this model ({exc})") from exc


# -- the resume file ------------------------------------------------------------------------------------


def _model_tensors(model: UltraEfficientTextJEPA) -> dict[str, Tensor]:
    out, seen = {}, set()
    for name, t in model.state_dict().items():
        ptr = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))
        if ptr in seen:
            continue  # the tied head is the embedding
        seen.add(ptr)
        out[f"model/{name}"] = t.detach().cpu().contiguous()
    return out


def save_resume(path: Path, *, model: UltraEfficientTextJEPA, tokenizer: TypeScriptTokenizer,
                optimizer: torch.optim.Optimizer, state: TrainState, settings: Settings,
                data_fingerprint: str) -> Path:
    """Write the resume file atomically; returns its path."""
    tensors = _model_tensors(model)
    opt_tensors, groups = optimizer_tensors(optimizer)
    tensors.update(opt_tensors)
    capture_rng(state, tensors)
    metadata = {
        "format": RESUME_FORMAT,
        "version": RESUME_VERSION,
        "state": json.dumps(asdict(state)),
        "param_groups": json.dumps(groups),
        "settings": settings.to_json(),
        "model_config": model.config.model_dump_json(),
        "tokenizer": tokenizer.to_json(),
        "data_fingerprint": data_fingerprint,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    return path


@dataclass
class ResumeFile:
    """A read resume file, checked for format; `check()` compares it with the run about to continue."""

    path: Path
    state: TrainState
    settings: Settings
    model_config: ModelConfig
    tokenizer: TypeScriptTokenizer
    data_fingerprint: str
    param_groups: list[dict[str, Any]]
    tensors: dict[str, Tensor]

    def model_state(self) -> dict[str, Tensor]:
        return {k.removeprefix("model/"): v for k, v in self.tensors.items() if k.startswith("model/")}

    def check(self, settings: Settings, data_fingerprint: str | None = None) -> None:
        """CheckpointMismatch when settings (other than budgets and cadence) or data differ."""
        diffs = settings.resume_differences(self.settings)
        if diffs:
            raise CheckpointMismatch(f"{self.path}: cannot resume with other settings: {'; '.join(diffs)}")
        if data_fingerprint is not None and data_fingerprint != self.data_fingerprint:
            raise CheckpointMismatch(f"{self.path}: data_fingerprint is {self.data_fingerprint} in the resume "
                                     f"file but {data_fingerprint} now: the sources, caps or split changed")

    def restore(self, model: UltraEfficientTextJEPA, optimizer: torch.optim.Optimizer) -> None:
        """Weights (online and target), AdamW state and RNG states; the caller restores schedules/scaler."""
        state = self.model_state()
        check_weights_fit(self.path, model, state, check_dtype=False)  # the resume file's dtypes may differ
        model.load_state_dict(state, strict=False)
        load_optimizer(optimizer, {k: v for k, v in self.tensors.items() if k.startswith("optim/")},
                       self.param_groups, self.path)
        restore_rng(self.state, self.tensors)


def load_resume(path: str | Path) -> ResumeFile:
    """Read a resume file; CheckpointCorrupt when it is missing, truncated or not ours."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointCorrupt(f"{p}: resume file not found")
    try:
        with safe_open(str(p), framework="pt") as fh:
            meta = fh.metadata() or {}
            if meta.get("format") != RESUME_FORMAT:
                raise CheckpointCorrupt(f"{p}: not a Shutka resume file (format {meta.get('format')!r}); "
                                        f"pass a last_<phase>.safetensors written by `shutka train`")
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open is not a dict)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointCorrupt(f"{p}: unreadable resume file ({exc}); delete it to start over") from exc
    if meta.get("version") != RESUME_VERSION:
        raise CheckpointMismatch(f"{p}: resume format version is {meta.get('version')!r}, "
                                 f"this Shutka reads {RESUME_VERSION!r}")
    try:
        state = TrainState(**json.loads(meta["state"]))
        settings = Settings.from_dict(json.loads(meta["settings"]), origin=str(p))
        config = ModelConfig.model_validate_json(meta["model_config"])
        tokenizer = TypeScriptTokenizer.from_json(meta["tokenizer"])
        groups = json.loads(meta["param_groups"])
    except ConfigError as exc:
        raise CheckpointMismatch(f"{p}: its settings are not valid for this Shutka ({exc})") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointCorrupt(f"{p}: resume metadata is damaged ({exc})") from exc
    return ResumeFile(p, state, settings, config, tokenizer, meta.get("data_fingerprint", ""), groups, tensors)


# -- the best model ------------------------------------------------------------------------------------


def save_best(checkpoint_dir: Path, model: UltraEfficientTextJEPA, tokenizer: TypeScriptTokenizer,
              extra: dict[str, Any]) -> Path:
    """best_model.pt (a safetensors Shutka checkpoint, fp32) and best_model_titans.pt beside it. The run's
    TrainingConfig (`extra["settings"]["train"]`) gives the checkpoint its serving defaults."""
    from assistant.checkpoints import save_checkpoint

    train = (extra.get("settings") or {}).get("train")
    out = save_checkpoint(checkpoint_dir / BEST_MODEL, model, tokenizer, weight_format="fp32", extra=extra,
                          serving=TrainingConfig.from_dict(train) if train else None)
    if model.titans is not None:
        model.save_titans_memory(checkpoint_dir / BEST_TITANS)
    return out


def carry_best(resume_dir: Path, out_dir: Path) -> None:
    """Resuming into another folder (a new Kaggle session reading the last one's output): bring the best
    model along, so best_model.pt exists even if the continued run never beats it."""
    import shutil

    if resume_dir.resolve() == out_dir.resolve():
        return
    for name in (BEST_MODEL, BEST_TITANS):
        if (resume_dir / name).is_file() and not (out_dir / name).exists():
            out_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy2(resume_dir / name, out_dir / name)
