"""Tandem training of a hat network and a generator from scratch (paper §3.4, Fig 2).

Each iteration:
1. Z ~ N(0, I); Y_K from K conditional Langevin steps (§3.3) starting at Y0 = 0; X- = G(Z) + Y_K.
2. Hat update (eq 8): minimise mean H(X+) - mean H(X-), X+ = data + sigma_data * N(0, I).
3. Generator update (eq 12 against past models): draw B bank pairs (X', Z') without replacement,
   minimise lambda * mean((G(Z') - X')^2) with one Adam step (``gen_steps`` > 1: that many steps, each on its own
   B pairs of one draw without replacement; the paper takes one).
4. Write this iteration's (X-, Z) into the first B drawn bank slots.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from hatebm.bank import Bank
from hatebm.config import TrainConfig
from hatebm.energy import HatEBM
from hatebm.nets import build_generator, build_hat, latent_shape
from hatebm.train.hatrun import HatRun
from hatebm.train.loop import Dist, autocast, run_training, setup, wrap_ddp


class Tandem(HatRun):
    """State of a tandem run: networks, optimisers, bank, data stream and step."""

    kind, show, mode = "tandem", ("energy_diff", "gen_loss"), "conditional"

    def __init__(self, cfg: TrainConfig, env: Dist) -> None:
        self.start(cfg, env)
        self.hat = build_hat(cfg.model).to(env.device)
        self.gen = build_generator(cfg.model).to(env.device)
        if cfg.channels_last and cfg.model.arch == "sngan":
            self.hat, self.gen = (m.to(memory_format=torch.channels_last) for m in (self.hat, self.gen))
        self.ebm = HatEBM(self.hat, self.gen, latent_shape(cfg.model), cfg.temperature)
        self.hat_train, self.gen_train = wrap_ddp(self.hat, env), wrap_ddp(self.gen, env)
        self.opt_hat = torch.optim.Adam(self.hat.parameters(), lr=cfg.lr_hat, betas=tuple(cfg.betas))
        self.opt_gen = torch.optim.Adam(self.gen.parameters(), lr=cfg.lr_gen, betas=tuple(cfg.betas))
        with torch.no_grad():
            self.bank = Bank.from_generator(self.gen, cfg.bank_size // env.world, self.ebm.latent_shape,
                                            device=env.device)
        self.nets = {"hat": self.hat, "generator": self.gen}
        self.opts = {"hat": self.opt_hat, "generator": self.opt_gen}

    def train_step(self) -> dict[str, float]:
        """One iteration of Fig 2; returns the values to log."""
        cfg = self.cfg
        neg = self.negatives()
        values = self.update_hat(neg)
        idx, x_bank, z_bank = self.bank.draw(cfg.batch_size * cfg.gen_steps)  # generator update, eq 12
        losses = [self.update_generator(x, z) for x, z in zip(x_bank.split(cfg.batch_size),
                                                               z_bank.split(cfg.batch_size))]
        self.bank.write(idx[:cfg.batch_size], neg.x, neg.z)
        self.step += 1
        return {**values, "gen_loss": sum(losses) / len(losses)}

    def update_generator(self, x_bank: Tensor, z_bank: Tensor) -> float:
        """One Adam step on lambda * mean((G(Z') - X')^2) over bank pairs (eq 12 against past hat networks)."""
        with autocast(self.env, self.cfg.amp):
            loss = self.cfg.gen_loss_weight * (self.gen_train(z_bank).float() - x_bank).pow(2).mean()
        self.opt_gen.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_gen.step()
        return loss.item()

    # -- checkpoints: networks, optimisers, stream and RNG (TrainingRun) plus the bank ----------------------------
    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors, state = super().state()
        return {**tensors, "bank.x": self.bank.x, "bank.z": self.bank.z}, state

    def load(self, tensors: dict[str, Tensor], state: dict[str, Any]) -> None:
        super().load(tensors, state)
        self.bank = Bank(tensors["bank.x"].to(self.env.device), tensors["bank.z"].to(self.env.device))


def train(cfg: TrainConfig, out: str | Path, resume: bool = False, progress: bool = True) -> Path:
    """Run (or resume) tandem training into the run folder ``out``; returns the folder.

    The folder receives ``config.json``, ``stats.jsonl``, sample grids and path figures under ``images/``,
    checkpoints under ``checkpoints/`` and, at the end, ``samples.npz`` / ``samples.png``.
    """
    env = setup(cfg.device)
    return run_training(Tandem(cfg, env), cfg, out, env, resume, progress)
