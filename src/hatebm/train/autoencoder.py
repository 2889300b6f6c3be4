"""Pretraining the deterministic autoencoder whose decoder the retrofit experiment turns into a Hat EBM (paper §4.2).

Each iteration: code = I(x), projected onto the sphere of radius sqrt(m) by the encoder; minimise
``loss_weight * mean((G(code + latent_noise * N(0, I)) - x)^2)`` over encoder and decoder with one Adam step each.
The decoder is saved under ``generator`` so every generator source (and ``hatebm sample --method generator``) reads it;
``samples.npz`` holds decodes of random latents on the sphere, the retrofit baseline.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from hatebm.checkpoint import GeneratorSpec
from hatebm.config import AutoencoderConfig
from hatebm.distributed import Dist
from hatebm.generators import native_spec
from hatebm.model import Model
from hatebm.nets import build_encoder, build_generator, latent_shape, project_sphere
from hatebm.train.loop import TrainingRun
from hatebm.train.outputs import write_grid, write_samples
from hatebm.precision import autocast
from hatebm.train.runtime import forked_rng, set_lrs, wrap_ddp
from hatebm.train.stream import UserData


class AutoencoderRun(TrainingRun):
    """State of an autoencoder run: encoder, decoder, their optimisers, data stream and step."""

    show = ("loss",)

    def __init__(self, cfg: AutoencoderConfig, env: Dist, data: UserData | None = None) -> None:
        self.start(cfg, env, data)
        self.enc = build_encoder(cfg.model).to(env.device)
        self.dec = build_generator(cfg.model).to(env.device)
        self.enc, self.dec = self.channels_last(self.enc, self.dec)
        self.enc_train, self.dec_train = wrap_ddp(self.enc, env), wrap_ddp(self.dec, env)
        betas = tuple(cfg.betas)
        self.opt_enc = torch.optim.Adam(self.enc.parameters(), lr=cfg.lr_enc, betas=betas)
        self.opt_dec = torch.optim.Adam(self.dec.parameters(), lr=cfg.lr_gen, betas=betas)
        self.latent_shape = latent_shape(cfg.model)
        self.nets = {"encoder": self.enc, "generator": self.dec}
        self.opts = {"encoder": self.opt_enc, "generator": self.opt_dec}
        self.lrs = {"encoder": cfg.lr_enc, "generator": cfg.lr_gen}

    def train_step(self) -> dict[str, float | Tensor]:
        cfg = self.cfg
        set_lrs(self.opts, self.lrs, self.step, cfg.lr_milestones, cfg.lr_gamma)
        x = self.stream.next().to(self.env.device)
        with autocast(self.env.device, cfg.amp):
            code = self.enc_train(x)
            x_hat = self.dec_train(code + cfg.latent_noise * torch.randn_like(code))
        mse = (x_hat.float() - x).pow(2).mean()
        loss = cfg.loss_weight * mse
        self.opt_enc.zero_grad(set_to_none=True)
        self.opt_dec.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_enc.step()
        self.opt_dec.step()
        self.step += 1
        return {"loss": loss.detach(), "mse": mse.detach(), "lr_gen": self.opt_dec.param_groups[0]["lr"]}

    @torch.no_grad()
    def figures(self, folder: Path | None) -> None:
        """Reconstructions (rows: 16 data images, their reconstructions) and decodes of 64 fixed sphere latents
        (written into ``folder`` unless None)."""
        x = self.stream.head(16).to(self.env.device)
        recon = torch.cat([x, self.dec(self.enc(x))])
        with forked_rng(self.env.device):
            torch.manual_seed(self.cfg.seed)
            z = project_sphere(torch.randn(64, *self.latent_shape, device=self.env.device))
        decoded = self.dec(z)
        if folder is not None:
            write_grid(recon, folder / f"step_{self.step:08d}_recon.png", self.info, 16)
            write_grid(decoded, folder / f"step_{self.step:08d}_samples.png", self.info)

    def generator_record(self) -> GeneratorSpec:
        return GeneratorSpec(native_spec(self.cfg.model), self.latent_shape, sphere=True)

    def model(self) -> Model:
        return Model(self.cfg, self.info, self.step, self.dec, self.latent_shape, sphere=True)

    def final(self, out: Path, progress: bool = True) -> None:
        write_samples(out, self.model(), self.cfg.eval_samples, progress)
