"""Pieces shared by every training loop: devices and DDP, data batches, RNG state, learning-rate schedule,
`stats.jsonl` logging and the divergence check.

Distributed runs follow torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK): NCCL on GPUs, gloo on CPU. Each rank
draws its own data shard and keeps its own bank shard; only rank 0 writes files; samplers use no collectives.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor


class DivergenceError(RuntimeError):
    """Raised when training produces non-finite values or an exploding energy gap."""


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: str = "auto") -> Dist:
    """Pick the device and, under torchrun, join the process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(f"cuda:{local}" if device == "cuda" and world > 1 else device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Dist(rank, world, dev)


class DataStream:
    """Endless shuffled batches from an in-memory tensor; the order is a function of (seed, epoch), so the
    stream's whole state is (epoch, position) and resumes exactly. Each rank reads its own stride of the order."""

    def __init__(self, data: Tensor, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        if data.shape[0] < batch_size * world:
            raise ValueError(f"the data hold {data.shape[0]} items, fewer than one batch ({batch_size} x {world} ranks)")
        self.data, self.batch_size, self.seed, self.rank, self.world = data, batch_size, seed, rank, world
        self.epoch, self.pos = 0, 0
        self._order = self._make_order()

    def _make_order(self) -> Tensor:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(self.data.shape[0], generator=g)[self.rank::self.world]

    def next(self) -> Tensor:
        if self.pos + self.batch_size > len(self._order):
            self.epoch, self.pos = self.epoch + 1, 0
            self._order = self._make_order()
        idx = self._order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return self.data[idx]

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state(self, state: dict[str, int]) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._order = self._make_order()


def rng_state() -> dict[str, Tensor]:
    out = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["rng.cuda"] = torch.cuda.get_rng_state()
    return out


def set_rng_state(tensors: dict[str, Tensor]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])


def step_lr(base: float, step: int, milestones: list[int], gamma: float) -> float:
    """Step schedule: ``base * gamma ** (number of milestones <= step)``."""
    return base * gamma ** sum(step >= m for m in milestones)


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


def check_finite_gap(step: int, gap: float, limit: float, values: dict[str, float]) -> None:
    """Stop a run whose energy gap or losses are non-finite or beyond ``limit`` (DivergenceError)."""
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        raise DivergenceError(f"training diverged at step {step}: non-finite {bad}")
    if abs(gap) > limit:
        raise DivergenceError(
            f"training diverged at step {step}: |mean H(X+) - mean H(X-)| = {abs(gap):.3g} exceeds diverge_gap={limit:g}."
            " Samples no longer keep up with the hat network; lower lr_hat, raise sampler.steps or set energy_reg>0,"
            " then resume from the last checkpoint or restart")


class StatsLog:
    """Appends one JSON object per logged step to ``stats.jsonl``, with iterations per second."""

    def __init__(self, path: Path | None) -> None:
        self.path, self._t, self._step = path, time.perf_counter(), None

    def write(self, step: int, values: dict[str, Any]) -> dict[str, Any]:
        now = time.perf_counter()
        if self._step is not None and step > self._step:
            values = {**values, "it_per_s": (step - self._step) / (now - self._t)}
        self._t, self._step = now, step
        record = {"step": step, **values}
        if self.path is not None:
            with open(self.path, "a") as fh:
                fh.write(json.dumps(record) + "\n")
        return record

    def truncate_after(self, step: int) -> None:
        """On resume, drop records logged after the checkpoint so the file reads as one uninterrupted run."""
        if self.path is None or not self.path.exists():
            return
        keep = [line for line in self.path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        self.path.write_text("".join(line + "\n" for line in keep))
