"""`shutka bench`: performance figures, each measured side by side in one run (medians and ratios)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from assistant.cli import EntryPointGroup
from assistant.model.sizes import MODEL_SIZES


class BenchGroup(EntryPointGroup):
    """`shutka bench` commands: ours, plus the surfaces' from the `shutka.bench` entry points (training
    may not import lsp or the API, so they register themselves)."""

    entry_point_group = "shutka.bench"

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        return click.Group.invoke(self, ctx)  # errors are translated once, by the root group


@click.group("bench", cls=BenchGroup)
def group() -> None:
    """Performance figures (latency, throughput, memory, quantization speed-up)."""


@group.command("model")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model to measure (default: the bundled checkpoint, else a fresh small model).")
@click.option("--size", type=click.Choice(list(MODEL_SIZES)),
              help="Measure a fresh model of this size instead of a checkpoint (random weights: the "
                   "latencies and memory do not depend on them; the skip rates do).")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="torch threads (set explicitly: the machine is shared).")
@click.option("--rounds", type=click.IntRange(min=3), default=30, show_default=True)
@click.option("--memory-batch", type=click.IntRange(min=1),
              help="Training-step batch for the memory figures  [default: the default_cpu preset's, which "
                   "trained the bundled model]")
@click.option("--memory-seq", type=click.IntRange(min=16), default=256, show_default=True)
@click.option("--json", "as_json", type=click.Path(dir_okay=False, path_type=Path), help="Also write JSON here.")
def model_command(checkpoint: Path | None, size: str | None, threads: int, rounds: int, memory_batch: int | None,
                  memory_seq: int, as_json: Path | None) -> None:
    """int8 vs fp32 latency, gradient-checkpointing memory, block skipping on simple vs complex inputs."""
    from assistant.checkpoints import bundled_checkpoint
    from training.bench.model_bench import format_report, run_model_bench

    if checkpoint is not None and size is not None:
        raise click.UsageError("give --checkpoint or --size, not both")
    if checkpoint is None and size is None and bundled_checkpoint().is_file():
        checkpoint = bundled_checkpoint()
    if memory_batch is None:
        from training.config import load_settings

        memory_batch = load_settings("default_cpu").train.batch_size
    report = run_model_bench(checkpoint, threads, rounds, memory_batch, memory_seq, size=size or "small")
    click.echo(format_report(report))
    if as_json:
        as_json.write_text(json.dumps(report.to_json(), indent=2, default=float))


@group.command("index")
@click.argument("workspace", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model that encodes the bank (default: the bundled one).")
@click.option("--saves", type=click.IntRange(min=1), default=40, show_default=True,
              help="File saves timed from the filesystem event to the bank commit.")
@click.option("--gap", type=click.FloatRange(min=0.0), default=0.4, show_default=True,
              help="Seconds between saves.")
@click.option("--mmap-vectors", type=click.IntRange(min=0), default=1_000_000, show_default=True,
              help="Vectors in the memory-mapped bank searched in a fresh process (0: skip).")
@click.option("--dim", type=click.IntRange(min=8), default=128, show_default=True)
@click.option("--skip-full", is_flag=True, help="Keep the existing index (skip the from-scratch timing).")
@click.option("--json", "as_json", type=click.Path(dir_okay=False, path_type=Path), help="Also write JSON here.")
def index_command(workspace: Path, checkpoint: Path | None, saves: int, gap: float, mmap_vectors: int, dim: int,
                  skip_full: bool, as_json: Path | None) -> None:
    """Full-index throughput, save -> commit latency, a 100-file folder move, memory-mapped search."""
    from training.bench.index_bench import format_index_report, run_index_bench

    report = run_index_bench(workspace, checkpoint, saves, gap, mmap_vectors, dim, skip_full)
    click.echo(format_index_report(report))
    if as_json:
        as_json.write_text(json.dumps(report.to_json(), indent=2, default=float))


@group.command("quant")
@click.option("--fp32", "fp32_checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="A checkpoint trained with quantization='none'.")
@click.option("--bitnet", "bitnet_checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="The same training with quantization='bitnet'.")
@click.option("--held-out", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Held-out .ts code (never trained on).")
@click.option("--contexts", type=click.IntRange(min=10), default=150, show_default=True)
@click.option("--json", "as_json", type=click.Path(dir_okay=False, path_type=Path), help="Also write JSON here.")
def quant_command(fp32_checkpoint: Path, bitnet_checkpoint: Path, held_out: Path, contexts: int,
                  as_json: Path | None) -> None:
    """BitNet b1.58 training vs int8 post-training quantization: quality at equal speed."""
    from training.bench.quant_bench import compare, format_quant

    report = compare(fp32_checkpoint, bitnet_checkpoint, held_out, contexts)
    click.echo(format_quant(report))
    if as_json:
        as_json.write_text(json.dumps(report, indent=2, default=float))
