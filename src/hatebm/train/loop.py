"""The training loop every kind of run shares: :class:`TrainingRun` (the state of a run and its checkpoint) and
:func:`training_loop` (run folder, logging, figures, checkpoint cadence, resume, progress bar)."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from hatebm import checkpoint as ckpt
from hatebm.checkpoint import Checkpoint, GeneratorSpec, RankState
from hatebm.config import RunConfig, differences
from hatebm.data import DataInfo
from hatebm.distributed import Dist, gather
from hatebm.generators import load_weights
from hatebm.model import Model
from hatebm.train import runtime
from hatebm.train.outputs import write_config
from hatebm.train.runtime import rng_state, set_rng_state
from hatebm.train.stats import StatsLog, check_finite
from hatebm.train.stream import Stream, UserData, open_stream


class TrainingRun:
    """State of a run driven by :func:`training_loop`. Subclasses build ``nets`` and ``opts`` (name -> module /
    optimiser, saved under that name) after :meth:`start`, and implement :meth:`train_step`, :meth:`model`,
    :meth:`generator_record` and, where they have them, :meth:`figures` and :meth:`final`."""

    show: tuple[str, ...] = ()  # logged values shown on the progress bar
    hat_spec: dict[str, Any] | None = None  # the checkpoint's "hat" entry (runs that learn a hat network)
    cfg: RunConfig
    info: DataInfo
    stream: Stream
    batch: int  # this rank's share of cfg.batch_size
    nets: dict[str, nn.Module]
    opts: dict[str, torch.optim.Optimizer]
    step: int = 0

    def start(self, cfg: RunConfig, env: Dist, data: UserData | None = None) -> None:
        """Common start of every run: split the batch over the ranks, seed this rank and open its batch stream."""
        if cfg.batch_size % env.world:
            raise ValueError(f"batch_size={cfg.batch_size} is global and split evenly over the {env.world} ranks: "
                             f"pass a multiple of {env.world}")
        self.cfg, self.env, self.step, self.batch = cfg, env, 0, cfg.batch_size // env.world
        torch.manual_seed(cfg.seed * 1000 + env.rank)
        self.stream, self.info = open_stream(cfg.data, cfg.model, self.batch, cfg.seed, env.rank, env.world,
                                             env.device, data)

    def channels_last(self, *nets: nn.Module) -> tuple[nn.Module, ...]:
        """``nets`` in NHWC memory format when the config asks for it and they are image networks."""
        if self.cfg.channels_last and self.cfg.model.arch == "sngan":
            return tuple(m.to(memory_format=torch.channels_last) for m in nets)
        return nets

    def train_step(self) -> dict[str, float]:
        raise NotImplementedError

    def check(self, values: dict[str, float]) -> None:
        """Raise DivergenceError when the step's values show the run diverged."""
        check_finite(self.step, values)

    def figures(self, folder: Path) -> None:
        """Write the periodic figures of step ``self.step`` into ``folder``."""

    def final(self, out: Path, progress: bool = True) -> None:
        """Write the end-of-run samples into the run folder."""

    def model(self) -> Model:
        """The trained model as a sampling handle."""
        raise NotImplementedError

    def generator_record(self) -> GeneratorSpec:
        """How a checkpoint rebuilds this run's generator."""
        raise NotImplementedError

    def bank_state(self) -> tuple[Tensor, Tensor] | None:
        """This rank's shard of the tandem bank (X, Z), for runs that keep one."""
        return None

    def set_bank(self, bank: tuple[Tensor, Tensor] | None) -> None:
        """Restore this rank's bank shard (runs that keep one)."""

    def checkpoint(self) -> Checkpoint | None:
        """The whole state of the run, every rank's own state gathered to rank 0 (a collective: every rank calls it);
        None on the other ranks."""
        bank = self.bank_state()
        mine = RankState(self.stream.state(), rng_state(self.env.device), None if bank is None else (bank[0].cpu(), bank[1].cpu()))
        ranks = gather(mine)
        if ranks is None:
            return None
        optimizers = {name: ckpt.flatten_optimizer(opt) for name, opt in self.opts.items()}
        return Checkpoint(self.step, self.cfg, self.info, self.generator_record(), self.hat_spec,
                          {name: net.state_dict() for name, net in self.nets.items()}, optimizers, ranks)

    def restore(self, saved: Checkpoint) -> None:
        """Continue from ``saved``: weights, optimisers, data position, RNG and step."""
        if saved.hat != self.hat_spec or saved.generator.spec != self.generator_record().spec:
            raise ValueError(f"--resume with other networks than the run's: it was trained with hat {saved.hat} and "
                             f"generator {saved.generator.spec}; pass the same networks")
        for name, net in self.nets.items():
            load_weights(net, saved.nets.get(name, {}), "the checkpoint to resume", name)
        if len(saved.ranks) != self.env.world:
            raise ValueError(f"the checkpoint was written by a job of {len(saved.ranks)} rank(s), this one has "
                             f"{self.env.world}: resume with --nproc_per_node={len(saved.ranks)} (each rank continues "
                             "its own data shard, RNG and bank)")
        for name, opt in self.opts.items():
            ckpt.restore_optimizer(opt, *saved.optimizers[name])
        mine = saved.ranks[self.env.rank]
        self.stream.load_state(mine.stream)
        self.set_bank(mine.bank)
        if "rng.torch" not in mine.rng:
            raise ValueError(f"the checkpoint to resume lacks rank {self.env.rank}'s RNG state: use another checkpoint")
        set_rng_state(mine.rng, self.env.device)
        self.step = saved.step


