"""`shutka bench model`: int8 vs fp32 latency, gradient-checkpointing memory, block skipping.

Everything is measured side by side in one run: the variants alternate round by round so a busy
machine slows both alike, and we report medians and their ratios, never a lone absolute time.
"""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from assistant.model.jepa import UltraEfficientTextJEPA

log = logging.getLogger(__name__)

SIMPLE_LINES = ["}", "});", "import { a } from './a';", "export {};", "return;", "break;", "// ok", "];"]
COMPLEX_SNIPPET = """export function mergeDeep<T extends Record<string, unknown>>(target: T, ...sources: Partial<T>[]): T {
  for (const source of sources) {
    for (const [key, value] of Object.entries(source) as [keyof T, T[keyof T]][]) {
      if (value && typeof value === "object" && !Array.isArray(value)) {
        target[key] = mergeDeep({ ...(target[key] as object) } as never, value as never);
      } else if (value !== undefined) {
        target[key] = value;
      }
    }
  }
  return target;
}
"""


@dataclass
class Timing:
    median_ms: float
    p95_ms: float
    runs: int


@dataclass
class ModelBenchReport:
    threads: int
    model: str
    parameters: int
    latency: dict[str, dict[str, Timing]] = field(default_factory=dict)  # shape -> variant -> timing
    speedup: dict[str, float] = field(default_factory=dict)  # shape -> fp32 / int8
    max_abs_logit_diff: dict[str, float] = field(default_factory=dict)
    max_abs_logprob_diff: dict[str, float] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)
    skipping: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def _interleaved(fns: dict[str, Callable[[], object]], rounds: int, warmup: int = 2) -> dict[str, Timing]:
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - t0) * 1000)
    return {name: Timing(statistics.median(v), _p95(v), len(v)) for name, v in samples.items()}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def bench_quantization(model: UltraEfficientTextJEPA, report: ModelBenchReport, rounds: int) -> None:
    """fp32 vs the int8 export on 1×128 and 16×128 tokens, forward through trunk + token head."""
    fp32 = model.eval()
    int8 = model.export_int8()
    gen = torch.Generator().manual_seed(0)
    for batch in (1, 16):
        ids = torch.randint(0, model.config.vocab_size, (batch, 128), generator=gen)
        with torch.inference_mode():
            timings = _interleaved({"fp32": lambda ids=ids: fp32(ids, skip=False),
                                    "int8": lambda ids=ids: int8(ids, skip=False)},
                                   rounds=rounds if batch == 1 else max(5, rounds // 4))
            a, b = fp32(ids, skip=False)[0], int8(ids, skip=False)[0]
        shape = f"{batch}x128"
        report.latency[shape] = timings
        report.speedup[shape] = timings["fp32"].median_ms / timings["int8"].median_ms
        report.max_abs_logit_diff[shape] = float((a - b).abs().max())
        report.max_abs_logprob_diff[shape] = float((a.log_softmax(-1) - b.log_softmax(-1)).abs().max())


def bench_checkpointing_memory(config_json: str, batch: int, seq: int, repeats: int = 3) -> dict[str, float]:
    """Peak memory of one training step with and without gradient checkpointing, each in a fresh
    subprocess (peak RSS growth during the step, and bytes of activations saved for backward).

    Medians of `repeats` alternating probes: the checkpointed step's peak RSS varied by ±60 MB
    between identical runs (where the allocator's high-water mark lands), the plain one by ±5 MB."""
    runs: dict[str, list[dict[str, float]]] = {"plain": [], "checkpointing": []}
    for _ in range(repeats):
        for flag in (False, True):
            code = _MEMORY_PROBE.format(config=config_json, flag=flag, batch=batch, seq=seq)
            result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
            if result.returncode != 0:
                raise RuntimeError(f"memory probe failed: {result.stderr.strip()[-500:]}")
            runs["checkpointing" if flag else "plain"].append(json.loads(result.stdout.strip().splitlines()[-1]))
    out: dict[str, float] = {}
    for name, probes in runs.items():
        out[f"{name}_peak_rss_mb"] = statistics.median(p["rss_growth_mb"] for p in probes)  # first step, fresh process
        out[f"{name}_saved_activations_mb"] = statistics.median(p["saved_mb"] for p in probes)
        out[f"{name}_step_ms"] = statistics.median(p["step_ms"] for p in probes)
    out["peak_rss_ratio"] = out["checkpointing_peak_rss_mb"] / max(out["plain_peak_rss_mb"], 1e-9)
    out["saved_activations_ratio"] = (out["checkpointing_saved_activations_mb"]
                                      / max(out["plain_saved_activations_mb"], 1e-9))
    out["step_time_ratio"] = out["checkpointing_step_ms"] / max(out["plain_step_ms"], 1e-9)
    out["batch"], out["seq"] = batch, seq
    return out


_MEMORY_PROBE = """
import json, time, torch
from assistant.config import ModelConfig
from assistant.model.jepa import UltraEfficientTextJEPA
from training.objectives import head_token_loss
torch.set_num_threads(1)
cfg = ModelConfig.model_validate_json({config!r}).model_copy(update=dict(gradient_checkpointing={flag}, layer_drop=0.0))
model = UltraEfficientTextJEPA(cfg).train()
ids = torch.randint(0, cfg.vocab_size, ({batch}, {seq}))
mask = torch.ones_like(ids, dtype=torch.bool)
saved = {{}}
def pack(t):
    storage = t.untyped_storage()
    saved[storage.data_ptr()] = storage.nbytes()  # views share storage: count each buffer once
    return t
def step():
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss, _ = head_token_loss(model, model.trunk(ids, skip=False).hidden, ids, mask)  # as the trainer does
    loss.backward()
    model.zero_grad(set_to_none=True)
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024  # MB
# peak RSS of the first step of a fresh process: reset the kernel's high-water mark (clear_refs 5)
open("/proc/self/clear_refs", "w").write("5")
base = status("VmRSS:")
step()
growth = status("VmHWM:") - base
saved.clear()
t0 = time.perf_counter(); step(); dt = time.perf_counter() - t0
print(json.dumps(dict(rss_growth_mb=growth, saved_mb=sum(saved.values()) / 2**20, step_ms=dt * 1000)))
"""


def bench_skipping(model: UltraEfficientTextJEPA, tokenizer_encode: Callable[[str], list[int]] | None,
                   report: ModelBenchReport, rounds: int) -> None:
    """Latency and skip rate of simple vs complex inputs, with block skipping on (EAU) and off."""
    model = model.export_int8() if not model.quantized else model
    vocab = model.config.vocab_size

    def encode(text: str) -> list[int]:
        if tokenizer_encode is not None:
            return tokenizer_encode(text)[:128] or [0]
        return [hash(ch) % vocab for ch in text][:128]

    inputs = {
        "simple": [encode(line) for line in SIMPLE_LINES],
        "complex": [encode(COMPLEX_SNIPPET[i:] + COMPLEX_SNIPPET) for i in range(0, 80, 10)],
    }
    with torch.inference_mode():
        for kind, batch in inputs.items():
            tensors = [torch.tensor([ids]) for ids in batch]
            skipped = sum(bool(model.trunk(t).skipped) for t in tensors)

            def run(skip: bool | None, tensors=tensors) -> None:
                for t in tensors:
                    model(t, skip=skip)

            timings = _interleaved({"skipping_on": lambda run=run: run(None),
                                    "skipping_off": lambda run=run: run(False)}, rounds=rounds)
            complexity = [float(model.trunk(t).complexity[0]) if model.trunk.eau is not None else float("nan")
                          for t in tensors]
            report.skipping[kind] = {
                "skip_rate": skipped / len(tensors),
                "mean_complexity": statistics.fmean(complexity),
                "on_ms": timings["skipping_on"].median_ms / len(tensors),
                "off_ms": timings["skipping_off"].median_ms / len(tensors),
                "saving": 1.0 - timings["skipping_on"].median_ms / timings["skipping_off"].median_ms,
            }


def run_model_bench(checkpoint: Path | None, threads: int, rounds: int, memory_batch: int,
                    memory_seq: int, size: str) -> ModelBenchReport:
    """Load the checkpoint (float weights) or build a fresh model of `size`, then measure everything."""
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # as the runtime does (denormals slow CPU element-wise ops ~20x)
    encode = None
    if checkpoint is not None:
        from assistant.checkpoints import load_checkpoint

        loaded = load_checkpoint(checkpoint, for_training=True)
        model, name, encode = loaded.model, str(checkpoint), loaded.tokenizer.encode
    else:
        torch.manual_seed(0)
        model, name = UltraEfficientTextJEPA(model_size=size), f"fresh {size} model (random weights)"
    report = ModelBenchReport(threads=threads, model=name, parameters=model.num_parameters())
    log.info("int8 vs fp32 latency")
    bench_quantization(model, report, rounds)
    log.info("gradient checkpointing memory")
    report.memory = bench_checkpointing_memory(model.config.model_dump_json(), memory_batch, memory_seq)
    log.info("block skipping")
    bench_skipping(model, encode, report, max(5, rounds // 2))
    return report


def format_report(r: ModelBenchReport) -> str:
    lines = [f"shutka bench model — {r.model}, {r.parameters / 1e6:.1f}M trainable parameters, "
             f"torch threads = {r.threads}", "", "int8 export vs fp32 (trunk + token head, median of interleaved runs)"]
    lines.append(f"  {'input':10s} {'fp32 ms':>9s} {'int8 ms':>9s} {'speed-up':>9s} {'max |Δlogit|':>13s} "
                 f"{'max |Δlogp|':>12s}")
    for shape, timings in r.latency.items():
        lines.append(f"  {shape:10s} {timings['fp32'].median_ms:9.2f} {timings['int8'].median_ms:9.2f} "
                     f"{r.speedup[shape]:8.2f}× {r.max_abs_logit_diff[shape]:13.4f} "
                     f"{r.max_abs_logprob_diff[shape]:12.4f}")
    m = r.memory
    lines += ["", f"training step, batch {m['batch']:.0f}×{m['seq']:.0f} (fresh process each)",
              f"  {'':26s} {'plain':>10s} {'checkpointed':>13s} {'ratio':>7s}",
              f"  {'peak RSS growth (MB)':26s} {m['plain_peak_rss_mb']:10.1f} {m['checkpointing_peak_rss_mb']:13.1f} "
              f"{m['peak_rss_ratio']:7.2f}",
              f"  {'activations saved (MB)':26s} {m['plain_saved_activations_mb']:10.1f} "
              f"{m['checkpointing_saved_activations_mb']:13.1f} {m['saved_activations_ratio']:7.2f}",
              f"  {'step time (ms)':26s} {m['plain_step_ms']:10.1f} {m['checkpointing_step_ms']:13.1f} "
              f"{m['step_time_ratio']:7.2f}"]
    lines += ["", "block skipping (int8, per input; EAU decides when on)",
              f"  {'inputs':8s} {'skip rate':>9s} {'complexity':>10s} {'on ms':>8s} {'off ms':>8s} {'saving':>7s}"]
    for kind, s in r.skipping.items():
        lines.append(f"  {kind:8s} {s['skip_rate']:9.0%} {s['mean_complexity']:10.2f} {s['on_ms']:8.2f} "
                     f"{s['off_ms']:8.2f} {s['saving']:7.0%}")
    return "\n".join(lines)
