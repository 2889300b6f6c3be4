"""What a run writes besides checkpoints: its config, periodic figures and the final samples."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from hatebm.config import TrainConfig, to_dict
from hatebm.energy import HatEBM
from hatebm.eval.figures import save_grid, save_path_figure, save_scatter
from hatebm.generate import draw
from hatebm.train.data import DataInfo


def write_config(out: Path, cfg: TrainConfig) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "config.json"
    path.write_text(json.dumps(to_dict(cfg), indent=1))
    return path


def write_figures(folder: Path, step: int, ebm: HatEBM, cfg: TrainConfig, info: DataInfo, n: int = 64) -> None:
    """Sample grid and Fig 3-style path figure (rows X, G(Z), 5*Y) with the training sampler; the training RNG
    stream is left untouched so figures never change the run."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(step)
        every = max(1, cfg.sampler.steps // 8)
        res = ebm.sample(n, "conditional", cfg.sampler, record_every=every)
    if cfg.model.arch == "mlp":
        save_scatter(res.x.cpu().numpy(), folder / f"step_{step:08d}_samples.png")
        return
    from hatebm.data.transforms import to_uint8

    crop = info.height if info.height < cfg.model.resolution else None
    save_grid(to_uint8(res.x, crop=crop), folder / f"step_{step:08d}_samples.png")
    save_grid(to_uint8(res.path[0]["gz"], crop=crop), folder / f"step_{step:08d}_generator.png")
    save_path_figure(res.path, folder / f"step_{step:08d}_path.png", crop=crop)


def write_samples(out: Path, ebm: HatEBM, cfg: TrainConfig, info: DataInfo, n: int) -> tuple[Path, Path]:
    """Final ``samples.npz`` (uint8 ``images`` N×H×W×C, or float ``points``) and ``samples.png``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed + 12345)
        samples = draw(ebm, n, cfg, info)
    if cfg.model.arch == "mlp":
        np.savez_compressed(out / "samples.npz", points=samples)
        return out / "samples.npz", save_scatter(samples, out / "samples.png")
    np.savez_compressed(out / "samples.npz", images=samples)
    return out / "samples.npz", save_grid(samples[:100], out / "samples.png", nrow=10)
