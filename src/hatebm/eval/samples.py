"""The samples to evaluate: uint8 images from an .npz or an image folder, or drawn on the fly from a checkpoint, each
with a record of where they came from (kept in the metrics' protocol)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
from torch import nn

from hatebm import data

if TYPE_CHECKING:
    from hatebm.model import Model

DEFAULT_N = 1000
Source = str | os.PathLike | Callable[[int], Any]


def from_callable(source: Model | Callable[[int], Any], n: int = DEFAULT_N, *, seed: int = 0,
                  progress: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
    """`n` uint8 samples of a `hatebm.model.Model` (its `draw`) or of any function of n returning images (uint8
    N×H×W×C, or a float tensor N×C×H×W in [-1, 1]), drawn from torch seed `seed`, and their source record."""
    from hatebm.model import Model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        out = source.draw(n, progress=progress) if isinstance(source, Model) else source(n)
    images = data.to_uint8(out.detach()) if isinstance(out, torch.Tensor) else np.asarray(out)
    if images.dtype != np.uint8 or len(images) != n:
        raise ValueError(f"the sample source returned {images.dtype} {images.shape}: it must give {n} uint8 N×H×W×C "
                         "images or a float tensor N×C×H×W in [-1, 1]")
    name = getattr(source, "__qualname__", type(source).__name__)
    return images, {"callable": name, "seed": seed, "n": n}


def sample_checkpoint(
    path: str | os.PathLike, n: int = DEFAULT_N, *, steps: int | None = None, seed: int = 0,
    device: str | torch.device | None = None, batch_size: int = 250, progress: bool = True,
    hat: nn.Module | str | None = None, generator: nn.Module | str | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """`n` uint8 samples of a run folder's newest checkpoint (or a checkpoint folder), drawn by `Model.draw` (the
    run's sampler, `steps` Langevin steps, default the model's evaluation steps) from torch seed `seed`, and how
    they were made: {"checkpoint", "step", "steps", "seed", "n"}. Runs trained with their own networks need them
    again: `hat` / `generator` as modules or "module:function" factories (see `hatebm.model.load_model`)."""
    from hatebm.checkpoint import resolve
    from hatebm.model import load_model

    folder = resolve(path)
    model = load_model(folder, device or "auto", hat=hat, generator=generator)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        samples = model.draw(n, steps=steps, batch_size=batch_size, progress=progress)
    if samples.dtype != np.uint8:
        raise ValueError(f"{path} is a 2-D toy model: its samples are points, not images")
    used = model.sampler.steps if steps is None else steps
    return samples, {"checkpoint": str(folder), "step": model.step, "steps": used, "seed": seed, "n": n}


def load_samples(
    path: Source, n: int | None = None, *, steps: int | None = None, seed: int = 0,
    device: str | torch.device | None = None, progress: bool = True, hat: nn.Module | str | None = None,
    generator: nn.Module | str | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """(uint8 N×H×W×C samples, their source) from an .npz (array `images`), a folder of image files (PNG, ...), or a
    run or checkpoint folder: then `n` (default 1000) samples are drawn on the fly (`sample_checkpoint`, with
    `steps`, `seed`, `device`, `hat` and `generator`); or a `Model` or a function of n (`from_callable`). For files,
    `n` keeps the first n images."""
    if not isinstance(path, (str, os.PathLike)):
        return from_callable(path, DEFAULT_N if n is None else n, seed=seed, progress=progress)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no samples at {path}: pass an .npz holding uint8 images (array `images`), a "
                                "folder of PNG images, or a run or checkpoint folder to sample from")
    if path.suffix == ".safetensors" or (path.is_dir() and any(path.rglob("*.safetensors"))):
        folder = path.parent if path.is_file() else path
        return sample_checkpoint(folder, DEFAULT_N if n is None else n, steps=steps, seed=seed, device=device,
                                 progress=progress, hat=hat, generator=generator)
    images = data.load_images("folder", root=path) if path.is_dir() else data.load_images("npz", root=path)
    if n is not None:
        if not 2 <= n <= len(images):
            raise ValueError(f"n must be between 2 and the {len(images)} samples in {path}, got {n}")
        images = images[:n]
    return images, {"path": str(path), "n": len(images)}
