"""Tandem training of a hat network and a generator from scratch (paper §3.4, Fig 2).

Each iteration:
1. Z ~ N(0, I); Y_K from K conditional Langevin steps (§3.3) starting at Y0 = 0; X- = G(Z) + Y_K.
2. Hat update (eq 8): minimise mean H(X+) - mean H(X-), X+ = data + sigma_data * N(0, I).
3. Generator update (eq 12 against past models): draw B bank pairs (X', Z') without replacement,
   minimise lambda * mean((G(Z') - X')^2) with one Adam step.
4. Write this iteration's (X-, Z) into the drawn bank slots.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from hatebm import checkpoint as ckpt
from hatebm.bank import Bank
from hatebm.config import TrainConfig, to_dict
from hatebm.energy import HatEBM
from hatebm.nets import build_generator, build_hat, latent_shape
from hatebm.train.data import DataInfo, load_training_data
from hatebm.train.loop import (DataStream, Dist, StatsLog, check_finite_gap, rng_state, set_lr, set_rng_state,
                               setup, step_lr)
from hatebm.train.outputs import write_config, write_figures, write_samples


class Tandem:
    """State of a tandem run: networks, optimisers, bank, data stream and step."""

    def __init__(self, cfg: TrainConfig, env: Dist) -> None:
        self.cfg, self.env = cfg, env
        torch.manual_seed(cfg.seed * 1000 + env.rank)
        self.data, self.info = load_training_data(cfg.data, cfg.model, cfg.seed)
        self.stream = DataStream(self.data, cfg.batch_size, cfg.seed, env.rank, env.world)
        self.hat = build_hat(cfg.model).to(env.device)
        self.gen = build_generator(cfg.model).to(env.device)
        if cfg.channels_last and cfg.model.arch == "sngan":
            self.hat, self.gen = (m.to(memory_format=torch.channels_last) for m in (self.hat, self.gen))
        self.ebm = HatEBM(self.hat, self.gen, latent_shape(cfg.model), cfg.temperature)
        self.hat_train, self.gen_train = self._wrap(self.hat), self._wrap(self.gen)
        self.opt_hat = torch.optim.Adam(self.hat.parameters(), lr=cfg.lr_hat, betas=tuple(cfg.betas))
        self.opt_gen = torch.optim.Adam(self.gen.parameters(), lr=cfg.lr_gen, betas=tuple(cfg.betas))
        with torch.no_grad():
            self.bank = Bank.from_generator(self.gen, cfg.bank_size // env.world, self.ebm.latent_shape,
                                            device=env.device)
        self.step = 0

    def _wrap(self, net: nn.Module) -> nn.Module:
        if self.env.world == 1:
            return net
        ids = [self.env.device.index] if self.env.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(net, device_ids=ids)

    def _autocast(self) -> Any:
        on = self.cfg.amp and self.env.device.type == "cuda"
        return torch.autocast(self.env.device.type, dtype=torch.bfloat16, enabled=on)

    def train_step(self) -> dict[str, float]:
        """One iteration of Fig 2; returns the values to log."""
        cfg, dev = self.cfg, self.env.device
        for opt, base in ((self.opt_hat, cfg.lr_hat), (self.opt_gen, cfg.lr_gen)):
            set_lr(opt, step_lr(base, self.step, cfg.lr_milestones, cfg.lr_gamma))
        z = self.ebm.latent(cfg.batch_size, dev)
        with self._autocast():
            neg = self.ebm.sample(z, "conditional", cfg.sampler)
        x_pos = self.stream.next().to(dev)
        x_pos = x_pos + cfg.data.noise * torch.randn_like(x_pos)

        with self._autocast():  # hat update, eq 8 (one pass over [X+; X-]; H is batch-independent)
            energies = self.hat_train(torch.cat([x_pos, neg.x])).float().reshape(-1)
        e_pos, e_neg = energies[: len(x_pos)], energies[len(x_pos):]
        gap = e_pos.mean() - e_neg.mean()
        loss = gap / cfg.temperature if cfg.energy_reg == 0 else gap + cfg.energy_reg * (energies**2).mean()
        self.opt_hat.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.hat_grad_clip is not None:
            nn.utils.clip_grad_norm_(self.hat.parameters(), cfg.hat_grad_clip)
        self.opt_hat.step()

        idx, x_bank, z_bank = self.bank.draw(cfg.batch_size)  # generator update, eq 12 against the bank
        with self._autocast():
            gen_loss = cfg.gen_loss_weight * (self.gen_train(z_bank).float() - x_bank).pow(2).mean()
        self.opt_gen.zero_grad(set_to_none=True)
        gen_loss.backward()
        self.opt_gen.step()
        self.bank.write(idx, neg.x, neg.z)
        self.step += 1
        return {"energy_diff": gap.item(), "energy_pos": e_pos.mean().item(), "energy_neg": e_neg.mean().item(),
                "gen_loss": gen_loss.item(), "y_norm": neg.y.flatten(1).norm(dim=1).mean().item(),
                "drift_y": neg.drift_y, "lr_hat": self.opt_hat.param_groups[0]["lr"]}

    # -- checkpoints ---------------------------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        oh, gh = ckpt.flatten_optimizer(self.opt_hat)
        og, gg = ckpt.flatten_optimizer(self.opt_gen)
        tensors = {**ckpt.prefixed("hat", self.hat.state_dict()), **ckpt.prefixed("generator", self.gen.state_dict()),
                   **ckpt.prefixed("optim.hat", oh), **ckpt.prefixed("optim.generator", og),
                   "bank.x": self.bank.x, "bank.z": self.bank.z, **rng_state()}
        state = {"kind": "tandem", "config": to_dict(self.cfg), "data_info": vars(self.info),
                 "optim_groups": {"hat": gh, "generator": gg}, "stream": self.stream.state()}
        return tensors, state

    def load(self, tensors: dict[str, Tensor], state: dict[str, Any]) -> None:
        self.hat.load_state_dict(ckpt.subdict(tensors, "hat"))
        self.gen.load_state_dict(ckpt.subdict(tensors, "generator"))
        ckpt.restore_optimizer(self.opt_hat, ckpt.subdict(tensors, "optim.hat"), state["optim_groups"]["hat"])
        ckpt.restore_optimizer(self.opt_gen, ckpt.subdict(tensors, "optim.generator"),
                               state["optim_groups"]["generator"])
        self.bank = Bank(tensors["bank.x"].to(self.env.device), tensors["bank.z"].to(self.env.device))
        self.stream.load_state(state["stream"])
        set_rng_state(tensors)
        self.step = int(state["step"])


def train(cfg: TrainConfig, out: str | Path, resume: bool = False, progress: bool = True) -> Path:
    """Run (or resume) tandem training into the run folder ``out``; returns the folder.

    The folder receives ``config.json``, ``stats.jsonl``, sample grids and path figures under ``images/``,
    checkpoints under ``checkpoints/`` and, at the end, ``samples.npz`` / ``samples.png``.
    """
    out = Path(out)
    env = setup(cfg.device)
    run = Tandem(cfg, env)
    log = StatsLog(out / "stats.jsonl" if env.main else None)
    if resume:
        tensors, state = ckpt.load(out)
        saved = {k: v for k, v in state["config"].items() if k not in ("iters",)}
        now = {k: v for k, v in to_dict(cfg).items() if k not in ("iters",)}
        if saved != now:
            raise ValueError(f"--resume with a different config than the run in {out}; only iters may change")
        run.load(tensors, state)
        log.truncate_after(run.step)
    elif ckpt.list_checkpoints(out):
        raise ValueError(f"{out} already holds checkpoints; pass --resume to continue it or choose a new --out")
    if env.main:
        write_config(out, cfg)
    bar = tqdm(total=cfg.iters, initial=run.step, disable=not (progress and env.main), desc="tandem", unit="it")
    while run.step < cfg.iters:
        values = run.train_step()
        check_finite_gap(run.step, values["energy_diff"], cfg.diverge_gap, values)
        bar.update(1)
        last = run.step == cfg.iters
        if env.main and (run.step % cfg.log_every == 0 or last):
            bar.set_postfix(gap=f"{values['energy_diff']:.3g}", g=f"{values['gen_loss']:.3g}")
            log.write(run.step, values)
        if env.main and (run.step % cfg.image_every == 0 or last):
            write_figures(out / "images", run.step, run.ebm, cfg, run.info)
        if env.main and (run.step % cfg.ckpt_every == 0 or last):
            ckpt.save(out, run.step, *run.state(), keep=cfg.keep_ckpts)
    bar.close()
    if env.main and cfg.eval_samples:
        write_samples(out, run.ebm, cfg, run.info, cfg.eval_samples)
    return out
