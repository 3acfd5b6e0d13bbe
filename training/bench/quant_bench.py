"""`shutka bench quant`: BitNet b1.58 training vs plain int8 post-training quantization.

Two checkpoints trained the same way except `quantization` ("none" vs "bitnet") are compared on the
same held-out contexts: token loss of the float (or fake-quant) model and of its int8 export, and the
int8 export's latency on 1×128 tokens. Both exports run the same integer kernel, so speed is equal by
construction; the comparison is about quality at that speed.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from assistant.checkpoints import load_checkpoint
from assistant.model.jepa import UltraEfficientTextJEPA
from training.export import calibration_contexts


@torch.no_grad()
def token_loss(model: UltraEfficientTextJEPA, contexts: list[list[int]]) -> float:
    model.eval()
    losses = []
    for ids in contexts:
        x = torch.tensor([ids])
        logits, _, _ = model(x, skip=False)
        losses.append(float(F.cross_entropy(logits[0, :-1].float(), x[0, 1:])))
    return statistics.fmean(losses)


@torch.no_grad()
def latency_ms(model: UltraEfficientTextJEPA, rounds: int = 20) -> float:
    ids = torch.randint(0, model.config.vocab_size, (1, 128), generator=torch.Generator().manual_seed(0))
    model(ids, skip=False)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        model(ids, skip=False)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def compare(fp32_checkpoint: Path, bitnet_checkpoint: Path, held_out: Path, contexts: int) -> dict[str, Any]:
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    out: dict[str, Any] = {}
    for name, path in (("fp32+ptq", fp32_checkpoint), ("bitnet", bitnet_checkpoint)):
        loaded = load_checkpoint(path, for_training=True)
        ctx = calibration_contexts(loaded.tokenizer, held_out, contexts, seed=1)
        exported = loaded.model.export_int8()
        out[name] = {"quantization": loaded.config.quantization, "steps": loaded.extra.get("step"),
                     "train_loss": token_loss(loaded.model, ctx), "int8_loss": token_loss(exported, ctx),
                     "int8_latency_ms": latency_ms(exported), "contexts": len(ctx)}
    return out


def format_quant(report: dict[str, Any]) -> str:
    lines = ["BitNet b1.58 vs int8 post-training quantization (token loss on held-out code, nats/token)",
             f"  {'model':10s} {'trained as':>11s} {'float/fake-quant':>17s} {'int8 export':>12s} {'int8 ms 1x128':>14s}"]
    for name, r in report.items():
        lines.append(f"  {name:10s} {r['quantization']:>11s} {r['train_loss']:17.3f} {r['int8_loss']:12.3f} "
                     f"{r['int8_latency_ms']:14.2f}")
    winner = min(report, key=lambda k: report[k]["int8_loss"])
    lines.append(f"  lower int8 loss at equal speed: {winner}")
    return "\n".join(lines)
