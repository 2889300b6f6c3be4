"""Figures: image grids (as training writes them), Fig 3-style Langevin paths (rows X, G(Z), 5·Y named on the left,
columns by their step on top), scatter plots for 2-D toys, energy histograms (in- vs out-of-distribution) and
training curves from `stats.jsonl`, optionally smoothed by a moving average.

Grids and paths are drawn with PIL (pixel-exact tiles); the plots with matplotlib (`plot_*` return the figure,
`save_*` write it as a PNG)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hatebm.model import Model

ROW_LABEL_WIDTH = 48  # px left of a labelled grid (wider when a label needs it)
COLUMN_LABEL_HEIGHT = 20  # px above it
LABEL_GAP = 6
LABEL_FONT_SIZE = 12


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


def _grid_image(images: np.ndarray, nrow: int | None, scale: int) -> Image.Image:
    grid = image_grid(images, nrow)
    img = Image.fromarray(grid[..., 0] if grid.shape[2] == 1 else grid)
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST) if scale > 1 else img


def _save_image(img: Image.Image, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def save_grid(images: np.ndarray, path: str | Path, nrow: int | None = None, scale: int = 2) -> Path:
    """Write a PNG grid of uint8 N×H×W×C images, upscaled ``scale`` times (nearest) for viewing."""
    return _save_image(_grid_image(images, nrow, scale), path)


def path_labels(path: list[dict[str, torch.Tensor]], n_chains: int = 4, y_scale: float = 5.0
                ) -> tuple[list[str], list[str]]:
    """(row labels, column labels) of a path figure: X, G(Z) and ``y_scale``·Y per chain; the recorded steps."""
    chains = min(n_chains, path[0]["x"].shape[0])
    columns = [str(int(rec["step"])) if "step" in rec else str(i) for i, rec in enumerate(path)]
    return ["X", "G(Z)", f"{y_scale:g}·Y"] * chains, columns


def _font(size: int = LABEL_FONT_SIZE) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow ≥ 10.1: a scalable font
    except TypeError:
        return ImageFont.load_default()


def label_grid(grid: Image.Image, rows: list[str], columns: list[str], tile: tuple[int, int], pad: int = 2,
               scale: int = 1) -> Image.Image:
    """`grid` (an `image_grid` of `len(rows)` × `len(columns)` tiles of `tile` = (h, w) px, then upscaled `scale`
    times) with a white margin on the left naming each row and one on top naming each column."""
    font, (h, w) = _font(), tile
    widest = max(ImageDraw.Draw(grid).textlength(text, font=font) for text in rows)
    left = max(ROW_LABEL_WIDTH, int(widest) + 2 * LABEL_GAP)
    out = Image.new(grid.mode, (grid.width + left, grid.height + COLUMN_LABEL_HEIGHT), "white")
    out.paste(grid, (left, COLUMN_LABEL_HEIGHT))
    draw = ImageDraw.Draw(out)
    for r, text in enumerate(rows):
        y = COLUMN_LABEL_HEIGHT + (pad + r * (h + pad) + h / 2) * scale
        draw.text((left - LABEL_GAP, y), text, fill="black", font=font, anchor="rm")
    for q, text in enumerate(columns):
        x = left + (pad + q * (w + pad) + w / 2) * scale
        draw.text((x, COLUMN_LABEL_HEIGHT - LABEL_GAP / 2), text, fill="black", font=font, anchor="mb")
    draw.text((LABEL_GAP, COLUMN_LABEL_HEIGHT - LABEL_GAP / 2), "step", fill="black", font=font, anchor="lb")
    return out


def save_path_figure(path: list[dict[str, torch.Tensor]], file: str | Path, n_chains: int = 4,
                     y_scale: float = 5.0, crop: int | None = None, scale: int = 2, labels: bool = True) -> Path:
    """Fig 3-style Langevin paths: for each chain, three rows (X, G(Z), y_scale·Y) over the recorded steps,
    upscaled ``scale`` times, the rows named on the left and the columns by their step on top (``labels``).

    Y is shown as ``y_scale * Y`` around grey (Y = 0 is mid-grey), as in the paper's figure.
    """
    rows = []
    for c in range(min(n_chains, path[0]["x"].shape[0])):
        for key, factor in (("x", 1.0), ("gz", 1.0), ("y", y_scale)):
            rows.append(torch.stack([rec[key][c] * factor for rec in path]))
    from hatebm.data.transforms import to_uint8

    images = to_uint8(torch.cat(rows), crop)
    img = _grid_image(images, len(path), scale)
    if labels:
        img = label_grid(img, *path_labels(path, n_chains, y_scale), images.shape[1:3], scale=scale)
    return _save_image(img, file)


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


def save_samples_figure(samples: np.ndarray, file: str | Path) -> Path:
    """The preview PNG of a sample set: a 10-wide grid of its first 100 uint8 images, or a scatter of its 2-D points
    (float)."""
    if samples.dtype == np.uint8:
        return save_grid(samples[:100], file, nrow=10)
    return save_scatter(samples, file)


def save_model_path(model: Model, file: str | Path, chains: int = 4, steps: int | None = None,
                    every: int | None = None, y_scale: float = 5.0) -> Path:
    """Fig 3-style path figure of a loaded Hat EBM (`hatebm.model.load_model`): `chains` chains of its sampler for
    `steps` Langevin steps (default: its evaluation steps), recorded every `every` steps (default: 8 columns), Y
    shown as `y_scale`·Y."""
    if model.ebm is None or model.config.model.arch == "mlp":
        raise ValueError("path figures need an image Hat EBM (a tandem or joint run), not a generator or a 2-D toy")
    steps = model.sampler.steps if steps is None else steps
    if chains < 1 or steps < 1:
        raise ValueError(f"need at least one chain and one step, got chains={chains}, steps={steps}")
    every = every or max(1, steps // 8)
    result = model.sample(chains, steps=steps, record_every=every)
    return save_path_figure(result.path, file, n_chains=chains, y_scale=y_scale,
                            crop=model.info.crop_for(result.x.shape[-1]))


def legend_labels(specs: dict[str, str]) -> dict[str, str]:
    """Legend entries for sets {name: spec}: "name: spec", or the name alone where it is the spec (never
    "mnist: mnist")."""
    return {name: name if spec in (name, None) else f"{name}: {spec}" for name, spec in specs.items()}


def plot_energy_histogram(scores: dict[str, np.ndarray], bins: int = 60,
                          labels: dict[str, str] | None = None) -> Figure:
    """The figure of `save_energy_histogram`."""
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
    return fig


def save_energy_histogram(scores: dict[str, np.ndarray], file: str | Path, bins: int = 60,
                          labels: dict[str, str] | None = None) -> Path:
    """Overlaid histograms (densities, shared bins) of energy scores per set, e.g. "in" vs OOD sets (`hatebm ood`);
    `labels` renames sets in the legend (see `legend_labels`)."""
    return _save(plot_energy_histogram(scores, bins, labels), file)


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


def window_means(records: list[dict[str, Any]], key: str, windows: int = 5) -> list[float]:
    """The mean of ``key`` over ``windows`` consecutive, near-equal windows of the records that log it (a
    trajectory in a few numbers, e.g. the energy gap over training)."""
    values = np.array([r[key] for r in records if key in r], np.float64)
    if len(values) < windows:
        raise ValueError(f"{len(values)} records log {key!r}; {windows} windows need at least as many")
    return [float(w.mean()) for w in np.array_split(values, windows)]


def _check_window(window: int) -> None:
    if window < 1:
        raise ValueError(f"the smoothing window must be at least 1 (1 = no smoothing), got {window}")


def moving_average(values: Any, window: int) -> np.ndarray:
    """Trailing mean of each value and the `window` − 1 before it (fewer at the start, where there are fewer)."""
    _check_window(window)
    v = np.asarray(values, np.float64)
    total = np.concatenate([[0.0], np.cumsum(v)])
    end = np.arange(1, len(v) + 1)
    start = np.maximum(0, end - window)
    return (total[end] - total[start]) / (end - start)


def plot_training_curves(records: list[dict[str, Any]], keys: list[str] | None = None, smooth: int = 1) -> Figure:
    """The figure of `save_training_curves`."""
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
    _check_window(smooth)
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = _figure((4 * cols, 2.6 * rows), nrows=rows, ncols=cols, squeeze=False)
    for ax, key in zip(axes.flat, keys):
        steps, values = zip(*[(r["step"], r[key]) for r in records if numeric(r.get(key))])
        if smooth > 1:
            ax.plot(steps, values, lw=1, color="C0", alpha=0.25)
            ax.plot(steps, moving_average(values, smooth), lw=1.5, color="C0")
            ax.set_title(f"{key} (mean of {smooth})", fontsize=10)
        else:
            ax.plot(steps, values, lw=1, color="C0")
            ax.set_title(key, fontsize=10)
        ax.set_xlabel("step")
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    return fig


def save_training_curves(records: list[dict[str, Any]], file: str | Path, keys: list[str] | None = None,
                         smooth: int = 1) -> Path:
    """One panel per logged quantity (`keys`, default every numeric one but "step") against the step. With
    `smooth` = K > 1 each curve is the trailing moving average of K records (`moving_average`), drawn over the raw
    values in a faint line; 1 (the default) plots the raw values alone."""
    return _save(plot_training_curves(records, keys, smooth), file)
