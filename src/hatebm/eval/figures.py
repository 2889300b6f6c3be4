"""Figures: image grids, Fig 3-style Langevin paths (rows X, G(Z), 5*Y), scatter plots for 2-D toys, energy histograms
(in- vs out-of-distribution) and training curves from `stats.jsonl`."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hatebm.generate import LoadedModel


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


def _figure(figsize: tuple[float, float], **subplots: Any) -> tuple[Figure, Any]:
    """A matplotlib figure (no pyplot, no window: rendered by Agg when saved) and its axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=100)
    return fig, fig.subplots(**subplots)


def _save(fig: Figure, file: str | Path) -> Path:
    fig.tight_layout()
    Path(file).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(file)
    return Path(file)


def save_scatter(points: np.ndarray, file: str | Path, reference: np.ndarray | None = None) -> Path:
    """Scatter plot of 2-D samples (and optional reference points) as a PNG."""
    fig, ax = _figure((4, 4))
    if reference is not None:
        ax.scatter(reference[:, 0], reference[:, 1], s=1, c="0.7", label="data")
    ax.scatter(points[:, 0], points[:, 1], s=1, c="C0", label="samples")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=5)
    return _save(fig, file)


def save_model_path(model: LoadedModel, file: str | Path, chains: int = 4, steps: int | None = None,
                    every: int | None = None) -> Path:
    """Fig 3-style path figure of a loaded Hat EBM (`hatebm.generate.load_model`): `chains` chains of its sampler for
    `steps` Langevin steps (default: its evaluation steps), recorded every `every` steps (default: 8 columns)."""
    if model.ebm is None or model.config.model.arch == "mlp":
        raise ValueError("path figures need an image Hat EBM (a tandem or joint run), not a generator or a 2-D toy")
    steps = model.sampler.steps if steps is None else steps
    if chains < 1 or steps < 1:
        raise ValueError(f"need at least one chain and one step, got chains={chains}, steps={steps}")
    every = every or max(1, steps // 8)
    result = model.ebm.sample(chains, model.mode, model.sampler, steps=steps, record_every=every)
    info = model.info
    return save_path_figure(result.path, file, n_chains=chains, crop=info.height if info.height < result.x.shape[-1]
                            else None)


def save_energy_histogram(scores: dict[str, np.ndarray], file: str | Path, bins: int = 60,
                          labels: dict[str, str] | None = None) -> Path:
    """Overlaid histograms (densities, shared bins) of energy scores per set, e.g. "in" vs OOD sets (`hatebm ood`);
    `labels` renames sets in the legend."""
    if not scores or any(len(s) == 0 for s in scores.values()):
        raise ValueError("energy histogram: need at least one set and no empty set of scores")
    values = np.concatenate([np.asarray(s, np.float64) for s in scores.values()])
    if not np.isfinite(values).all():
        raise ValueError("energy histogram: the scores hold non-finite values (a diverged model?)")
    edges = np.histogram_bin_edges(values, bins)
    fig, ax = _figure((6, 4))
    for name, s in scores.items():
        ax.hist(s, edges, density=True, histtype="stepfilled", alpha=0.4, label=(labels or {}).get(name, name))
    ax.set_xlabel("H(x)  (higher = more out-of-distribution)")
    ax.set_ylabel("density")
    ax.legend()
    return _save(fig, file)


def read_stats(path: str | Path) -> list[dict[str, Any]]:
    """The records of a run's `stats.jsonl` (a run folder or the file itself)."""
    path = Path(path)
    path = path / "stats.jsonl" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"no training statistics at {path}: pass a run folder or its stats.jsonl")
    try:
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not JSON lines ({err}); pass the stats.jsonl a training run wrote") from err
    if not records:
        raise ValueError(f"{path} holds no records yet: let the run log at least one step")
    return records


def save_training_curves(records: list[dict[str, Any]], file: str | Path, keys: list[str] | None = None) -> Path:
    """One panel per logged quantity (`keys`, default every numeric one but "step") against the step."""
    numeric = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    available = [k for k in dict.fromkeys(k for r in records for k in r) if k != "step"
                 and any(numeric(r.get(k)) for r in records)]
    keys = keys or available
    unknown = [k for k in keys if k not in available]
    if unknown:
        raise ValueError(f"no numeric values for {', '.join(unknown)} in the statistics; "
                         f"logged: {', '.join(available)}")
    if not keys:
        raise ValueError("the statistics hold no numeric quantities to plot")
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = _figure((4 * cols, 2.6 * rows), nrows=rows, ncols=cols, squeeze=False)
    for ax, key in zip(axes.flat, keys):
        points = [(r["step"], r[key]) for r in records if numeric(r.get(key))]
        ax.plot(*zip(*points), lw=1)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("step")
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    return _save(fig, file)
