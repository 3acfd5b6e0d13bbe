"""One training phase end to end: join the process group, read the corpus, get a tokenizer (from the
resume file, the starting checkpoint, or trained on the training split), build the model, resume if
asked, fit, and leave `best_model.pt`, `best_model_titans.pt`, `last_<phase>.safetensors` and
`checkpoint_titans.pt` behind — and, at the end of phase 2, `shutka_v2_bundle.zip` (model, Titans memory,
memory bank) beside --checkpoint_dir, where the Kaggle guide's working folder is.

What a phase starts from:
  phase1  a fresh model (tokenizer trained here), or `init` = a Shutka checkpoint to continue training
  phase2  `init` = the phase-1 checkpoint (`best_model.pt`) — fine-tuning; a fresh model if none
  resume  `last_<phase>.safetensors`: continue the interrupted run exactly (settings and data must match)
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from assistant.errors import CheckpointMismatch
from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.tokenizer import TypeScriptTokenizer
from training.checkpointing import (
    BEST_MODEL,
    BEST_TITANS,
    CHECKPOINT_TITANS,
    ResumeFile,
    carry_best,
    load_resume,
    resume_path,
)
from training.config import Phase, Settings
from training.data.corpus import Corpus, load_corpus
from training.data.loaders import build_rows
from training.distributed import DistContext, barrier, broadcast_module, init_distributed, shutdown
from training.trainer import FitResult, Trainer

log = logging.getLogger(__name__)

TOKENIZER_FILE = "tokenizer.json"


@dataclass(frozen=True)
class Start:
    """Where a phase starts: exactly one of nothing (fresh), `init` (weights) or `resume` (a whole run)."""

    init: Path | None = None
    resume: Path | None = None


def resolve_start(phase: Phase, settings: Settings, resume: str | None, init: str | None) -> Start:
    """`resume="auto"` (a bare --resume): last_<phase> if present, else (phase 2) the phase-1 best_model.pt."""
    out_dir = Path(settings.run.checkpoint_dir)
    if resume == "auto":
        last = resume_path(out_dir, phase)
        if last.is_file():
            return Start(init=Path(init) if init else None, resume=last)
        best = out_dir / BEST_MODEL
        if init is None and best.is_file():
            log.info("no %s to resume: starting %s from %s", last.name, phase, best)
            return Start(init=best)
        if init is None:
            log.warning("--resume: neither %s nor %s exists: starting from scratch", last, best)
        return Start(init=Path(init) if init else None)
    if resume is not None:
        from assistant.checkpoints import read_metadata
        from assistant.errors import CheckpointCorrupt

        path = Path(resume)
        try:
            read_metadata(path)  # a model checkpoint, not a resume file: start from its weights
            return Start(init=path)
        except CheckpointCorrupt:
            return Start(init=Path(init) if init else None, resume=path)  # load_resume says what is wrong
    return Start(init=Path(init) if init else None)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def train_tokenizer(corpus: Corpus, settings: Settings, out_dir: Path, ctx: DistContext) -> TypeScriptTokenizer:
    """Rank 0 learns the vocabulary from the training split only; the other ranks read its file."""
    path = out_dir / TOKENIZER_FILE
    if ctx.is_main:
        texts, budget = [], settings.data.tokenizer_max_chars
        for record in [*corpus.train, *corpus.train_pairs]:
            text = record.text if hasattr(record, "text") else f"{record.instruction}\n{record.code}"
            texts.append(text)
            budget -= len(text)
            if budget <= 0:
                break
        tokenizer = TypeScriptTokenizer.train(texts, vocab_size=settings.tokenizer_vocab)
        out_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(tokenizer.to_json(), encoding="utf-8")
        log.info("trained a %d-token vocabulary on %d training texts", tokenizer.vocab_size, len(texts))
    barrier(ctx)
    return tokenizer if ctx.is_main else TypeScriptTokenizer.from_json(path.read_text(encoding="utf-8"))


def build_model(settings: Settings, vocab_size: int, init: Path | None) -> tuple[UltraEfficientTextJEPA, str]:
    """A fresh model of the configured size, or `init`'s weights (architecture from the checkpoint,
    gradient checkpointing from the settings); -> (model, where it came from)."""
    if init is None:
        return UltraEfficientTextJEPA(settings.train, vocab_size=vocab_size), "fresh"
    from assistant.checkpoints import load_checkpoint

    ckpt = load_checkpoint(init, for_training=True)
    wanted = settings.train.to_model_config(vocab_size=ckpt.config.vocab_size)
    for key in ("d_model", "n_layers", "n_heads", "latent_dim", "use_titans", "titans_depth"):
        if getattr(wanted, key) != getattr(ckpt.config, key):
            raise CheckpointMismatch(f"{init}: {key} is {getattr(ckpt.config, key)!r} in the checkpoint but the "
                                     f"settings ask for {getattr(wanted, key)!r} (model_size "
                                     f"{settings.train.model_size!r}): use the phase-1 settings")
    config = ckpt.config.model_copy(update={"gradient_checkpointing": settings.train.gradient_checkpointing})
    model = UltraEfficientTextJEPA(config)
    model.load_state_dict(ckpt.model.state_dict())
    return model, str(init)


def run_phase(phase: Phase, settings: Settings, *, resume: str | None = None, init: str | None = None,
              init_method: str | None = None) -> FitResult:
    """Run one phase (see the module docstring); every rank of a torchrun job calls this."""
    ctx = init_distributed(settings.run.device, init_method)
    try:
        if ctx.device.type == "cpu":
            torch.set_num_threads(settings.run.num_threads)
        seed_everything(settings.run.seed)
        out_dir = Path(settings.run.checkpoint_dir)
        start = resolve_start(phase, settings, resume, init)
        resumed: ResumeFile | None = load_resume(start.resume) if start.resume else None
        if resumed is not None:
            resumed.check(settings)  # before reading any data: a wrong file fails in seconds
        corpus = load_corpus(settings.data, phase)
        if resumed is not None:
            tokenizer = resumed.tokenizer
        elif start.init is not None:
            from assistant.checkpoints import read_metadata

            tokenizer = TypeScriptTokenizer.from_json(read_metadata(start.init)["tokenizer"])
        else:
            tokenizer = train_tokenizer(corpus, settings, out_dir, ctx)
        data = build_rows(corpus, tokenizer, settings, phase)
        if resumed is not None:
            resumed.check(settings, data.fingerprint)
        if ctx.is_main:
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / f"data_{phase}.json").write_text(json.dumps(data.stats, indent=2), encoding="utf-8")
        torch.manual_seed(settings.run.seed)
        if resumed is not None:
            model = UltraEfficientTextJEPA(resumed.model_config)
            origin = f"resume {start.resume}"
        else:
            model, origin = build_model(settings, tokenizer.vocab_size, start.init)
        broadcast_module(model.to(ctx.device), ctx)
        log.info("%s: %s model with %.2fM trainable parameters (%s) on %s × %d", phase,
                 settings.train.model_size, model.num_parameters() / 1e6, origin, ctx.device, ctx.world)
        extra = {"started_from": origin, "data_fingerprint": data.fingerprint,
                 "data": {"sources": list(settings.data.sources),
                          "instruction_sources": list(settings.data.instruction_sources)}}
        trainer = Trainer(model, tokenizer, data, settings, ctx, phase, extra)
        if resumed is not None:
            trainer.restore(resumed)
            if ctx.is_main:
                carry_best(resumed.path.parent, out_dir)
        result = trainer.fit()
        if ctx.is_main:
            record_files(result, phase, out_dir, model)
            if phase == "phase2":
                write_bundle(result, out_dir, corpus, settings)
        barrier(ctx)  # tear the group down together: a rank that left first made gloo abort the other (1 run in 6)
        return result
    finally:
        shutdown(ctx)


def record_files(result: FitResult, phase: Phase, out_dir: Path, model: UltraEfficientTextJEPA) -> None:
    """Name what the phase wrote (and what it did not) in `result` for the summary."""
    result.files["model"] = out_dir / BEST_MODEL
    if model.titans is not None:
        result.files["titans"] = out_dir / BEST_TITANS
    result.files["resume"] = resume_path(out_dir, phase)
    if model.titans is not None:
        result.files["resume titans"] = out_dir / CHECKPOINT_TITANS
    else:
        result.notes.append(f"use_titans is off: the model has no Titans memory, so no {BEST_TITANS} or "
                            f"{CHECKPOINT_TITANS} was written")
    result.files["metrics"] = out_dir / "metrics.jsonl"


def write_bundle(result: FitResult, out_dir: Path, corpus: Corpus, settings: Settings) -> Path:
    """shutka_v2_bundle.zip beside --checkpoint_dir: best_model.pt, its Titans memory and a memory bank —
    the guide's `memory_bank/` beside --checkpoint_dir when it exists, else one built here from the
    held-out split's code (the training split's, or the instruction pairs' code, when nothing is held out)."""
    from training.bundle import BANK_DIR, DEFAULT_NAME, build_bank, pack

    best = out_dir / BEST_MODEL
    titans = out_dir / BEST_TITANS if (out_dir / BEST_TITANS).is_file() else None
    bank = out_dir.parent / BANK_DIR
    if bank.is_dir():
        result.notes.append(f"packed the existing memory bank {bank}")
    else:
        bank = out_dir / BANK_DIR
        docs = corpus.val or corpus.train
        files = [(d.key, d.text) for d in docs] or [(p.key, p.code) for p in corpus.val_pairs or corpus.train_pairs]
        entries = build_bank(best, files, bank, num_threads=settings.run.num_threads)
        result.notes.append(f"built a {entries}-entry memory bank from the "
                            f"{'held-out' if corpus.val else 'training'} code with the trained model")
    bundle = pack(best, out_dir.parent / DEFAULT_NAME, titans=titans, bank=bank)
    result.files["memory bank"] = bank
    result.files["bundle"] = bundle
    log.info("wrote %s (%.1f MiB)", bundle, bundle.stat().st_size / 2**20)
    return bundle
