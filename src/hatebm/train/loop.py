"""The training loop every kind of run shares: :class:`TrainingRun` (the state of a run and its checkpoint) and
:func:`training_loop` (run folder, logging, figures, checkpoint cadence, resume, progress bar)."""
from __future__ import annotations

import warnings
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from hatebm import checkpoint as ckpt
from hatebm import precision
from hatebm.checkpoint import IMPORTED, Checkpoint, GeneratorSpec, RankState
from hatebm.config import RunConfig, differences
from hatebm.data import DataInfo
from hatebm.distributed import Dist, any_rank
from hatebm.generators import load_weights
from hatebm.model import Model
from hatebm.train.outputs import write_config
from hatebm.train.runtime import rank_seed, rng_state, set_rng_state
from hatebm.train.signals import StopSignals, Stopped
from hatebm.train.stats import DivergenceError, StatsLog, check_finite
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
    lrs: dict[str, float]  # each optimiser's base learning rate (the schedule of set_lrs starts from it)
    step: int = 0
    lr_scale: float = 1.0  # left on the base rates by divergence rollbacks

    def start(self, cfg: RunConfig, env: Dist, data: UserData | None = None) -> None:
        """Common start of every run: split the batch over the ranks, seed this rank and open its batch stream."""
        if cfg.batch_size % env.world:
            raise ValueError(f"batch_size={cfg.batch_size} is global and split evenly over the {env.world} ranks: "
                             f"pass a multiple of {env.world}")
        self.cfg, self.env, self.step, self.batch = cfg, env, 0, cfg.batch_size // env.world
        torch.manual_seed(rank_seed(cfg.seed, env.rank))
        self.stream, self.info = open_stream(cfg.data, cfg.model, self.batch, cfg.seed, env.rank, env.world,
                                             env.device, data)

    def channels_last(self, *nets: nn.Module) -> tuple[nn.Module, ...]:
        """``nets`` in NHWC memory format when the config asks for it and they are image networks."""
        if self.cfg.channels_last and self.cfg.model.arch == "sngan":
            return tuple(m.to(memory_format=torch.channels_last) for m in nets)
        return nets

    def train_step(self) -> dict[str, float | Tensor]:
        """One step; the values to log, as floats or 0-d device tensors (read together by the loop)."""
        raise NotImplementedError

    def check(self, values: dict[str, float]) -> None:
        """Raise DivergenceError when the step's values show the run diverged."""
        check_finite(self.step, values)

    def figures(self, folder: Path | None) -> None:
        """Draw the periodic figures of step ``self.step`` and write them into ``folder`` (None: draw only; the ranks
        other than 0 of a job do, so that they do not wait for rank 0 inside the next collective)."""

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

    def checkpoint(self) -> Checkpoint:
        """The state of the run as this rank saves it: the shared weights and optimisers (written by rank 0) and this
        rank's own state alone (its file; no rank sends its state to another)."""
        bank = self.bank_state()
        mine = RankState(self.stream.state(), rng_state(self.env.device),
                         None if bank is None else (bank[0].cpu(), bank[1].cpu()))
        optimizers = {name: ckpt.flatten_optimizer(opt) for name, opt in self.opts.items()}
        return Checkpoint(self.step, self.cfg, self.info, self.generator_record(), self.hat_spec,
                          {name: net.state_dict() for name, net in self.nets.items()}, optimizers,
                          {self.env.rank: mine}, self.env.world, self.lr_scale)

    def restore(self, saved: Checkpoint, where: str = "the checkpoint to resume") -> None:
        """Continue from ``saved`` (read from ``where``, with this rank's state: ``ckpt.load(path, rank=...)``):
        weights, optimisers, data position, RNG and step."""
        if saved.hat != self.hat_spec or saved.generator.spec != self.generator_record().spec:
            raise ValueError(f"--resume with other networks than the run's: it was trained with hat {saved.hat} and "
                             f"generator {saved.generator.spec}; pass the same networks")
        for name, net in self.nets.items():
            load_weights(net, saved.nets.get(name, {}), where, name)
        if saved.world != self.env.world:
            raise ValueError(f"the checkpoint was written by a job of {saved.world} rank(s), this one has "
                             f"{self.env.world}: resume with --nproc_per_node={saved.world} (each rank continues "
                             "its own data shard, RNG and bank)")
        for name, opt in self.opts.items():
            ckpt.restore_optimizer(opt, *saved.optimizers[name])
        mine = saved.ranks[self.env.rank]
        self.stream.load_state(mine.stream)
        if mine.bank is None and saved.origin == IMPORTED and self.bank_state() is not None:
            warnings.warn("the checkpoint holds no tandem bank (imported without --bank): the bank starts afresh from "
                          "the generator, Z ~ N(0, I) and X = G(Z)", stacklevel=2)
        else:
            self.set_bank(mine.bank)
        set_rng_state(mine.rng, self.env.device)
        self.step = saved.step
        self.scale_lrs(saved.lr_scale / self.lr_scale)

    def scale_lrs(self, factor: float) -> None:
        """Multiply the base learning rates (and the scale a checkpoint records) by ``factor``."""
        self.lrs = {name: lr * factor for name, lr in self.lrs.items()}
        self.lr_scale *= factor


