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

import torch
from torch import Tensor, nn

from hatebm.bank import Bank
from hatebm.checkpoint import GeneratorSpec
from hatebm.config import TandemConfig
from hatebm.distributed import Dist
from hatebm.generators import custom_spec, module_latent_shape, native_spec
from hatebm.nets import build_generator, latent_shape
from hatebm.train.hatrun import HatRun
from hatebm.train.loss import generator_update
from hatebm.train.runtime import wrap_ddp
from hatebm.train.stream import UserData


class Tandem(HatRun):
    """State of a tandem run: networks, optimisers, bank, data stream and step. ``hat`` / ``generator`` replace the
    config's networks with the user's own modules (the generator's latent shape from its ``latent_shape`` or
    ``latent_dim`` attribute, else the config's)."""

    show = ("energy_diff", "gen_loss")

    def __init__(self, cfg: TandemConfig, env: Dist, data: UserData | None = None, hat: nn.Module | None = None,
                 generator: nn.Module | None = None) -> None:
        self.start(cfg, env, data)
        self.hat = self.build_hat(hat)
        self.gen = (build_generator(cfg.model) if generator is None else generator).to(env.device)
        self.gen_spec = native_spec(cfg.model) if generator is None else custom_spec(generator)
        shape = module_latent_shape(self.gen) if generator is not None else None
        self.hat, self.gen = self.channels_last(self.hat, self.gen)
        self.ebm = cfg.energy(self.hat, self.gen, shape or latent_shape(cfg.model))
        self.hat_train, self.gen_train = wrap_ddp(self.hat, env), wrap_ddp(self.gen, env)
        self.opt_hat = torch.optim.Adam(self.hat.parameters(), lr=cfg.lr_hat, betas=tuple(cfg.betas))
        self.opt_gen = torch.optim.Adam(self.gen.parameters(), lr=cfg.lr_gen, betas=tuple(cfg.betas))
        with torch.no_grad():
            self.bank = Bank.from_generator(self.gen, cfg.bank_size // env.world, self.ebm.latent_shape,
                                             device=env.device)
        self.nets = {"hat": self.hat, "generator": self.gen}
        self.opts = {"hat": self.opt_hat, "generator": self.opt_gen}
        self.lrs = {"hat": cfg.lr_hat, "generator": cfg.lr_gen}
        self.ready()

    def train_step(self) -> dict[str, float | Tensor]:
        """One iteration of Fig 2; returns the values to log."""
        cfg = self.cfg
        neg = self.negatives()
        values = self.update_hat(neg)
        idx, x_bank, z_bank = self.bank.draw(self.batch * cfg.gen_steps)  # generator update, eq 12
        losses = [generator_update(self.gen_train, self.opt_gen, x, z, cfg.gen_loss_weight, self.env, cfg.amp)
                  for x, z in zip(x_bank.split(self.batch), z_bank.split(self.batch))]
        self.bank.write(idx[:self.batch], neg.x, neg.z)
        self.step += 1
        return {**values, "gen_loss": torch.stack(losses).mean()}

    def generator_record(self) -> GeneratorSpec:
        return GeneratorSpec(self.gen_spec, self.ebm.latent_shape)

    def bank_state(self) -> tuple[Tensor, Tensor]:
        return self.bank.x, self.bank.z

    def set_bank(self, bank: tuple[Tensor, Tensor] | None) -> None:
        if bank is None:
            raise ValueError("the checkpoint to resume lacks the tandem bank (bank.x, bank.z): use another checkpoint")
        self.bank = Bank(bank[0].to(self.env.device), bank[1].to(self.env.device))
