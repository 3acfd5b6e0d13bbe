"""Data parallelism over `torch.distributed`: one process per device (torchrun sets RANK/WORLD_SIZE),
NCCL on GPUs and gloo on CPU (so it is testable anywhere).

Gradients are all-reduced explicitly once per optimizer step, after the local micro-batches: the step
calls submodules (`model.trunk`, `model.head`, ...) rather than one `forward`, and blocks skipped by
layer drop have no gradient on some ranks, which `DistributedDataParallel`'s hooks handle poorly. Every
rank agrees first on which parameters received a gradient anywhere, so a parameter untouched on all
ranks stays untouched (AdamW skips it) exactly as in a single process.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import Tensor, nn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def resolve_device(preference: str, local_rank: int = 0) -> torch.device:
    if preference == "cpu" or (preference == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda", local_rank)


def init_distributed(device_preference: str = "auto", init_method: str | None = None) -> DistContext:
    """Join the process group torchrun described in the environment (WORLD_SIZE > 1), else a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    device = resolve_device(device_preference, local_rank)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend, init_method=init_method or "env://", rank=rank, world_size=world)
        log.info("rank %d/%d joined the %s process group on %s", rank, world, backend, device)
    return DistContext(rank, world, local_rank, device)


def shutdown(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_module(module: nn.Module, ctx: DistContext) -> None:
    """Rank 0's parameters and buffers everywhere (ranks start identical even if seeded differently)."""
    if not ctx.distributed:
        return
    for t in [*module.parameters(), *module.buffers()]:
        dist.broadcast(t.data, src=0)


def all_reduce_gradients(params: list[nn.Parameter], ctx: DistContext) -> None:
    """Average gradients over ranks in place (one flat buffer); see the module docstring."""
    if not ctx.distributed:
        return
    device = params[0].device
    has = torch.tensor([p.grad is not None for p in params], dtype=torch.float32, device=device)
    dist.all_reduce(has, op=dist.ReduceOp.MAX)
    live = [p for p, flag in zip(params, has.tolist(), strict=True) if flag > 0]
    for p in live:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    if not live:
        return
    flat = torch.cat([p.grad.reshape(-1) for p in live])
    dist.all_reduce(flat)
    flat /= ctx.world
    offset = 0
    for p in live:
        n = p.numel()
        p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
        offset += n


def all_reduce_sum(values: Tensor, ctx: DistContext) -> Tensor:
    """Sum of `values` over ranks (a copy; unchanged on one process)."""
    out = values.clone()
    if ctx.distributed:
        dist.all_reduce(out)
    return out


def agree(flag: bool, ctx: DistContext) -> bool:
    """True on every rank when rank 0 says so (stop decisions based on wall time)."""
    if not ctx.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.broadcast(t, src=0)
    return bool(t.item() > 0)


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()