RESUMABLE = ("iters", "device", "data.workers", "data.bad_images", "lr_*", "log_every", "image_every", "ckpt_every",
             "keep_ckpts", "eval_samples", "eval_steps", "diverge_gap", "on_divergence", "max_rollbacks", "rollback_lr",
             "generator.trust", "compile")
"""Config keys (fnmatch patterns) that may change when a run is resumed: its length and device, learning rates and
their schedule, what is done with unreadable images, logging, figure and checkpoint cadence, end-of-run sampling, the
divergence check and policy, whether a generator's recorded code is trusted, and whether the hat is compiled.
Everything else shapes the training itself, so a change would make a different run than the checkpoint's."""


def check_resume(saved: Checkpoint, cfg: RunConfig, out: Path) -> None:
    """One ValueError, before anything is written, when ``cfg`` cannot continue ``saved``: another kind of run, a
    changed key outside :data:`RESUMABLE` (each named), or ``iters`` below the checkpoint's step."""
    if type(saved.config) is not type(cfg):
        raise ValueError(f"--resume with a {cfg.KIND} config, but {out} holds a {saved.config.KIND} run: pass its "
                         f"config ({out / 'config.json'})")
    changed = differences(saved.config, cfg)
    # prepared images come at one size, which data.size only declares: naming it changes nothing
    declared = ["data.size"] if cfg.data.name == "prepared" else []
    refused = [k for k in changed if not any(fnmatch(k, pattern) for pattern in (*RESUMABLE, *declared))]
    if refused:
        raise ValueError(f"--resume cannot change {', '.join(refused)} of the run in {out} (they shape the training "
                         f"itself); a resumed run may change only {', '.join(RESUMABLE)}. Start a new run (another "
                         "--out) for the other changes")
    if saved.step > cfg.iters:
        raise ValueError(f"{out} is already at step {saved.step}, past iters={cfg.iters}: pass iters >= "
                         f"{saved.step} to continue it (nothing was changed)")


def host_values(values: dict[str, float | Tensor]) -> dict[str, float]:
    """A step's values as floats, the device tensors among them read in one host transfer."""
    keys = [k for k, v in values.items() if isinstance(v, Tensor)]
    if not keys:
        return dict(values)
    read = torch.stack([values[k].detach().float().reshape(()) for k in keys]).tolist()
    return {**values, **dict(zip(keys, read))}


def _after_step(run: TrainingRun, values: dict[str, float], signals: StopSignals) -> tuple[DivergenceError | None, int]:
    """The step's divergence and the stop signal received, as every rank sees them (one collective): a rank that
    diverged stops or rolls back all of them, a signal to any rank stops all of them."""
    try:
        run.check(values)
        failure = None
    except DivergenceError as err:
        failure = err
    diverged, signum = any_rank(int(failure is not None), signals.signum)
    if diverged and failure is None:
        failure = DivergenceError(f"training diverged at step {run.step} on another rank")
    return failure, signum


