"""The mathematics of FID and KID on feature vectors (numpy only): Gaussian statistics, the Fréchet distance and
the kernel MMD estimate, whatever network made the features.

FID (Heusel et al. 2017) is the Fréchet distance between Gaussians fitted to the features of samples and of
reference images; KID (Bińkowski et al. 2018) is an unbiased polynomial-kernel MMD² on the same features.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg

KID_SEED = 2020  # torch-fidelity's default subset seed
KID_KERNEL = "(x.y/d + 1)^3"
KID_WHOLE_SETS = ("one subset: the subset size equals both set sizes, so every subset would be all images; the MMD "
                  "is computed once and no spread is measured (kid_std None)")


def features_2d(features: Any, what: str) -> np.ndarray:
    """`features` as float64 [N, D] with N ≥ 2, or one clear ValueError."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array [N, D] of feature vectors, got shape {f.shape}")
    if len(f) < 2:
        raise ValueError(f"{what}: need at least 2 images (feature vectors) for statistics, got {len(f)}")
    return f


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean [D], covariance [D, D]) of features [N, D] in float64 (unbiased covariance, N ≥ 2)."""
    f = features_2d(features, "features")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6,
    features1: np.ndarray | None = None,
) -> float:
    """Fréchet distance of N(mu1, sigma1) and N(mu2, sigma2): ||mu1 − mu2||² + Tr(S1 + S2 − 2 (S1 S2)^½).

    As in the reference FID code, (S1 S2)^½ comes from `scipy.linalg.sqrtm`; if it is not finite, eps·I is added to
    both covariances; an imaginary part on its diagonal above 1e-3 is an error, below it is dropped.
    With `features1` ([N, D], the features behind mu1 and sigma1) and N ≤ D, the trace is computed exactly in
    N dimensions instead: with A the centred features, S1 = AᵀA/(N−1) and the nonzero eigenvalues of S1 S2 are
    those of the symmetric PSD matrix A S2 Aᵀ/(N−1), so Tr (S1 S2)^½ = Σ √λ. This is the same number from an N×N
    eigenvalue problem, which is much cheaper than a D×D `sqrtm` and well conditioned where S1 is singular.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"mismatched statistics: mu {mu1.shape} / {mu2.shape}, sigma {sigma1.shape} / {sigma2.shape}; "
                         "both sides must come from the same feature network")
    diff = mu1 - mu2
    if features1 is not None and len(features1) <= d:
        centred = features_2d(features1, "features1") - mu1
        eigenvalues = np.linalg.eigvalsh(centred @ sigma2 @ centred.T / (len(centred) - 1))
        tr_covmean = np.sqrt(eigenvalues.clip(min=0)).sum()
    else:
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = eps * np.eye(d)
            covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
        if np.iscomplexobj(covmean):
            imaginary = np.abs(np.diagonal(covmean).imag).max()
            if imaginary > 1e-3:
                raise ValueError(f"the square root of the covariance product has an imaginary diagonal part of "
                                 f"{imaginary:.3g}: the statistics are numerically unsound; use more images")
            covmean = covmean.real
        tr_covmean = np.trace(covmean)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def fid_of_features(features: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    """FID of a set's features [N, D] against a reference's moments: :func:`frechet_distance` with the set's own
    features, so the trace is exact in N dimensions where N ≤ D."""
    return frechet_distance(*feature_stats(features), mu, sigma, features1=features)


def kid_subset(n1: int, n2: int, subset_size: int = 1000) -> int:
    """The vectors per KID subset: min(subset_size, n1, n2)."""
    return min(subset_size, n1, n2)


def _mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² of two equally large sets with the kernel k(x, y) = (x·y / D + 1)³."""
    m, dim = len(x), x.shape[1]
    kxx, kyy, kxy = ((a @ b.T / dim + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    within = kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)
    return float(within / (m * (m - 1)) - 2 * kxy.mean())


def kid(
    feats1: np.ndarray, feats2: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = KID_SEED
) -> tuple[float, float | None]:
    """Kernel Inception Distance: (mean, std) over `subsets` of the unbiased MMD² estimate with the kernel
    k(x, y) = (x·y / D + 1)³, each on m = min(subset_size, N1, N2) vectors drawn without replacement from each set
    (as torch-fidelity and clean-fid).

    When m equals both N1 and N2, every subset would be all of both sets (the estimate does not depend on their
    order), so the spread over subsets is zero by construction, not a measurement: the MMD² is computed once and
    the std is None. Pass a subset size below N for a measured spread.
    """
    f1, f2 = features_2d(feats1, "feats1"), features_2d(feats2, "feats2")
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"feature sizes differ: {f1.shape[1]} vs {f2.shape[1]}; use the same network for both sets")
    if subsets < 1 or subset_size < 2:
        raise ValueError(f"KID needs subsets ≥ 1 and subset_size ≥ 2, got {subsets} and {subset_size}")
    m = kid_subset(len(f1), len(f2), subset_size)
    if m == len(f1) == len(f2):
        return _mmd2(f1, f2), None
    rng = np.random.default_rng(seed)
    mmd = np.array([_mmd2(f1[rng.choice(len(f1), m, replace=False)], f2[rng.choice(len(f2), m, replace=False)])
                    for _ in range(subsets)])
    return float(mmd.mean()), float(mmd.std())
