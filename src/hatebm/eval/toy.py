"""Exact metrics of 2-D samples against a toy density with a known normalised density (:mod:`hatebm.data.toy`):
the 2-D studies' stand-ins for FID.

- ``kl``: KL(truth || samples) over a grid, the truth's cell probabilities from its exact density (midpoint rule,
  renormalised on the grid), the samples' from a histogram with add-``alpha`` smoothing;
- ``mmd2``: unbiased squared MMD (Gretton et al. 2012) to fresh true samples, Gaussian kernels of several
  bandwidths summed;
- ``mode_tv``: total variation between the samples' mode weights (nearest mode) and the truth's equal weights;
- ``in_mode``: the fraction of samples within 3 std of a mode (a Gaussian's centre, a ring's radius).
"""
from __future__ import annotations

import torch
from torch import Tensor

from hatebm.data.toy import ToyDistribution


def mmd2(x: Tensor, y: Tensor, bandwidths: tuple[float, ...] = (0.05, 0.2, 1.0)) -> float:
    """Unbiased squared MMD between the sets ``x`` [n, d] and ``y`` [m, d] (0 in expectation for equal laws)."""
    x, y = x.double(), y.double()

    def k(a: Tensor, b: Tensor) -> Tensor:
        d2 = torch.cdist(a, b).pow(2)
        return sum(torch.exp(-d2 / (2 * h**2)) for h in bandwidths)

    n, m = len(x), len(y)
    kxx, kyy = k(x, x), k(y, y)
    within = (kxx.sum() - kxx.diag().sum()) / (n * (n - 1)) + (kyy.sum() - kyy.diag().sum()) / (m * (m - 1))
    return (within - 2 * k(x, y).mean()).item()


def grid_kl(truth: ToyDistribution, x: Tensor, bins: int = 60, lim: float = 3.0, alpha: float = 0.5) -> float:
    """KL(truth || histogram of ``x``) over a ``bins``×``bins`` grid on [-lim, lim]² (samples outside are dropped)."""
    edges = torch.linspace(-lim, lim, bins + 1, dtype=torch.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    p = truth.log_prob(torch.cartesian_prod(centres, centres)).exp()
    p = p / p.sum()
    ix = torch.bucketize(x[:, 0].double(), edges) - 1
    iy = torch.bucketize(x[:, 1].double(), edges) - 1
    inside = (ix >= 0) & (ix < bins) & (iy >= 0) & (iy < bins)
    counts = torch.bincount(ix[inside] * bins + iy[inside], minlength=bins * bins).double()
    q = (counts + alpha) / (counts.sum() + alpha * bins * bins)
    keep = p > 0
    return (p[keep] * (p[keep] / q[keep]).log()).sum().item()


def mode_weights(truth: ToyDistribution, x: Tensor, within: float | None = None) -> Tensor:
    """The share of the samples ``x`` whose nearest mode is each of the truth's modes [k] (float64); with ``within``,
    only the samples within ``within`` std of it count (the shares then sum to the in-mode fraction)."""
    d = truth.mode_distances(x)
    nearest = d.argmin(1)
    if within is not None:
        nearest = nearest[d.min(1).values < within * truth.std]
    return torch.bincount(nearest, minlength=d.shape[1]).double() / len(x)


def mode_stats(truth: ToyDistribution, x: Tensor) -> tuple[float, float]:
    """(fraction of ``x`` within 3 std of a mode, TV between the mode weights of ``x`` and the uniform)."""
    weights = mode_weights(truth, x)
    k = len(weights)
    in_mode = (truth.mode_distances(x).min(1).values < 3 * truth.std).double().mean().item()
    return in_mode, 0.5 * (weights - 1 / k).abs().sum().item()


def toy_metrics(truth: ToyDistribution, x: Tensor, ref: Tensor) -> dict[str, float]:
    """``kl``, ``mmd2`` (against the true samples ``ref``), ``mode_tv`` and ``in_mode`` of the samples ``x`` [n, 2]."""
    in_mode, tv = mode_stats(truth, x)
    return {"kl": grid_kl(truth, x), "mmd2": mmd2(x, ref), "mode_tv": tv, "in_mode": in_mode}
