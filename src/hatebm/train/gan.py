"""Pretraining an SN-GAN (Miyato et al. 2018) with the hinge loss: the base generator of the refinement experiment
(paper §4.1, Table 1) and the discriminator that DDLS samples with (:mod:`hatebm.ddls`).

Each iteration (one generator update):
1. ``n_dis`` times: minimise mean relu(1 - D(x)) + mean relu(1 + D(G(z))) over D (x data, z ~ N(0, I)).
2. Minimise -mean D(G(z)) over G.

D is high on real data. The generator is the DESIGN §4 SN-GAN generator with batch norm on fixed statistics, so it
computes the same function while training and later as the frozen G of a joint Hat EBM.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor
import torch.nn.functional as F

from hatebm.checkpoint import GeneratorSpec
from hatebm.config import GanConfig
from hatebm.distributed import Dist
from hatebm.generators import native_spec
from hatebm.model import Model
from hatebm.nets import build_discriminator, build_generator, latent_shape
from hatebm.sampling import frozen
from hatebm.train.loop import TrainingRun
from hatebm.train.outputs import write_grid, write_samples
from hatebm.precision import autocast
from hatebm.train.runtime import forked_rng, set_lrs, wrap_ddp
from hatebm.train.stream import UserData


class GanRun(TrainingRun):
    """State of an SN-GAN run: generator, discriminator, their optimisers, data stream and step."""

    show = ("d_loss", "g_loss")

    def __init__(self, cfg: GanConfig, env: Dist, data: UserData | None = None) -> None:
        self.start(cfg, env, data)
        self.gen = build_generator(cfg.model).to(env.device)
        self.disc = build_discriminator(cfg.model).to(env.device)
        self.gen, self.disc = self.channels_last(self.gen, self.disc)
        self.gen_train, self.disc_train = wrap_ddp(self.gen, env), wrap_ddp(self.disc, env)
        betas = tuple(cfg.betas)
        self.opt_gen = torch.optim.Adam(self.gen.parameters(), lr=cfg.lr_gen, betas=betas)
        self.opt_disc = torch.optim.Adam(self.disc.parameters(), lr=cfg.lr_disc, betas=betas)
        self.latent_shape = latent_shape(cfg.model)
        self.nets = {"generator": self.gen, "discriminator": self.disc}
        self.opts = {"generator": self.opt_gen, "discriminator": self.opt_disc}
        self.lrs = {"generator": cfg.lr_gen, "discriminator": cfg.lr_disc}

    def _latent(self) -> torch.Tensor:
        return torch.randn(self.batch, *self.latent_shape, device=self.env.device)

    def train_step(self) -> dict[str, float | Tensor]:
        cfg = self.cfg
        set_lrs(self.opts, self.lrs, self.step, cfg.lr_milestones, cfg.lr_gamma)
        for _ in range(cfg.n_dis):  # discriminator: hinge loss, one pass over [real; fake]
            x = self.stream.next().to(self.env.device)
            with torch.no_grad(), autocast(self.env.device, cfg.amp):
                fake = self.gen_train(self._latent())
            with autocast(self.env.device, cfg.amp):
                d = self.disc_train(torch.cat([x, fake.to(x.dtype)])).float()
            d_real, d_fake = d[: len(x)], d[len(x):]
            d_loss = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
            self.opt_disc.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_disc.step()
        with frozen(self.disc), autocast(self.env.device, cfg.amp):  # generator: no gradients into D's weights
            g_loss = -self.disc(self.gen_train(self._latent())).float().mean()
        self.opt_gen.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_gen.step()
        self.step += 1
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "d_real": d_real.detach().mean(),
                "d_fake": d_fake.detach().mean(), "lr_gen": self.opt_gen.param_groups[0]["lr"]}

    def figures(self, folder: Path | None) -> None:
        """G(z) for the same 64 latents at every step (written into ``folder`` unless None)."""
        with forked_rng(self.env.device):
            torch.manual_seed(self.cfg.seed)
            z = torch.randn(64, *self.latent_shape, device=self.env.device)
        with torch.no_grad():
            x = self.gen(z)
        if folder is not None:
            write_grid(x, folder / f"step_{self.step:08d}_samples.png", self.info)

    def generator_record(self) -> GeneratorSpec:
        return GeneratorSpec(native_spec(self.cfg.model), self.latent_shape)

    def model(self) -> Model:
        return Model(self.cfg, self.info, self.step, self.gen, self.latent_shape)

    def final(self, out: Path, progress: bool = True) -> None:
        write_samples(out, self.model(), self.cfg.eval_samples, progress)