def training_loop(run: TrainingRun, out: str | Path, env: Dist, resume: bool = False, progress: bool = True) -> Path:
    """Drive ``run`` to ``cfg.iters`` steps in the run folder ``out``: ``config.json``, ``stats.jsonl`` every
    ``log_every`` steps, figures under ``images/`` every ``image_every``, atomic checkpoints every ``ckpt_every`` (and
    at the end), then ``run.final(out, progress)``.

    ``resume`` continues the newest checkpoint, refusing a config that differs in anything but ``cfg.RUNTIME`` (the
    error names the keys), and reproduces the uninterrupted run exactly on CPU; a folder that already holds
    checkpoints is never overwritten. Only rank 0 writes files.
    """
    out, cfg = Path(out), run.cfg
    log = StatsLog(out / "stats.jsonl" if env.main else None)
    if resume:
        saved = ckpt.load(out)
        changed = differences(saved.config, cfg, ignore=cfg.RUNTIME) if type(saved.config) is type(cfg) else ["run"]
        if changed:
            raise ValueError(f"--resume with a different config than the run in {out}: {', '.join(changed)} differ; "
                             f"only {', '.join(cfg.RUNTIME[:-1])} and {cfg.RUNTIME[-1]} may change")
        if saved.step > cfg.iters:
            raise ValueError(f"{out} is already at step {saved.step}, past iters={cfg.iters}: pass iters >= "
                             f"{saved.step} to continue it")
        run.restore(saved)
        log.truncate_after(run.step)
    elif ckpt.list_checkpoints(out):
        raise ValueError(f"{out} already holds checkpoints; pass --resume to continue it or choose a new --out")
    if env.main:
        write_config(out, cfg)
        if cfg.amp and not runtime.native_bf16(env.device):
            warnings.warn(f"amp=true but {env.device} has no native bf16 (AVX512-BF16 or AMX on CPUs): training in "
                          "float32, about twice as slow as with bf16", stacklevel=2)
    bar = tqdm(total=cfg.iters, initial=run.step, disable=not (progress and env.main), desc=cfg.KIND, unit="it")
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
        if run.step % cfg.ckpt_every == 0 or last:
            state = run.checkpoint()
            if state is not None:
                ckpt.save(out, state, keep=cfg.keep_ckpts)
    bar.close()
    if env.main and cfg.eval_samples:
        run.final(out, progress)
    return out
