"""Training settings: the Kaggle-workflow `TrainingConfig` (`[train]`) plus three sections of ours,
grouped by concern — `[data]` (sources, caps, split, views), `[optim]` (AdamW, schedules, loss weights)
and `[run]` (device, precision, cadence, budgets) — loaded from one TOML file, overridden by CLI flags,
validated before any work starts, and saved with every resume file.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Self, TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assistant.config import TrainingConfig
from indexer.errors import ConfigError
from training.data.source_spec import SourceSpec

log = logging.getLogger(__name__)

_SECTION = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

Phase = Literal["phase1", "phase2"]
SECTIONS = ("train", "data", "optim", "run")
"""Tables of a training TOML file: `[train]` is TrainingConfig, the others are ours."""

TOKENIZER_VOCAB = {"tiny": 2048, "small": 8192, "base": 8192}
"""Vocabulary of a tokenizer trained by a run, per model size (the tiny model cannot afford 8192 rows)."""

DEFAULT_SOURCES: tuple[str, ...] = ("hf:bleugreen/typescript-chunks",)
"""Code read when a run names no source at all (the Kaggle guide's commands pass none): TypeScript from
the Hugging Face hub, streamed, no login — 89k functions, classes, interfaces and types (with their leading
comments) cut from the TypeScript files of The Stack (permissively licensed code); columns content, repo,
path. Phase 1 and phase 2 both read it."""
DEFAULT_INSTRUCTION_SOURCES: tuple[str, ...] = ("hf:ise-uiuc/Magicoder-OSS-Instruct-75K?lang=typescript",)
"""Instruction → code pairs read by a phase 2 that names no source at all: Magicoder OSS-Instruct (MIT,
no login; columns problem, solution, lang), its TypeScript rows; the code is taken from the solution's
fenced blocks. Phase 2 also mines JSDoc → implementation pairs from DEFAULT_SOURCES."""


class DataConfig(BaseModel):
    """`[data]`: where examples come from and how they are cut."""

    model_config = _SECTION

    sources: tuple[str, ...] = ()
    """Code sources: a folder of .ts/.tsx (one sub-folder per package), a .json/.jsonl/.parquet file,
    `hf:owner/name[:config][?split=train&data_dir=…&column=…&lang=…]`, or `workspace:PATH` (an indexed
    workspace). The training commands read DEFAULT_SOURCES when neither this nor instruction_sources is set."""
    instruction_sources: tuple[str, ...] = ()
    """Phase 2: tables or hub datasets with instruction/output-like columns (phase 2 with no source at all:
    DEFAULT_INSTRUCTION_SOURCES)."""
    extensions: tuple[str, ...] = (".ts", ".tsx", ".mts", ".cts")
    """File extensions read from folders and workspaces."""
    max_samples: int | None = Field(None, ge=1)
    """Code documents (files / rows) kept at most, sampled by path hash after the per-package caps (phase 2:
    JSDoc pairs are still mined from every kept file)."""
    instruction_samples: int | None = Field(None, ge=0)
    """Phase 2: instruction pairs kept at most (hub/table pairs first, then mined JSDoc pairs)."""
    max_lines_per_package: int | None = Field(60_000, ge=1)
    """Lines one package may contribute (whole files, in path-hash order): one big package must not set the style."""
    max_files_per_package: int | None = Field(None, ge=1)
    """Files one package may contribute."""
    max_file_bytes: int = Field(1_000_000, ge=1_000)
    """Larger inputs are skipped and counted as too long."""
    max_file_lines: int = Field(20_000, ge=10)
    """Inputs with more lines are skipped and counted as too long (generated code)."""
    max_line_chars: int = Field(1_000, ge=80)
    """An input with a longer line is minified or generated: skipped and counted as too long."""
    val_file_fraction: float = Field(0.05, ge=0.0, lt=1.0)
    """Share of files (by hash of package/path) held out for validation."""
    val_package_fraction: float = Field(0.0, ge=0.0, lt=1.0)
    """Share of packages (by hash of the package name) held out whole for validation."""
    val_packages: tuple[str, ...] = ()
    """Packages always held out whole (out-of-package validation)."""
    targets_per_sequence: int = Field(4, ge=1, le=32)
    """JEPA target slots per phase-1 sequence."""
    max_target_tokens: int = Field(32, ge=4)
    """Target spans (a line, a body start, a code span) are cut to this many tokens, marker included."""
    min_target_chars: int = Field(4, ge=1)
    """A target line needs this many non-blank characters (and a letter or digit)."""
    line_weight: float = Field(0.5, ge=0.0)
    """Relative share of prefix → next line targets."""
    body_weight: float = Field(0.25, ge=0.0)
    """Relative share of signature/JSDoc → body targets."""
    use_weight: float = Field(0.25, ge=0.0)
    """Relative share of declaration → use targets."""
    fim_rate: float = Field(0.3, ge=0.0, le=1.0)
    """Share of phase-1 sequences transformed to fill-in-the-middle."""
    fim_max_lines: int = Field(3, ge=1)
    """A FIM middle runs from inside a line to the end of at most this many lines."""
    mine_pairs: bool = True
    """Phase 2: mine JSDoc/comment → implementation pairs from the code sources."""
    min_doc_words: int = Field(3, ge=1)
    """A mined comment needs this many words to become an instruction."""
    max_instruction_tokens: int = Field(96, ge=8)
    """Instructions are cut to this many tokens."""
    vocab_size: int | None = Field(None, ge=320)
    """Vocabulary of a tokenizer trained by this run; None = by model size (tiny 2048, else 8192)."""
    tokenizer_max_chars: int = Field(20_000_000, ge=10_000)
    """Training-split characters the tokenizer learns from at most."""
    num_workers: int = Field(0, ge=0)
    """DataLoader worker processes (0 = build batches in the training process)."""

    @model_validator(mode="after")
    def _weights(self) -> Self:
        if self.line_weight + self.body_weight + self.use_weight <= 0:
            raise ValueError("line_weight + body_weight + use_weight must be > 0")
        return self


class OptimConfig(BaseModel):
    """`[optim]`: AdamW, the learning-rate and EMA schedules, and the loss weights."""

    model_config = _SECTION

    weight_decay: float = Field(0.1, ge=0.0, le=1.0)
    """AdamW decay on matrices (never on norms, biases or embeddings)."""
    beta1: float = Field(0.9, ge=0.0, lt=1.0)
    beta2: float = Field(0.95, ge=0.0, lt=1.0)
    eps: float = Field(1e-8, gt=0.0)
    warmup_steps: int = Field(100, ge=0)
    """Linear warmup from 0 to the peak learning rate (`[train] learning_rate`)."""
    min_lr_ratio: float = Field(0.1, ge=0.0, le=1.0)
    """The cosine ends at peak × this."""
    total_steps: int | None = Field(None, ge=1)
    """Length of the cosine; None = epochs × steps per epoch (max_steps/max_minutes only stop early)."""
    grad_clip: float = Field(1.0, ge=0.0)
    """Clip the global gradient norm to this (0 = off)."""
    accumulation_steps: int = Field(1, ge=1)
    """Micro-batches per optimizer step (per device): global batch = batch_size × this × devices."""
    ema_start: float = Field(0.996, ge=0.0, le=1.0)
    """Target-encoder EMA momentum at step 0 ..."""
    ema_end: float = Field(1.0, ge=0.0, le=1.0)
    """... rising linearly to this at the last step (the target settles as training ends)."""
    jepa_weight: float = Field(1.0, ge=0.0)
    cosine_weight: float = Field(0.5, ge=0.0)
    eau_weight: float = Field(0.1, ge=0.0)


class RunConfig(BaseModel):
    """`[run]`: where and how long a run goes, and what it writes."""

    model_config = _SECTION

    seed: int = 0
    """Seeds model init, data order, views, layer drop and the simulated memories."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """auto = CUDA when available."""
    precision: Literal["auto", "fp32", "fp16"] = "auto"
    """auto = fp16 autocast + GradScaler on CUDA (the T4 has no bf16), fp32 on CPU."""
    num_threads: int = Field(2, ge=1)
    """torch threads on CPU (set explicitly: on a shared 2-core machine more threads are slower)."""
    checkpoint_dir: str = "checkpoints"
    """Where last_<phase>.safetensors, best_model.pt, best_model_titans.pt and metrics.jsonl go."""
    save_every: int = Field(200, ge=1)
    """Write the resume file every this many optimizer steps (and at the end)."""
    eval_every: int = Field(200, ge=1)
    """Validate every this many optimizer steps (and at the end); the best model is kept."""
    eval_batches: int = Field(20, ge=1)
    """Validation batches per evaluation (a fixed subset of the held-out split)."""
    log_every: int = Field(10, ge=1)
    """Append training figures to metrics.jsonl every this many steps."""
    best_metric: Literal["token_loss", "combined"] = "token_loss"
    """Pick the best model by validation token loss, or by token loss + (1 − JEPA top-1 accuracy)."""
    max_steps: int | None = Field(None, ge=1)
    """Stop (saving) after this many optimizer steps in total."""
    max_minutes: float | None = Field(None, gt=0.0)
    """Stop (saving) once this invocation has run this long."""
    progress: bool = True
    """Show the tqdm bar on stderr (rank 0)."""


RESUME_FREE = frozenset({
    "run.num_threads", "run.checkpoint_dir", "run.save_every", "run.eval_every", "run.eval_batches",
    "run.log_every", "run.max_steps", "run.max_minutes", "run.progress", "data.num_workers",
    # serving defaults the checkpoint carries (and where a freestanding bank lives): training never reads them
    "train.miras_confidence_threshold", "train.use_hoprag", "train.hoprag_max_hops", "train.memory_bank_dir",
})
"""Settings a resumed run may change: budgets, cadence, plumbing and what only serving reads, never what
is computed."""


@dataclass(frozen=True)
class Settings:
    """Everything a run needs, validated; saved as JSON inside each resume file."""

    train: TrainingConfig
    data: DataConfig
    optim: OptimConfig
    run: RunConfig
    origin: str = "defaults"
    defaulted: tuple[str, ...] = ()
    """Sources filled in from DEFAULT_SOURCES / DEFAULT_INSTRUCTION_SOURCES because none was given."""

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: json.loads(getattr(self, name).model_dump_json()) for name in SECTIONS}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str = "resume file") -> Settings:
        return build_settings(data, origin)

    @property
    def tokenizer_vocab(self) -> int:
        return self.data.vocab_size or TOKENIZER_VOCAB[self.train.model_size]

    def with_default_sources(self, phase: Phase) -> Settings:
        """The hub defaults when no source of any kind was given (phase 1: code; phase 2: code and
        instruction pairs); otherwise these settings unchanged. `defaulted` names what was filled in."""
        d = self.data
        if d.sources or d.instruction_sources:
            return self
        update: dict[str, tuple[str, ...]] = {"sources": DEFAULT_SOURCES}
        if phase == "phase2":
            update["instruction_sources"] = DEFAULT_INSTRUCTION_SOURCES
        defaulted = tuple(spec for specs in update.values() for spec in specs)
        return replace(self, data=d.model_copy(update=update), defaulted=defaulted)

    # -- the report ------------------------------------------------------------------------------

    def issues(self, phase: Phase) -> tuple[list[str], list[str]]:
        """(errors, warnings) of our sections for `phase`, beyond what the field types check."""
        errors: list[str] = []
        warnings: list[str] = []
        d, r = self.data, self.run
        if phase == "phase1" and not d.sources:
            errors.append("[data] sources: phase 1 needs code: pass --source DIR|FILE|hf:ID or set sources")
        if phase == "phase2" and not (d.sources or d.instruction_sources):
            errors.append("[data] sources / instruction_sources: phase 2 needs code or instruction pairs")
        for field in ("sources", "instruction_sources"):
            for spec in getattr(d, field):
                try:
                    SourceSpec.parse(spec).check()
                except ConfigError as exc:
                    errors.append(f"[data] {field}: {exc}")
        if d.val_file_fraction + d.val_package_fraction >= 0.9:
            errors.append("[data] val_file_fraction + val_package_fraction must stay below 0.9")
        if d.val_file_fraction == 0 and d.val_package_fraction == 0 and not d.val_packages:
            warnings.append("[data] nothing is held out for validation: best_model.pt follows the training loss")
        if d.max_target_tokens > self.train.max_seq_len:
            errors.append(f"[data] max_target_tokens ({d.max_target_tokens}) exceeds [train] max_seq_len "
                          f"({self.train.max_seq_len})")
        if d.max_instruction_tokens > self.train.max_seq_len // 2:
            errors.append(f"[data] max_instruction_tokens ({d.max_instruction_tokens}) must leave half of "
                          f"max_seq_len ({self.train.max_seq_len}) for the code")
        if self.data.vocab_size and self.data.vocab_size > 65_536:
            warnings.append(f"[data] vocab_size {self.data.vocab_size} is far above what the model sizes use")
        cuda = _cuda_available()
        if r.device == "cuda" and not cuda:
            errors.append("[run] device: 'cuda' was asked for but CUDA is not available (use auto or cpu)")
        if r.precision == "fp16" and (r.device == "cpu" or not cuda):
            errors.append("[run] precision: fp16 needs a CUDA device (fp16 autocast + GradScaler); "
                          "use fp32 or auto on CPU")
        if r.num_threads > (os.cpu_count() or 1):
            warnings.append(f"[run] num_threads {r.num_threads} exceeds the {os.cpu_count()} CPUs here")
        if self.optim.ema_end < self.optim.ema_start:
            warnings.append("[optim] ema_end < ema_start: the target encoder will move faster as training ends")
        if r.eval_every < r.log_every:
            warnings.append("[run] eval_every < log_every: validation will dominate the run time")
        return errors, warnings

    def print_validation_report(self, phase: Phase, file: TextIO | None = None) -> bool:
        """TrainingConfig's report, then our sections and their checks; True when nothing is an error."""
        out = file or sys.stdout
        ok = self.train.print_validation_report(out)
        errors, warnings = self.issues(phase)
        print(f"Shutka {phase} settings ({self.origin})", file=out)
        for name in ("data", "optim", "run"):
            section = getattr(self, name)
            for key in type(section).model_fields:
                print(f"  [{name}] {key:24s} = {getattr(section, key)!r}", file=out)
        if self.defaulted:
            print(f"NOTE    no --source given: reading the default hub dataset(s) {', '.join(self.defaulted)} "
                  "(pass --source DIR|FILE|hf:ID to train on your own TypeScript)", file=out)
        for msg in errors:
            print(f"ERROR   {msg}", file=out)
        for msg in warnings:
            print(f"WARNING {msg}", file=out)
        print("settings OK" if not errors else f"{len(errors)} error(s) in the settings", file=out)
        return ok and not errors

    def resume_differences(self, stored: Settings) -> list[str]:
        """Keys (section.field) whose values differ from `stored`, except RESUME_FREE ones."""
        mine, theirs = self.to_dict(), stored.to_dict()
        out = []
        for section in SECTIONS:
            for key in sorted(set(mine[section]) | set(theirs[section])):
                name = f"{section}.{key}"
                if name not in RESUME_FREE and mine[section].get(key) != theirs[section].get(key):
                    out.append(f"{name} is {theirs[section].get(key)!r} in the resume file but "
                               f"{mine[section].get(key)!r} now")
        return out


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


# -- loading -------------------------------------------------------------------------------------


def preset_names() -> list[str]:
    folder = resources.files("training") / "presets"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def resolve_config_path(value: str | Path) -> Path:
    """A TOML path, or the name of a bundled preset (`tiny_cpu`, `default_cpu`, `kaggle_t4`, ...)."""
    path = Path(value)
    if path.is_file():
        return path
    name = str(value).removesuffix(".toml")
    if name in preset_names():
        return Path(str(resources.files("training") / "presets" / f"{name}.toml"))
    raise ConfigError(f"{value}: no such config file or preset (presets: {', '.join(preset_names())})")


def read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    flat = {k: v for k, v in data.items() if not isinstance(v, dict)}
    if flat:  # a plain TrainingConfig file (keys at the top, as TrainingConfig.from_toml reads it)
        data = {k: v for k, v in data.items() if isinstance(v, dict)}
        clash = sorted(set(flat) & set(data.get("train", {})))
        if clash:
            raise ConfigError(f"{path}: {', '.join(clash)} given both at the top level and in [train]")
        data["train"] = {**data.get("train", {}), **flat}
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown table(s) {', '.join(f'[{u}]' for u in unknown)} "
                          f"(valid: {', '.join(f'[{s}]' for s in SECTIONS)}; top-level keys are [train] fields)")
    return data


