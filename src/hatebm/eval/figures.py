"""Figures: image grids, Fig 3-style Langevin paths (rows X, G(Z), 5*Y), and scatter plots for 2-D toys."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def image_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile uint8 N×H×W×C images into one uint8 H'×W'×C image (white padding)."""
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images of shape N×H×W×C, got {images.dtype} {images.shape}")
    n, h, w, c = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    grid = np.full((ncol * (h + pad) + pad, nrow * (w + pad) + pad, c), 255, np.uint8)
    for i, img in enumerate(images):
        r, q = divmod(i, nrow)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = img
    return grid


def save_grid(images: np.ndarray, path: str | Path, nrow: int | None = None, scale: int = 2) -> Path:
    """Write a PNG grid of uint8 N×H×W×C images, upscaled ``scale`` times (nearest) for viewing."""
    grid = image_grid(images, nrow)
    img = Image.fromarray(grid[..., 0] if grid.shape[2] == 1 else grid)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def save_path_figure(path: list[dict[str, torch.Tensor]], file: str | Path, n_chains: int = 4,
                     y_scale: float = 5.0, crop: int | None = None) -> Path:
    """Fig 3-style Langevin paths: for each chain, three rows (X, G(Z), y_scale*Y) over the recorded steps.

    Y is shown as ``y_scale * Y`` around grey (Y = 0 is mid-grey), as in the paper's figure.
    """
    rows = []
    for c in range(min(n_chains, path[0]["x"].shape[0])):
        for key, scale in (("x", 1.0), ("gz", 1.0), ("y", y_scale)):
            rows.append(torch.stack([rec[key][c] * scale for rec in path]))
    from hatebm.data.transforms import to_uint8

    images = to_uint8(torch.cat(rows), crop)
    return save_grid(images, file, nrow=len(path))


def save_scatter(points: np.ndarray, file: str | Path, reference: np.ndarray | None = None) -> Path:
    """Scatter plot of 2-D samples (and optional reference points) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if reference is not None:
        ax.scatter(reference[:, 0], reference[:, 1], s=1, c="0.7", label="data")
    ax.scatter(points[:, 0], points[:, 1], s=1, c="C0", label="samples")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=5)
    fig.tight_layout()
    Path(file).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(file)
    plt.close(fig)
    return Path(file)
