"""FID and KID of samples against reference statistics, on Inception pool3 features: one implementation behind the
Python API and `hatebm fid calc`.

Every number comes with its protocol: the reference's (`hatebm.eval.reference`), the samples' and KID's. The
network and its preprocessing are in `hatebm.eval.inception`, the formulas in `hatebm.eval.metrics`.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from hatebm.eval import inception
from hatebm.eval.common import check_images
from hatebm.eval.metrics import KID_KERNEL, KID_SEED, KID_WHOLE_SETS, fid_of_features, kid, kid_subset
from hatebm.eval.reference import FOREIGN, FOREIGN_RESIZE, ReferenceStats

KID_FOREIGN = "not available: the reference is foreign statistics (mu and sigma only), KID needs its features"


def _check_reference(samples: np.ndarray, ref: ReferenceStats, weights: str | os.PathLike | None) -> str:
    """The resize mode for the samples: the reference's, after checking weights and resolution match it (a
    foreign reference cannot be checked: the original TF FID's resize)."""
    if ref.foreign:
        return FOREIGN_RESIZE
    sha = inception.weights_sha256(weights)
    if sha != ref.protocol["weights_sha256"]:
        raise ValueError(f"the reference was computed with Inception weights sha256 "
                         f"{ref.protocol['weights_sha256'][:12]}…, these weights are {sha[:12]}…: pass the same "
                         "weights file or recompute the reference")
    shape = ref.protocol.get("image_shape")
    if shape is not None and list(samples.shape[1:3]) != list(shape[:2]):
        raise ValueError(f"samples are {samples.shape[1]}×{samples.shape[2]} but the reference images are "
                         f"{shape[0]}×{shape[1]}: compare at one resolution (make the reference with "
                         f"size={samples.shape[1]})")
    return ref.protocol["resize"]


def compute_metrics(
    samples: np.ndarray, ref: ReferenceStats | str | os.PathLike, *, batch_size: int = 50,
    weights: str | os.PathLike | None = None, kid_subsets: int = 100, kid_subset_size: int = 1000,
    progress: bool = True, device: str | torch.device | None = None, source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """FID and KID of uint8 `samples` against reference statistics (a `ReferenceStats`, or the path of an .npz:
    hatebm's own or another tool's mu and sigma, see `hatebm.eval.reference`).

    The samples go through the reference's resize mode with the same weights (checked by sha256) and must have
    the reference images' resolution. Returns {"fid", "kid_mean", "kid_std", "protocol"}; `source` (where the
    samples came from, see `hatebm.eval.samples.load_samples`) is recorded in the protocol.

    KID is the mean over `kid_subsets` subsets of `kid_subset_size` images (at most the smaller set); when that
    is every image of both sets, it is computed once and `kid_std` is None (no spread measured, see
    `hatebm.eval.metrics.kid`). Against foreign statistics (no features) `kid_mean` and `kid_std` are None, FID
    is computed with the "tf" resize, and the protocol says hatebm cannot check the reference's choices.
    """
    ref = ref if isinstance(ref, ReferenceStats) else ReferenceStats.load(ref)
    check_images(samples, "samples")
    if len(samples) < 2:
        raise ValueError(f"samples: need at least 2 images for FID and KID, got {len(samples)}")
    resize = _check_reference(samples, ref, weights)
    features = inception.inception_features(samples, batch_size, weights, progress, resize, device)
    fid = fid_of_features(features, ref.mu, ref.sigma)
    samples_protocol = {"n": len(samples), "image_shape": list(samples.shape[1:]),
                        **({"source": source} if source else {})}
    if ref.foreign:
        kid_mean = kid_std = None
        kid_protocol: dict[str, Any] = {"available": False, "note": KID_FOREIGN}
        samples_protocol.update(resize=resize, network=inception.NETWORK, weights_sha256=inception.weights_sha256(
            weights), note=f"resize {resize} (the original TF FID's) for the samples; {FOREIGN}")
    else:
        kid_mean, kid_std = kid(features, ref.features, kid_subsets, kid_subset_size)
        m = kid_subset(len(features), len(ref.features), kid_subset_size)
        kid_protocol = {"subsets": 1 if kid_std is None else kid_subsets, "subset_size": m, "kernel": KID_KERNEL,
                        "seed": KID_SEED,
                        "spread": KID_WHOLE_SETS if kid_std is None else f"std over {kid_subsets} random subsets"}
    protocol = {"reference": {**ref.protocol, "name": ref.name}, "samples": samples_protocol, "kid": kid_protocol}
    return {"fid": fid, "kid_mean": kid_mean, "kid_std": kid_std, "protocol": protocol}


def describe(metrics: dict[str, Any]) -> str:
    """One line for people: "FID f  KID mean ± std", saying why when KID or its spread is missing."""
    fid = f"FID {metrics['fid']:.4f}"
    kid_protocol = metrics["protocol"]["kid"]
    if metrics["kid_mean"] is None:
        return f"{fid}  KID {kid_protocol.get('note', KID_FOREIGN)}"
    if metrics["kid_std"] is None:
        m = kid_protocol["subset_size"]
        return (f"{fid}  KID {metrics['kid_mean']:.6f} (one subset = all {m} images: no spread measured; "
                "pass --kid-subset-size below N for one)")
    return f"{fid}  KID {metrics['kid_mean']:.6f} ± {metrics['kid_std']:.6f}"
