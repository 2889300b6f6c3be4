"""Pieces shared by every training loop: devices and DDP, data batches, RNG state, learning-rate schedule,
`stats.jsonl` logging, the divergence check, the hat update of eq 8, and the run driver (:func:`run_training` over a
:class:`TrainingRun`: run folder, checkpoint cadence, resume, progress bar) used by the tandem, joint, GAN and
autoencoder trainers.

Distributed runs follow torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK): NCCL on GPUs, gloo on CPU. Each rank
draws its own data shard and keeps its own bank shard; only rank 0 writes files; samplers use no collectives.
"""
from __future__ import annotations

import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from tqdm import tqdm

from hatebm import checkpoint as ckpt
from hatebm.config import PretrainConfig, TrainConfig, from_dict, to_dict
from hatebm.train.data import DataInfo, load_training_data
from hatebm.train.outputs import write_config


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


def check_finite(step: int, values: dict[str, float]) -> None:
    """Stop a run whose logged values turned non-finite (DivergenceError)."""
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        raise DivergenceError(f"training diverged at step {step}: non-finite {bad}")


def check_finite_gap(step: int, gap: float, limit: float, values: dict[str, float]) -> None:
    """Stop a run whose energy gap or losses are non-finite or beyond ``limit`` (DivergenceError)."""
    check_finite(step, values)
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


def autocast(env: Dist, amp: bool) -> Any:
    """bf16 autocast for network passes when ``amp`` is on, on GPUs and on CPUs with native bf16 arithmetic
    (AVX512-BF16 or AMX: 1.7x faster Langevin steps on this machine's CPU); a no-op elsewhere."""
    return torch.autocast(env.device.type, dtype=torch.bfloat16, enabled=amp and native_bf16(env.device))


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 autocast speeds up ``device``: any CUDA device, or a CPU with AVX512-BF16 / AMX."""
    if device.type == "cuda":
        return True
    return device.type == "cpu" and bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def wrap_ddp(net: nn.Module, env: Dist) -> nn.Module:
    """The module to train with: ``net`` itself, or its DistributedDataParallel wrapper under torchrun."""
    if env.world == 1:
        return net
    ids = [env.device.index] if env.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(net, device_ids=ids)


def hat_update(hat: nn.Module, opt: torch.optim.Optimizer, x_pos: Tensor, x_neg: Tensor, cfg: TrainConfig,
               env: Dist) -> dict[str, float]:
    """One Adam step on eq 8: minimise mean H(X+) - mean H(X-) (divided by T, or plus ``energy_reg`` times the mean
    squared energy), plus ``grad_penalty`` times the mean squared input-gradient norm of H at X+ when set.
    One pass over [X+; X-]: H is batch-independent. Returns the logged energies."""
    x_pos = x_pos.detach().requires_grad_(cfg.grad_penalty > 0)
    with autocast(env, cfg.amp):
        energies = hat(torch.cat([x_pos, x_neg])).float().reshape(-1)
    e_pos, e_neg = energies[: len(x_pos)], energies[len(x_pos):]
    gap = e_pos.mean() - e_neg.mean()
    loss = gap / cfg.temperature if cfg.energy_reg == 0 else gap + cfg.energy_reg * (energies**2).mean()
    values = {}
    if cfg.grad_penalty > 0:
        (grad,) = torch.autograd.grad(e_pos.sum(), x_pos, create_graph=True)
        r1 = grad.flatten(1).pow(2).sum(1).mean()
        loss = loss + cfg.grad_penalty * r1
        values["grad_pos"] = r1.sqrt().item()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.hat_grad_clip is not None:
        nn.utils.clip_grad_norm_(hat.parameters(), cfg.hat_grad_clip)
    opt.step()
    return {"energy_diff": gap.item(), "energy_pos": e_pos.mean().item(), "energy_neg": e_neg.mean().item(), **values}


class TrainingRun:
    """State of a run driven by :func:`run_training`. Subclasses build ``nets`` and ``opts`` (name -> module /
    optimiser; weights are saved under ``<name>.``, optimiser states under ``optim.<name>.``) and the data ``stream``,
    and implement :meth:`train_step`, :meth:`figures` and :meth:`final`."""

    kind: str
    show: tuple[str, ...] = ()  # logged values shown on the progress bar
    cfg: TrainConfig | PretrainConfig
    info: DataInfo
    stream: DataStream
    nets: dict[str, nn.Module]
    opts: dict[str, torch.optim.Optimizer]
    step: int = 0

    def start(self, cfg: TrainConfig | PretrainConfig, env: Dist) -> None:
        """Common start of every run: seed this rank, load the data in model space and open the batch stream."""
        self.cfg, self.env, self.step = cfg, env, 0
        torch.manual_seed(cfg.seed * 1000 + env.rank)
        self.data, self.info = load_training_data(cfg.data, cfg.model, cfg.seed)
        self.stream = DataStream(self.data, cfg.batch_size, cfg.seed, env.rank, env.world)

    def train_step(self) -> dict[str, float]:
        raise NotImplementedError

    def check(self, values: dict[str, float]) -> None:
        """Raise DivergenceError when the step's values show the run diverged."""
        check_finite(self.step, values)

    def figures(self, folder: Path) -> None:
        """Write the periodic figures of step ``self.step`` into ``folder``."""

    def final(self, out: Path) -> None:
        """Write the end-of-run samples into the run folder."""

    def extra_state(self) -> dict[str, Any]:
        """Plain values besides the common ones saved in state.json."""
        return {}

    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors, groups = dict(rng_state()), {}
        for name, net in self.nets.items():
            tensors.update(ckpt.prefixed(name, net.state_dict()))
        for name, opt in self.opts.items():
            flat, groups[name] = ckpt.flatten_optimizer(opt)
            tensors.update(ckpt.prefixed(f"optim.{name}", flat))
        state = {"kind": self.kind, "config": to_dict(self.cfg), "data_info": vars(self.info), "optim_groups": groups,
                 "stream": self.stream.state(), **self.extra_state()}
        return tensors, state

    def load(self, tensors: dict[str, Tensor], state: dict[str, Any]) -> None:
        for name, net in self.nets.items():
            net.load_state_dict(ckpt.subdict(tensors, name))
        for name, opt in self.opts.items():
            ckpt.restore_optimizer(opt, ckpt.subdict(tensors, f"optim.{name}"), state["optim_groups"][name])
        self.stream.load_state(state["stream"])
        set_rng_state(tensors)
        self.step = int(state["step"])


