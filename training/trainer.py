"""The trainer: AdamW with warmup + cosine, the slow EMA target encoder, gradient accumulation and
clipping, fp16 autocast + GradScaler on CUDA, data parallelism over ranks, validation with best-model
keeping, atomic resume files, and step/time budgets.

One optimizer step (`train_step`) reads as the algorithm:
  1. per micro-batch: online trunk → token loss + JEPA (InfoNCE + cosine against the target encoder) + EAU
  2. backward, accumulating gradients; then average them over ranks
  3. clip, AdamW step (through the GradScaler)
  4. move the target encoder toward the online trunk (EMA, momentum from its schedule)

Randomness inside a step (layer drop, the simulated retrieval/Titans slots) is drawn from generators
seeded by (seed, step, micro-batch slice), so results do not depend on the number of ranks or on resuming.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from assistant.errors import CheckpointMismatch
from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.tokenizer import TypeScriptTokenizer
from training.checkpointing import (
    CHECKPOINT_TITANS,
    ResumeFile,
    TrainState,
    resume_path,
    save_best,
    save_resume,
)
from training.config import Phase, Settings
from training.data.hashing import stable_hash
from training.data.loaders import BatchPlan, RankSampler, TrainData, ValSampler
from training.distributed import DistContext, agree, all_reduce_gradients, all_reduce_sum
from training.errors import DataError
from training.monitor import Monitor
from training.objectives import JepaBatch, Losses, compute_losses, token_loss
from training.schedules import LinearMomentum, WarmupCosine

log = logging.getLogger(__name__)

FIGURES = ("loss", "token", "jepa", "cosine", "eau", "jepa_acc", "emb_std", "eff_rank", "complexity", "skipped",
           "eau_skip")
"""Per-step figures averaged over micro-batches and ranks (metrics missing in a micro-batch count as 0).
`skipped`: share of passes whose middle blocks were dropped (layer drop, training only); `eau_skip`: share
of rows the EAU would send down the block-skipping path (complexity < skip_threshold), as at inference."""


def build_optimizer(model: nn.Module, settings: Settings) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices only — never on norms, biases or embeddings (the tied head included)."""
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    decay, no_decay, seen = [], [], set()
    for p in model.parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (decay if p.ndim >= 2 and id(p) not in embeddings else no_decay).append(p)
    o = settings.optim
    groups = [{"params": decay, "weight_decay": o.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=settings.train.learning_rate, betas=(o.beta1, o.beta2), eps=o.eps,
                             foreach=False)


@dataclass
class FitResult:
    steps: int
    stop_reason: str
    best_metric: float | None
    history: list[dict[str, float]] = field(default_factory=list)
    validations: list[dict[str, float]] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    """What the run left behind, by role (model, titans, resume, checkpoint titans, metrics, bundle …)."""
    notes: list[str] = field(default_factory=list)
    """What it did not write and why (e.g. no Titans files: use_titans is off)."""


class Trainer:
    def __init__(self, model: UltraEfficientTextJEPA, tokenizer: TypeScriptTokenizer, data: TrainData,
                 settings: Settings, ctx: DistContext, phase: Phase, extra: dict[str, Any] | None = None) -> None:
        self.settings, self.ctx, self.phase, self.data, self.tokenizer = settings, ctx, phase, data, tokenizer
        self.device = ctx.device
        self.model = model.to(self.device).train()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(self.model, settings)
        o, r = settings.optim, settings.run
        self.plan = BatchPlan(len(data.train), settings.train.batch_size, o.accumulation_steps, ctx.world, r.seed)
        if self.plan.steps_per_epoch == 0:
            raise DataError(f"{len(data.train)} training sequences cannot fill one global batch of "
                            f"{self.plan.global_batch} (batch_size × accumulation_steps × processes): "
                            "add data or lower batch_size")
        self.total_steps = o.total_steps or self.plan.steps_per_epoch * settings.train.num_epochs
        self.lr = WarmupCosine(settings.train.learning_rate, o.warmup_steps, self.total_steps, o.min_lr_ratio,
                               self.optimizer)
        self.momentum = LinearMomentum(o.ema_start, o.ema_end, self.total_steps)
        self.fp16 = self.device.type == "cuda" and r.precision in ("auto", "fp16")
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.fp16)
        self.state = TrainState(phase, world=ctx.world)
        self.out_dir = Path(r.checkpoint_dir)
        self.extra = extra or {}
        self._routed: list[float] = []
        self.model.trunk.register_forward_hook(self._record_routing)

    def _record_routing(self, module: nn.Module, args: Any, output: Any) -> None:
        """The EAU's block-skipping decision per row of each online-trunk pass (read off its output, so
        the objectives stay as they are): the share with complexity below skip_threshold."""
        complexity = getattr(output, "complexity", None)
        if complexity is not None and complexity.numel():
            self._routed.append(float((complexity.detach() < self.model.config.skip_threshold).float().mean()))

    # -- state ---------------------------------------------------------------------------------------

    def restore(self, resume: ResumeFile) -> None:
        """Continue exactly where `resume` stopped (weights, EMA target, AdamW, schedules, scaler, data, RNG)."""
        if resume.state.world != self.ctx.world:
            raise CheckpointMismatch(f"{resume.path}: world size is {resume.state.world} in the resume file but "
                                     f"{self.ctx.world} now (the global batch and data order depend on it); "
                                     "start a new run with --init from a checkpoint instead")
        resume.restore(self.model, self.optimizer)
        self.state = resume.state
        self.lr.count = self.momentum.count = self.state.step
        if self.fp16 and self.state.scaler:
            self.scaler.load_state_dict(self.state.scaler)
        log.info("resumed %s at step %d (epoch %d, batch %d)", resume.path, self.state.step, self.state.epoch,
                 self.state.step_in_epoch)

    def save(self) -> Path | None:
        """The resume file, and checkpoint_titans.pt beside it (the Titans memory at the same moment)."""
        if not self.ctx.is_main:
            return None
        self.state.scaler = self.scaler.state_dict() if self.fp16 else {}
        path = save_resume(resume_path(self.out_dir, self.phase), model=self.model, tokenizer=self.tokenizer,
                           optimizer=self.optimizer, state=self.state, settings=self.settings,
                           data_fingerprint=self.data.fingerprint)
        if self.model.titans is not None:
            self.model.save_titans_memory(self.out_dir / CHECKPOINT_TITANS)
        return path

    # -- one step ------------------------------------------------------------------------------------

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        return torch.autocast("cuda", dtype=torch.float16) if self.fp16 else contextlib.nullcontext()

    def losses(self, batch: JepaBatch, step: int, slice_index: int) -> Losses:
        """compute_losses with this micro-batch's own randomness (layer drop, simulated memory slots)."""
        seed = stable_hash(f"{self.settings.run.seed}:{step}:{slice_index}") & 0x7FFF_FFFF_FFFF
        skip = random.Random(seed).random() < self.model.config.layer_drop if self.model.training else False
        o = self.settings.optim
        with self._autocast():
            return compute_losses(self.model, batch, jepa_weight=o.jepa_weight, cosine_weight=o.cosine_weight,
                                  eau_weight=o.eau_weight, skip=skip, generator=torch.Generator().manual_seed(seed))

    def train_step(self, micro_batches: list[JepaBatch]) -> dict[str, float]:
        """One optimizer step over this rank's micro-batches; returns figures averaged over micro-batches
        and ranks (plus lr, momentum, grad_norm, tokens)."""
        lr = self.lr.step()
        figures = torch.zeros(len(FIGURES) + 1, dtype=torch.float64)
        for i, batch in enumerate(micro_batches):
            batch = batch.to(self.device)
            self._routed.clear()
            losses = self.losses(batch, self.state.step, self.plan.slice_index(i, self.ctx.rank))  # 1.
            self.scaler.scale(losses.total / len(micro_batches)).backward()                         # 2.
            if self._routed:
                losses.metrics["eau_skip"] = self._routed[0]  # the first trunk pass is the online one
            figures += _figures(losses, batch, self.data.pad_id)
        all_reduce_gradients(self.params, self.ctx)
        self.scaler.unscale_(self.optimizer)
        clip = self.settings.optim.grad_clip
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, clip if clip > 0 else math.inf)    # 3.
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        momentum = self.momentum.step()
        self.model.update_target(momentum)                                                          # 4.
        total = all_reduce_sum(figures.to(self.device), self.ctx).cpu()
        n = len(micro_batches) * self.ctx.world
        out = {name: float(total[k]) / n for k, name in enumerate(FIGURES)}
        out.update(lr=lr, momentum=momentum, grad_norm=float(grad_norm), tokens=float(total[-1]))
        return out

    # -- validation ----------------------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Held-out token loss, JEPA loss/accuracy, and the EAU: share of rows it would skip and the token
        loss with the middle blocks skipped (the cost of skipping)."""
        if len(self.data.val) == 0:
            return {}
        self.model.eval()
        sampler = ValSampler(len(self.data.val), self.settings.train.batch_size, self.ctx.rank, self.ctx.world,
                             self.settings.run.eval_batches, self.settings.run.seed)
        sums = torch.zeros(8, dtype=torch.float64)
        threshold = self.model.config.skip_threshold
        for j, batch in enumerate(self.data.loader(sampler, 0)):
            batch = batch.to(self.device)
            with self._autocast():
                losses = self.losses(batch, -1, j * self.ctx.world + self.ctx.rank)
                skipped = self.model.trunk(batch.tokens, skip=True)
                skip_loss, _ = token_loss(self.model.head(skipped.hidden), batch.tokens, batch.loss_mask)
            tokens = float(batch.loss_mask.sum())
            rows = batch.tokens.shape[0]
            would_skip = float((skipped.complexity < threshold).sum()) if skipped.complexity is not None else 0.0
            sums += torch.tensor([float(losses.token) * tokens, tokens, float(losses.jepa) * rows,
                                  losses.metrics.get("jepa_acc", 0.0) * rows, rows,
                                  float(skip_loss) * tokens, would_skip, float(losses.cosine) * rows],
                                 dtype=torch.float64)
        self.model.train()
        s = all_reduce_sum(sums.to(self.device), self.ctx).cpu().tolist()
        tokens, rows = max(s[1], 1.0), max(s[4], 1.0)
        return {"val_token_loss": s[0] / tokens, "val_jepa_loss": s[2] / rows, "val_jepa_acc": s[3] / rows,
                "val_cosine": s[7] / rows, "val_skip_token_loss": s[5] / tokens, "val_skip_rate": s[6] / rows}

    def selection_metric(self, val: dict[str, float]) -> float:
        if self.settings.run.best_metric == "combined":
            return val["val_token_loss"] + (1.0 - val["val_jepa_acc"])
        return val["val_token_loss"]

    def validate(self, monitor: Monitor) -> dict[str, float]:
        """Evaluate; keep best_model.pt (+ Titans) when the selection metric improved."""
        val = self.evaluate()
        if not val:
            if self.ctx.is_main:  # nothing held out: the latest model is the best we know
                save_best(self.out_dir, self.model, self.tokenizer, self._extra({}))
            return {}
        metric = self.selection_metric(val)
        val["selection_metric"] = metric
        monitor.validation(self.state.step, val)
        if self.state.best_metric is None or metric < self.state.best_metric:
            self.state.best_metric, self.state.best_step = metric, self.state.step
            if self.ctx.is_main:
                save_best(self.out_dir, self.model, self.tokenizer, self._extra(val))
        return val

    def _extra(self, val: dict[str, float]) -> dict[str, Any]:
        return {**self.extra, "phase": self.phase, "step": self.state.step, "validation": val,
                "best_metric": self.settings.run.best_metric, "settings": self.settings.to_dict()}

    # -- the loop ------------------------------------------------------------------------------------

    def _stop_reason(self, started: float) -> str | None:
        r = self.settings.run
        reason = None
        if r.max_steps is not None and self.state.step >= r.max_steps:
            reason = "max_steps"
        elif self.state.step >= self.total_steps:
            reason = "total_steps"
        elif r.max_minutes is not None and (time.monotonic() - started) / 60 >= r.max_minutes:
            reason = "max_minutes"
        return reason if agree(reason is not None, self.ctx) else None

    def fit(self) -> FitResult:
        """Train until the epochs, total_steps, max_steps or max_minutes run out; save and validate on the way."""
        r, accum = self.settings.run, self.plan.accumulation
        started = time.monotonic()
        monitor = Monitor(self.out_dir, min(self.total_steps, r.max_steps or self.total_steps), self.state.step,
                          self.device, self.ctx.is_main, r.progress, self.phase)
        result = FitResult(self.state.step, "epochs", None)
        first_step = self.state.step + 1
        stop = self._stop_reason(started)
        try:
            while stop is None and self.state.epoch < self.settings.train.num_epochs:
                sampler = RankSampler(self.plan, self.state.epoch, self.ctx.rank, self.state.step_in_epoch)
                micro: list[JepaBatch] = []
                for batch in self.data.loader(sampler, self.settings.data.num_workers):
                    micro.append(batch)
                    if len(micro) < accum:
                        continue
                    figures = self.train_step(micro)
                    micro = []
                    self.state.step += 1
                    self.state.step_in_epoch += 1
                    self.state.tokens_seen += int(figures["tokens"])
                    step = self.state.step
                    log_now = step % r.log_every == 0 or step == first_step  # the last one: monitor.finish
                    result.history.append(monitor.step(step, figures, int(figures["tokens"]), log_now))
                    if step % r.eval_every == 0:
                        result.validations.append(self.validate(monitor))
                    if step % r.save_every == 0:
                        self.save()
                    stop = self._stop_reason(started)
                    if stop is not None:
                        break
                else:
                    self.state.epoch += 1
                    self.state.step_in_epoch = 0
            if self.state.step % r.eval_every != 0 or not result.validations:
                result.validations.append(self.validate(monitor))
            self.save()
            monitor.finish(self.state.step, {"stop_reason": stop or "epochs", "best_metric": self.state.best_metric,
                                             "best_step": self.state.best_step, "tokens_seen": self.state.tokens_seen})
        finally:
            monitor.close()
        result.steps, result.stop_reason, result.best_metric = self.state.step, stop or "epochs", self.state.best_metric
        log.info("%s stopped after %d steps (%s); best %s = %s at step %s", self.phase, self.state.step,
                 result.stop_reason, r.best_metric, self.state.best_metric, self.state.best_step)
        return result


def _figures(losses: Losses, batch: JepaBatch, pad_id: int) -> torch.Tensor:
    """The FIGURES of one micro-batch (+ its non-pad token count) as a float64 vector."""
    values = {"loss": float(losses.total.detach()), "token": float(losses.token.detach()),
              "jepa": float(losses.jepa.detach()), "cosine": float(losses.cosine.detach()),
              "eau": float(losses.eau.detach()), **losses.metrics}
    row = [values.get(name, 0.0) for name in FIGURES]
    row = [0.0 if isinstance(v, float) and math.isnan(v) else v for v in row]
    return torch.tensor([*row, float((batch.tokens != pad_id).sum())], dtype=torch.float64)
