"""`shutka train export`: a trained (fp32) checkpoint -> the inference file a laptop runs.

1. Calibrate block skipping: the EAU's complexity is computed on contexts cut from held-out code;
   `skip_threshold` becomes the quantile that makes `skip_rate` of them skip the middle blocks, and
   the token loss with and without skipping on those contexts is reported (the cost of the saving).
2. Write the int8 export (or ternary-packed for BitNet models): trunk, target trunk and token head in
   int8, embeddings as int8 rows; config, tokenizer and provenance inside.
"""

from __future__ import annotations

import json
import logging
import random
import statistics
from pathlib import Path

import click
import torch
import torch.nn.functional as F

from assistant.checkpoints import load_checkpoint, save_checkpoint
from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.tokenizer import TypeScriptTokenizer

log = logging.getLogger(__name__)

CONTEXT_TOKENS = 192


def calibration_contexts(tokenizer: TypeScriptTokenizer, folder: Path, count: int, seed: int = 0) -> list[list[int]]:
    """`count` token windows ending at random line starts in the .ts files under `folder` (several per
    file, round-robin, so a small held-out package still gives enough)."""
    files = sorted(p for p in folder.rglob("*.ts") if not p.name.endswith(".d.ts") and "node_modules" not in p.parts)
    rng = random.Random(seed)
    texts = [lines for p in files if len(lines := p.read_text(encoding="utf-8", errors="replace").split("\n")) >= 20]
    out: list[list[int]] = []
    for _ in range(count * 4):
        if len(out) >= count or not texts:
            break
        lines = texts[len(out) % len(texts)]
        start = rng.randrange(10, len(lines))
        ids = tokenizer.encode("\n".join(lines[max(0, start - 60) : start]))[-CONTEXT_TOKENS:]
        if len(ids) >= 32:
            out.append(ids)
    return out


@torch.no_grad()
def calibrate_skipping(model: UltraEfficientTextJEPA, contexts: list[list[int]], skip_rate: float) -> dict[str, float]:
    """Choose skip_threshold so `skip_rate` of the contexts skip; report the loss cost."""
    model.eval()
    complexities, full_loss, skip_loss = [], [], []
    for ids in contexts:
        x = torch.tensor([ids])
        out = model.trunk(x, skip=False)
        if out.complexity is None:
            return {"skip_threshold": model.config.skip_threshold, "skip_rate": 0.0}
        complexities.append(float(out.complexity[0]))
        for skip, bucket in ((False, full_loss), (True, skip_loss)):
            logits = model.head(model.trunk(x, skip=skip).hidden)[0, :-1]
            bucket.append(float(F.cross_entropy(logits.float(), x[0, 1:])))
    ordered = sorted(complexities)
    threshold = ordered[min(len(ordered) - 1, int(skip_rate * len(ordered)))] if skip_rate > 0 else 0.0
    chosen = [i for i, c in enumerate(complexities) if c < threshold]
    report = {
        "skip_threshold": threshold,
        "skip_rate": len(chosen) / len(complexities),
        "complexity_median": statistics.median(complexities),
        "loss_full_all": statistics.fmean(full_loss),
        "loss_skipped_all": statistics.fmean(skip_loss),
    }
    if chosen:
        report["loss_full_on_skipped"] = statistics.fmean(full_loss[i] for i in chosen)
        report["loss_skipped_on_skipped"] = statistics.fmean(skip_loss[i] for i in chosen)
        kept = [i for i in range(len(contexts)) if i not in set(chosen)]
        if kept:  # does the EAU pick the contexts where skipping costs least?
            report["cost_on_skipped"] = report["loss_skipped_on_skipped"] - report["loss_full_on_skipped"]
            report["cost_on_kept"] = statistics.fmean(skip_loss[i] - full_loss[i] for i in kept)
    return report


@click.command("export")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="A trained fp32 checkpoint (best_model.pt).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--format", "weight_format", type=click.Choice(["int8", "ternary", "fp32"]), default="int8",
              show_default=True, help="ternary: 2-bit packed, for models trained with quantization='bitnet'.")
@click.option("--calibrate-on", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Held-out code to calibrate block skipping on (a folder of .ts files).")
@click.option("--skip-rate", type=click.FloatRange(0, 0.9), default=0.3, show_default=True,
              help="Share of requests that should skip the middle blocks.")
@click.option("--contexts", type=click.IntRange(min=10), default=200, show_default=True)
def export_command(checkpoint: Path, out: Path, weight_format: str, calibrate_on: Path | None, skip_rate: float,
                   contexts: int) -> None:
    """Export CHECKPOINT for CPU inference (int8 / ternary), calibrating the EAU's skip threshold."""
    loaded = load_checkpoint(checkpoint, for_training=True)
    model = loaded.model
    extra = dict(loaded.extra)
    if calibrate_on is not None and model.trunk.eau is not None:
        report = calibrate_skipping(model, calibration_contexts(loaded.tokenizer, calibrate_on, contexts), skip_rate)
        config = model.config.model_copy(update={"skip_threshold": float(report["skip_threshold"])})
        model.config = config
        model.trunk.config = config
        extra["skip_calibration"] = report
        click.echo("block skipping: " + json.dumps({k: round(v, 4) for k, v in report.items()}))
    extra["exported_from"] = checkpoint.name
    path = save_checkpoint(out, model, loaded.tokenizer, weight_format=weight_format, extra=extra,  # type: ignore[arg-type]
                           serving=loaded.serving)
    click.echo(f"{path}: {path.stat().st_size / 1e6:.1f} MB ({weight_format}), "
               f"{model.num_parameters() / 1e6:.2f}M trainable parameters")
