"""What a run writes besides checkpoints: its config, periodic figures and the final samples."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from hatebm.config import HatConfig, RunConfig, to_dict
from hatebm.data import DataInfo, to_uint8
from hatebm.energy import HatEBM
from hatebm.eval.figures import save_grid, save_path_figure, save_samples_figure, save_scatter
from hatebm.model import Model, hat_model
from hatebm.train.runtime import forked_rng


def write_config(out: Path, cfg: RunConfig) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "config.json"
    path.write_text(json.dumps(to_dict(cfg), indent=1))
    return path


def write_grid(x: torch.Tensor, path: Path, info: DataInfo, nrow: int | None = None) -> Path:
    """PNG grid of model-space images, cropped back to the data's size (e.g. 32 -> 28 px); a scatter plot of 2-D
    points (N×D)."""
    if x.dim() == 2:
        return save_scatter(x.detach().cpu().numpy(), path)
    return save_grid(to_uint8(x, crop=info.crop_for(x.shape[-1])), path, nrow=nrow)


def write_figures(folder: Path | None, step: int, ebm: HatEBM, cfg: HatConfig, info: DataInfo, n: int = 64) -> None:
    """Sample grid and Fig 3-style path figure (rows X, G(Z), 5*Y) with the training sampler (conditional or joint),
    written into ``folder`` (None: drawn only); the training RNG stream is left untouched so figures never change the
    run."""
    device = next(ebm.parameters()).device
    with forked_rng(device):
        torch.manual_seed(step)
        every = max(1, cfg.sampler.steps // 8)
        z = ebm.latent(n, device)  # the training sampler, in the precision of the run's chains (Model.sample)
        res = hat_model(ebm, cfg, info).sample(z, steps=cfg.sampler.steps, record_every=every)
    if folder is None:
        return
    if cfg.model.arch == "mlp":
        save_scatter(res.x.cpu().numpy(), folder / f"step_{step:08d}_samples.png")
        return
    crop = info.crop_for(cfg.model.resolution)
    save_grid(to_uint8(res.x, crop=crop), folder / f"step_{step:08d}_samples.png")
    save_grid(to_uint8(res.path[0]["gz"], crop=crop), folder / f"step_{step:08d}_generator.png")
    save_path_figure(res.path, folder / f"step_{step:08d}_path.png", crop=crop)


def write_samples(out: Path, model: Model, n: int, progress: bool = True) -> tuple[Path, Path]:
    """Final ``samples.npz`` (uint8 ``images`` N×H×W×C, or float ``points``) and ``samples.png`` of a model, drawn
    from the seed ``config.seed + 12345`` without touching the training RNG."""
    with forked_rng(model.device):
        torch.manual_seed(model.config.seed + 12345)
        samples = model.draw(n, progress=progress)
    np.savez_compressed(out / "samples.npz", **{"points" if model.config.model.arch == "mlp" else "images": samples})
    return out / "samples.npz", save_samples_figure(samples, out / "samples.png")
