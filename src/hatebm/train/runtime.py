"""How a run executes on its ranks (:mod:`hatebm.distributed`): DDP wrapping, RNG state, learning rates (precision:
:mod:`hatebm.precision`).

Each rank draws its own data shard and keeps its own bank shard and RNG, which it writes into its own file of each
checkpoint; DDP averages the networks' gradients over the ranks; rank 0 writes every other file; samplers use no
collectives.
"""
from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor, nn

from hatebm.distributed import Dist


# torch >= 2.13 names the option forward_sync_buffers (and warns on broadcast_buffers); older versions broadcast_buffers
NO_BUFFER_SYNC = ({"forward_sync_buffers": False}
                  if "forward_sync_buffers" in inspect.signature(nn.parallel.DistributedDataParallel).parameters
                  else {"broadcast_buffers": False})


def wrap_ddp(net: nn.Module, env: Dist) -> nn.Module:
    """The module to train with: ``net`` itself, or its DistributedDataParallel wrapper under torchrun. Buffers are not
    re-broadcast at every forward: hatebm's networks hold only fixed batch-norm statistics, equal on every rank from
    the start (a user's network whose buffers change in training would have each rank keep its own)."""
    if env.world == 1:
        return net
    ids = [env.device.index] if env.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(net, device_ids=ids, **NO_BUFFER_SYNC)


def rank_seed(seed: int, rank: int) -> int:
    """The torch seed rank ``rank`` of a run seeded ``seed`` starts from (each rank its own stream)."""
    return seed * 1000 + rank


def rng_state(device: torch.device) -> dict[str, Tensor]:
    """The RNG states a rank's run draws from: the CPU generator and, on a GPU, its device's."""
    out = {"rng.torch": torch.get_rng_state()}
    if device.type == "cuda":
        out["rng.cuda"] = torch.cuda.get_rng_state(device)
    return out


def forked_rng(device: torch.device) -> Any:
    """A block whose seeding and draws leave the run's RNG states (CPU and ``device``'s) as they were: figures and
    samples drawn from fixed seeds never change the training run or its resume."""
    return torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])


def set_rng_state(tensors: dict[str, Tensor], device: torch.device) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and device.type == "cuda":
        torch.cuda.set_rng_state(tensors["rng.cuda"], device)


def step_lr(base: float, step: int, milestones: list[int], gamma: float) -> float:
    """Step schedule: ``base * gamma ** (number of milestones <= step)``."""
    return base * gamma ** sum(step >= m for m in milestones)


def set_lrs(opts: dict[str, torch.optim.Optimizer], bases: dict[str, float], step: int, milestones: list[int],
            gamma: float) -> None:
    """Set each optimiser's learning rate to its base rate on the step schedule."""
    for name, opt in opts.items():
        for group in opt.param_groups:
            group["lr"] = step_lr(bases[name], step, milestones, gamma)