def _rollback(run: TrainingRun, out: Path, log: StatsLog, failure: DivergenceError) -> None:
    """Continue from the newest checkpoint with the learning rates times ``rollback_lr`` (logged in stats.jsonl)."""
    found = ckpt.list_checkpoints(out)
    if not found:
        raise DivergenceError(f"{failure.reason}, and there is no checkpoint to roll back to yet",
                              "lower ckpt_every, or start again with lower learning rates") from None
    diverged_at, scale = run.step, run.lr_scale * run.cfg.rollback_lr
    run.restore(ckpt.load(found[-1], rank=run.env.rank), f"the checkpoint to roll back to, {found[-1]},")
    run.scale_lrs(scale / run.lr_scale)  # lower than before the divergence, whichever scale the checkpoint had
    log.truncate_after(run.step)
    log.write(run.step, {"rollback": {"diverged_at": diverged_at, "to_step": run.step, "lr_scale": run.lr_scale,
                                      "reason": failure.reason}})
    warnings.warn(f"{failure.reason}: rolled back to step {run.step}, learning rates now x{run.lr_scale:g} "
                  "(on_divergence=rollback)", stacklevel=2)


def training_loop(run: TrainingRun, out: str | Path, env: Dist, resume: bool = False, progress: bool = True) -> Path:
    """Drive ``run`` to ``cfg.iters`` steps in the run folder ``out``: ``config.json``, ``stats.jsonl`` every
    ``log_every`` steps, figures under ``images/`` every ``image_every``, atomic checkpoints every ``ckpt_every`` (and
    at the end), then ``run.final(out, progress)``.

    ``resume`` continues the newest checkpoint (:func:`check_resume` says which changes it takes) and reproduces
    the uninterrupted run exactly on CPU; a folder that already holds checkpoints is never overwritten, and nothing
    is written before these checks pass. Only rank 0 writes files, but for each rank's own checkpoint file.

    A step that diverges (:class:`DivergenceError`) stops the run, or with ``on_divergence=rollback`` returns to the
    newest checkpoint with the learning rates times ``rollback_lr``, at most ``max_rollbacks`` times. SIGTERM and
    SIGINT end the run after the current step with a checkpoint (:class:`hatebm.train.signals.Stopped`).
    """
    out, cfg = Path(out), run.cfg
    if out.exists() and not out.is_dir():
        raise ValueError(f"the run folder {out} is a file: pass a new folder (or a run folder) as --out")
    log = StatsLog(out / "stats.jsonl" if env.main else None)
    if resume:
        saved = ckpt.load(out, rank=env.rank)
        check_resume(saved, cfg, out)
        run.restore(saved, f"the checkpoint to resume, {ckpt.resolve(out)},")
        log.truncate_after(run.step)
    elif ckpt.list_checkpoints(out):
        raise ValueError(f"{out} already holds checkpoints; pass --resume to continue it or choose a new --out")
    if env.main:
        ckpt.remove_stale(out)
        write_config(out, cfg)
        if cfg.amp and not precision.native_bf16(env.device):
            warnings.warn(f"amp=true but {env.device} has no native bf16 (AVX512-BF16 or AMX on CPUs): training in "
                          "float32, about twice as slow as with bf16", stacklevel=2)
    bar = tqdm(total=cfg.iters, initial=run.step, disable=not (progress and env.main), desc=cfg.KIND, unit="it")
    rollbacks = 0
    with StopSignals() as signals, precision.tf32(cfg.tf32):
        while run.step < cfg.iters:
            values = host_values(run.train_step())
            if getattr(run.stream, "skipped", 0):  # unreadable images left out so far (data.bad_images=skip)
                values["skipped_images"] = run.stream.skipped
            failure, signum = _after_step(run, values, signals)
            if failure is not None:
                if cfg.on_divergence != "rollback" or rollbacks == cfg.max_rollbacks:
                    raise failure
                rollbacks += 1
                _rollback(run, out, log, failure)
                bar.n = run.step
                continue
            bar.update(1)
            last = run.step == cfg.iters
            if env.main and (run.step % cfg.log_every == 0 or last):
                bar.set_postfix({k: f"{values[k]:.3g}" for k in run.show})
                log.write(run.step, values)
            if run.step % cfg.image_every == 0 or last:  # every rank draws them: none waits in a collective
                run.figures(out / "images" if env.main else None)
            if run.step % cfg.ckpt_every == 0 or last or signum:  # every rank writes its own file
                saved = ckpt.save(out, run.checkpoint(), keep=cfg.keep_ckpts)
                if signum:
                    bar.close()
                    raise Stopped(signum, run.step, saved)
    bar.close()
    if env.main and cfg.eval_samples:
        run.final(out, progress)
    return out
