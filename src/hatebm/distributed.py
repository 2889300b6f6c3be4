"""Where a job runs: one process, or one rank of a torchrun job (RANK, WORLD_SIZE, LOCAL_RANK), on the device picked
by :func:`hatebm.devices.resolve_device`; NCCL joins GPU ranks, gloo CPU ranks. Training and evaluation both use it:
each rank works on its share (:func:`shard`), rank 0 collects the results (:func:`gather`) and writes files, and
ranks agree on a flag with :func:`any_rank`."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from hatebm.devices import resolve_device


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: str | torch.device | None = "auto") -> Dist:
    """Pick the device (each rank its own GPU, ``cuda:LOCAL_RANK``) and, under torchrun, join the process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device(resolve_device(device))
    if dev.type == "cuda" and world > 1:  # each rank its own GPU, whichever index was named
        dev = torch.device(f"cuda:{local}")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Dist(rank, world, dev)


def close() -> None:
    """Leave the process group, if this process joined one (before exit: a live gloo group aborts the interpreter)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def rank_and_world() -> tuple[int, int]:
    """(rank, number of ranks) of this process: (0, 1) outside a torchrun job."""
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def shard(n: int, rank: int | None = None, world: int | None = None) -> range:
    """The contiguous share of ``n`` items of rank ``rank`` of ``world`` (default: this process's); shares differ in
    size by at most one."""
    if rank is None or world is None:
        rank, world = rank_and_world()
    per, extra = divmod(n, world)
    start = rank * per + min(rank, extra)
    return range(start, start + per + (rank < extra))


def gather(obj: Any) -> list[Any] | None:
    """Every rank's ``obj`` on rank 0, in rank order (None on the other ranks); a collective every rank must call."""
    rank, world = rank_and_world()
    if world == 1:
        return [obj]
    out = [None] * world if rank == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (a small picklable value, such as a name; never tensors); a collective."""
    rank, world = rank_and_world()
    if world == 1:
        return obj
    box = [obj if rank == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    """Wait until every rank reaches this point (no-op outside a torchrun job)."""
    if rank_and_world()[1] > 1:
        dist.barrier()


def any_rank(*values: int) -> tuple[int, ...]:
    """The largest over every rank of each of ``values`` (int flags such as a received signal), so that all ranks act
    alike; one collective every rank must call."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return values
    backend_device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor(values, dtype=torch.int64, device=backend_device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return tuple(t.tolist())