def build_settings(data: dict[str, Any], origin: str) -> Settings:
    """Validate every section; a wrong key, type or range raises ConfigError listing every problem."""
    schemas: dict[str, type[BaseModel]] = {"train": TrainingConfig, "data": DataConfig,
                                           "optim": OptimConfig, "run": RunConfig}
    built: dict[str, Any] = {}
    problems: list[str] = []
    for name, schema in schemas.items():
        try:
            built[name] = schema.model_validate(data.get(name, {}))
        except ValidationError as exc:
            for err in exc.errors():
                key = ".".join(str(part) for part in err["loc"]) or "(table)"
                got = f" (got {err['input']!r})" if "input" in err and not isinstance(err["input"], dict) else ""
                problems.append(f"[{name}] {key}: {err['msg']}{got}")
    if problems:
        raise ConfigError(f"{origin}: " + "; ".join(problems))
    return Settings(built["train"], built["data"], built["optim"], built["run"], origin)


def load_settings(config: str | Path | None = None,
                  overrides: dict[str, dict[str, Any]] | None = None) -> Settings:
    """Settings from a TOML file (or a preset name; None = defaults) with per-section overrides on top.

    Overrides whose value is None are ignored (an option the user did not pass)."""
    data: dict[str, dict[str, Any]] = {}
    origin = "defaults"
    if config is not None:
        path = resolve_config_path(config)
        data = read_toml(path)
        origin = str(path)
    for section, values in (overrides or {}).items():
        if section not in SECTIONS:
            raise ConfigError(f"unknown settings section {section!r}")
        table = dict(data.get(section, {}))
        table.update({k: v for k, v in values.items() if v is not None})
        data[section] = table
    return build_settings(data, origin)
