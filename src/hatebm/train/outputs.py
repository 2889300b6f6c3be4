"""What a run writes besides checkpoints: its config, periodic figures and the final samples."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from hatebm.config import PretrainConfig, TrainConfig, to_dict
from hatebm.energy import HatEBM
from hatebm.eval.figures import save_grid, save_path_figure, save_scatter
from hatebm.generate import LoadedModel, draw
from hatebm.train.data import DataInfo


def write_config(out: Path, cfg: TrainConfig | PretrainConfig) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "config.json"
    path.write_text(json.dumps(to_dict(cfg), indent=1))
    return path


def write_grid(x: torch.Tensor, path: Path, info: DataInfo, nrow: int | None = None) -> Path:
    """PNG grid of model-space images, cropped back to the data's size (e.g. 32 -> 28 px)."""
    from hatebm.data.transforms import to_uint8

    return save_grid(to_uint8(x, crop=info.height if info.height < x.shape[-1] else None), path, nrow=nrow)


def write_figures(folder: Path, step: int, ebm: HatEBM, cfg: TrainConfig, info: DataInfo, n: int = 64) -> None:
    """Sample grid and Fig 3-style path figure (rows X, G(Z), 5*Y) with the training sampler (conditional or joint);
    the training RNG stream is left untouched so figures never change the run."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(step)
        every = max(1, cfg.sampler.steps // 8)
        res = ebm.sample(n, cfg.sampling_mode, cfg.sampler, record_every=every)
    if cfg.model.arch == "mlp":
        save_scatter(res.x.cpu().numpy(), folder / f"step_{step:08d}_samples.png")
        return
    from hatebm.data.transforms import to_uint8

    crop = info.height if info.height < cfg.model.resolution else None
    save_grid(to_uint8(res.x, crop=crop), folder / f"step_{step:08d}_samples.png")
    save_grid(to_uint8(res.path[0]["gz"], crop=crop), folder / f"step_{step:08d}_generator.png")
    save_path_figure(res.path, folder / f"step_{step:08d}_path.png", crop=crop)


def write_samples(out: Path, ebm: HatEBM | LoadedModel, cfg: TrainConfig | PretrainConfig, info: DataInfo,
                  n: int) -> tuple[Path, Path]:
    """Final ``samples.npz`` (uint8 ``images`` N×H×W×C, or float ``points``) and ``samples.png`` from a Hat EBM being
    trained or any :class:`~hatebm.generate.LoadedModel` (e.g. a generator alone)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed + 12345)
        samples = draw(ebm, n, cfg, info)
    if cfg.model.arch == "mlp":
        np.savez_compressed(out / "samples.npz", points=samples)
        return out / "samples.npz", save_scatter(samples, out / "samples.png")
    np.savez_compressed(out / "samples.npz", images=samples)
    return out / "samples.npz", save_grid(samples[:100], out / "samples.png", nrow=10)