def run_training(run: Any, cfg: TrainConfig | PretrainConfig, out: str | Path, env: Dist, resume: bool = False,
                 progress: bool = True) -> Path:
    """Drive ``run`` (a :class:`TrainingRun` or any object with the same methods) to ``cfg.iters`` steps in the run
    folder ``out``: ``config.json``, ``stats.jsonl`` every ``log_every`` steps, figures under ``images/`` every
    ``image_every``, atomic checkpoints every ``ckpt_every`` (and at the end), then ``run.final(out)``.

    ``resume`` continues the newest checkpoint (refusing a config that differs in anything but ``iters``) and
    reproduces the uninterrupted run exactly on CPU; a folder that already holds checkpoints is never overwritten.
    Only rank 0 writes files.
    """
    out = Path(out)
    log = StatsLog(out / "stats.jsonl" if env.main else None)
    if resume:
        tensors, state = ckpt.load(out)
        # through from_dict, so that fields added to the config since the run started take their defaults
        saved = {k: v for k, v in to_dict(from_dict(state["config"], type(cfg))).items() if k != "iters"}
        now = {k: v for k, v in to_dict(cfg).items() if k != "iters"}
        if saved != now:
            raise ValueError(f"--resume with a different config than the run in {out}; only iters may change")
        run.load(tensors, state)
        log.truncate_after(run.step)
    elif ckpt.list_checkpoints(out):
        raise ValueError(f"{out} already holds checkpoints; pass --resume to continue it or choose a new --out")
    if env.main:
        write_config(out, cfg)
        if cfg.amp and not native_bf16(env.device):
            warnings.warn(f"amp=true but {env.device} has no native bf16 (AVX512-BF16 or AMX on CPUs): training in "
                          "float32, about twice as slow as with bf16", stacklevel=2)
    bar = tqdm(total=cfg.iters, initial=run.step, disable=not (progress and env.main), desc=run.kind, unit="it")
    while run.step < cfg.iters:
        values = run.train_step()
        run.check(values)
        bar.update(1)
        last = run.step == cfg.iters
        if env.main and (run.step % cfg.log_every == 0 or last):
            bar.set_postfix({k: f"{values[k]:.3g}" for k in run.show})
            log.write(run.step, values)
        if env.main and (run.step % cfg.image_every == 0 or last):
            run.figures(out / "images")
        if env.main and (run.step % cfg.ckpt_every == 0 or last):
            ckpt.save(out, run.step, *run.state(), keep=cfg.keep_ckpts)
    bar.close()
    if env.main and cfg.eval_samples:
        run.final(out)
    return out
