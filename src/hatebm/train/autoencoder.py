"""Pretraining the deterministic autoencoder whose decoder the retrofit experiment turns into a Hat EBM (paper §4.2).

Each iteration: code = I(x), projected onto the sphere of radius sqrt(m) by the encoder; minimise
``loss_weight * mean((G(code + latent_noise * N(0, I)) - x)^2)`` over encoder and decoder with one Adam step each.
The decoder is saved under ``generator.`` so every generator source (and ``hatebm sample --method generator``) reads it;
``samples.npz`` holds decodes of random latents on the sphere, the retrofit baseline.
"""
from __future__ import annotations

from pathlib import Path

import torch

from hatebm.config import PretrainConfig
from hatebm.generate import LoadedModel
from hatebm.nets import build_encoder, build_generator, latent_shape, project_sphere
from hatebm.sampling import LangevinConfig
from hatebm.train.loop import (Dist, TrainingRun, autocast, run_training, set_lr, setup, step_lr,
                               wrap_ddp)
from hatebm.train.outputs import write_grid, write_samples


class AutoencoderRun(TrainingRun):
    """State of an autoencoder run: encoder, decoder, their optimisers, data stream and step."""

    kind, show = "ae", ("loss",)

    def __init__(self, cfg: PretrainConfig, env: Dist) -> None:
        self.start(cfg, env)
        self.enc = build_encoder(cfg.model).to(env.device)
        self.dec = build_generator(cfg.model).to(env.device)
        if cfg.channels_last:
            self.enc, self.dec = (m.to(memory_format=torch.channels_last) for m in (self.enc, self.dec))
        self.enc_train, self.dec_train = wrap_ddp(self.enc, env), wrap_ddp(self.dec, env)
        betas = tuple(cfg.betas)
        self.opt_enc = torch.optim.Adam(self.enc.parameters(), lr=cfg.lr_disc, betas=betas)
        self.opt_dec = torch.optim.Adam(self.dec.parameters(), lr=cfg.lr_gen, betas=betas)
        self.latent_shape = latent_shape(cfg.model)
        self.nets = {"encoder": self.enc, "generator": self.dec}
        self.opts = {"encoder": self.opt_enc, "generator": self.opt_dec}

    def train_step(self) -> dict[str, float]:
        cfg = self.cfg
        for opt, base in ((self.opt_dec, cfg.lr_gen), (self.opt_enc, cfg.lr_disc)):
            set_lr(opt, step_lr(base, self.step, cfg.lr_milestones, cfg.lr_gamma))
        x = self.stream.next().to(self.env.device)
        with autocast(self.env, cfg.amp):
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
        return {"loss": loss.item(), "mse": mse.item(), "lr_gen": self.opt_dec.param_groups[0]["lr"]}

    @torch.no_grad()
    def figures(self, folder: Path) -> None:
        """Reconstructions (rows: 16 data images, their reconstructions) and decodes of 64 fixed sphere latents."""
        x = self.data[:16].to(self.env.device)
        write_grid(torch.cat([x, self.dec(self.enc(x))]), folder / f"step_{self.step:08d}_recon.png", self.info, 16)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.cfg.seed)
            z = project_sphere(torch.randn(64, *self.latent_shape, device=self.env.device))
        write_grid(self.dec(z), folder / f"step_{self.step:08d}_samples.png", self.info)

    def final(self, out: Path) -> None:
        model = LoadedModel(None, self.cfg, self.info, self.step, "generator", LangevinConfig(steps=0), self.dec,
                            self.latent_shape, sphere=True)
        write_samples(out, model, self.cfg, self.info, self.cfg.eval_samples)


def train(cfg: PretrainConfig, out: str | Path, resume: bool = False, progress: bool = True) -> Path:
    """Run (or resume) autoencoder training into ``out`` (config, stats.jsonl, images/, checkpoints/ with
    ``encoder.`` and ``generator.`` (decoder) weights, and random sphere decodes in samples.npz); returns the folder."""
    env = setup(cfg.device)
    return run_training(AutoencoderRun(cfg, env), cfg, out, env, resume, progress)
