"""Multi-process training with DistributedDataParallel under ``torchrun``.

``torchrun --nproc_per_node N -m core train ...`` (or ``--nnodes``/``--rdzv-endpoint`` for several
machines) sets RANK / WORLD_SIZE / LOCAL_RANK; `setup` joins the process group (NCCL on CUDA, gloo on
CPU). Each rank trains on its shard of every epoch (DistributedSampler); only rank 0 validates, logs and
writes checkpoints, and broadcasts what the others must agree on (run id, validation results).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device_kind: str) -> DistContext:
    """Join the torchrun process group when launched by torchrun; a single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    ctx = DistContext(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if device_kind == "cuda" else "gloo"
        if device_kind == "cuda":
            torch.cuda.set_device(ctx.local_rank)
        dist.init_process_group(backend=backend)
    return ctx


def teardown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def broadcast(ctx: DistContext, value: Any) -> Any:
    """Rank 0's `value` on every rank (any picklable object)."""
    if not ctx.enabled:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(ctx: DistContext, value: Any) -> list[Any]:
    """Every rank's `value` on rank 0, in rank order (an empty list on the others); any picklable object.
    The sharded feature cache sends each extracted chunk to the rank that writes it this way."""
    if not ctx.enabled:
        return [value]
    box: list[Any] | None = [None] * ctx.world_size if ctx.is_main else None
    dist.gather_object(value, box, dst=0)
    return box or []


def any_rank(ctx: DistContext, flags: list[bool], device: torch.device) -> list[bool]:
    """Element-wise "true on some rank" of `flags` (one tiny all-reduce; NCCL needs `device` on the GPU)."""
    if not ctx.enabled:
        return flags
    t = torch.tensor([int(f) for f in flags], dtype=torch.int32, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def all_sum(ctx: DistContext, values: list[float]) -> list[float]:
    """Element-wise sum of `values` over all ranks (loss sums, correct counts)."""
    if not ctx.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


class ResumableSampler(DistributedSampler):
    """DistributedSampler (also with one process) that can skip the first `start` samples of its epoch
    shard, so a run resumed mid-epoch does not repeat the batches it already trained on."""

    def __init__(self, dataset, ctx: DistContext, seed: int, shuffle: bool = True) -> None:
        super().__init__(dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=shuffle, seed=seed)
        self.start = 0

    def set_start(self, start: int) -> None:
        self.start = max(0, start)

    def __iter__(self):
        return iter(list(super().__iter__())[self.start:])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)
