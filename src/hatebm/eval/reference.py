"""Reference statistics for FID and KID: computed from a dataset once and cached under a name that encodes every
protocol choice (`reference_stats`), or read from the .npz of another tool (pytorch-fid's `--save-stats`,
clean-fid's stats, NVlabs/edm's `fid.py ref`: arrays `mu` and `sigma`).

FID and KID depend on which images, how many, their resolution, the resize to 299 and the exact weights, so a
reference carries its protocol and every metric reports it. A foreign file holds only the Gaussian (no features,
so no KID) and its protocol is what the writing tool chose: hatebm cannot check it, and says so (`FOREIGN`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hatebm import data
from hatebm.eval import inception
from hatebm.eval.common import check_fit, read_npz, save_npz, select_images
from hatebm.eval.metrics import feature_stats

REQUIRED_PROTOCOL = ("resize", "weights_sha256")
FOREIGN = ("foreign statistics: 2048-d pool3 of TF Inception, resize and image set as chosen by the tool that wrote "
           "it; hatebm cannot check them")
HINT = "recompute it with `hatebm fid ref`, or pass the .npz (mu, sigma) of pytorch-fid, clean-fid or edm"
FOREIGN_RESIZE = "tf"  # the samples' resize against a foreign reference: the original TF FID's


@dataclasses.dataclass(frozen=True, eq=False)
class ReferenceStats:
    """Statistics of reference images: mean and covariance (FID), the features themselves (KID; None for a foreign
    file, which holds only mu and sigma) and the protocol (`protocol["foreign"]` is True for a foreign file)."""

    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray | None
    protocol: dict[str, Any]
    path: Path | None = None

    def __post_init__(self) -> None:
        if self.foreign:
            return
        missing = [k for k in REQUIRED_PROTOCOL if k not in self.protocol]
        if missing:
            raise ValueError(f"reference protocol lacks {', '.join(missing)}: record the resize mode and the "
                             "weights sha256 (hatebm.eval.inception.weights_sha256) the features were made with")
        if self.features is None:
            raise ValueError("hatebm reference statistics need their features (for KID); a reference of mu and sigma "
                             "alone is a foreign one: build it with ReferenceStats.from_moments")

    @property
    def foreign(self) -> bool:
        """True for statistics written by another tool (mu and sigma only, protocol unknown to hatebm)."""
        return bool(self.protocol.get("foreign"))

    @property
    def name(self) -> str:
        return self.path.stem if self.path else "in-memory"

    @classmethod
    def from_features(cls, features: np.ndarray, protocol: dict[str, Any]) -> ReferenceStats:
        mu, sigma = feature_stats(features)
        return cls(mu, sigma, np.asarray(features, dtype=np.float32), dict(protocol))

    @classmethod
    def from_moments(cls, mu: Any, sigma: Any, source: str = "in memory", path: Path | None = None) -> ReferenceStats:
        """Foreign statistics: the mean [2048] and covariance [2048, 2048] of TF Inception pool3 features computed by
        another tool (`source` says which file or tool); one ValueError if the shapes are not those."""
        mu, sigma = check_moments(mu, sigma, inception.FEATURE_DIM, source)
        protocol = {"foreign": True, "statistics": FOREIGN, "source": source, "network": inception.NETWORK}
        return cls(mu, sigma, None, protocol, path)

    def save(self, path: str | os.PathLike) -> ReferenceStats:
        """Write an .npz (mu, sigma, features, protocol as JSON) atomically; returns the stats with `path` set."""
        if self.foreign:
            raise ValueError("foreign statistics are read, not rewritten: keep the file the other tool wrote")
        path = save_npz(path, {"mu": self.mu, "sigma": self.sigma, "features": self.features}, self.protocol)
        return dataclasses.replace(self, path=path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ReferenceStats:
        """A file written by `save` (`hatebm fid ref`), or a foreign .npz holding `mu` and `sigma` (no pickles)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no reference statistics file {path}; make one with `hatebm fid ref` or "
                                    "hatebm.eval.reference.reference_stats, or pass the .npz (mu, sigma) of "
                                    "pytorch-fid, clean-fid or edm")
        what = "a reference statistics file (arrays mu and sigma; hatebm's own also features and protocol)"
        arrays = read_npz(path, what, HINT)
        if "mu" not in arrays or "sigma" not in arrays:
            raise ValueError(f"{path} is not {what}: it holds {', '.join(sorted(arrays)) or 'no arrays'}; {HINT}")
        if "protocol" not in arrays:
            return cls.from_moments(arrays["mu"], arrays["sigma"], str(path), path)
        try:
            protocol = json.loads(str(arrays["protocol"]))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: its protocol is not JSON ({err}); {HINT}") from err
        if "features" not in arrays:
            raise ValueError(f"{path} is not {what}: it has a protocol but no features; {HINT}")
        features = arrays["features"]
        d = features.shape[1] if features.ndim == 2 else inception.FEATURE_DIM
        sigma = arrays["sigma"]  # the covariance of 1-d features is a scalar
        check_moments(arrays["mu"], sigma.reshape(d, d) if sigma.size == d * d else sigma, d, str(path))
        return cls(arrays["mu"], arrays["sigma"], features, protocol, path)


def check_moments(mu: Any, sigma: Any, d: int, source: str) -> tuple[np.ndarray, np.ndarray]:
    """``mu`` and ``sigma`` as float64 once checked: numbers of shapes (d,) and (d, d), finite, ``sigma`` symmetric
    (to 1e-5 of its largest entry); else one ValueError naming ``source``."""
    mu, sigma = np.asarray(mu), np.asarray(sigma)
    if mu.shape != (d,) or sigma.shape != (d, d) or not (np.issubdtype(mu.dtype, np.number)
                                                          and np.issubdtype(sigma.dtype, np.number)):
        raise ValueError(f"{source}: mu has shape {mu.shape} and sigma {sigma.shape} ({mu.dtype}, {sigma.dtype}), "
                         f"but FID statistics of TF Inception pool3 are numbers of shapes ({d},) and ({d}, {d}); "
                         "pass a file written for 2048-d pool3 features (pytorch-fid --dims 2048, clean-fid, edm)")
    mu, sigma = mu.astype(np.float64), sigma.astype(np.float64)
    for name, value in (("mu", mu), ("sigma", sigma)):
        if not np.isfinite(value).all():
            raise ValueError(f"{source}: {name} holds {np.size(value) - np.isfinite(value).sum()} non-finite values "
                             f"(NaN or inf), so no FID can be computed from it; {HINT}")
    asym = np.abs(sigma - sigma.T).max()
    if asym > 1e-5 * max(np.abs(sigma).max(), 1e-30):
        raise ValueError(f"{source}: sigma is not symmetric (|sigma - sigma.T| reaches {asym:.3g}), so it is not a "
                         f"covariance matrix; {HINT}")
    return mu, sigma


def is_statistics_file(path: str | os.PathLike) -> bool:
    """Whether `path` is meant as statistics rather than as images (a dataset): an .npz without an `images` array
    (an unreadable one counts as statistics, so that `ReferenceStats.load` says what is wrong with it)."""
    path = Path(path)
    if path.suffix != ".npz":
        return False
    try:
        with np.load(path, allow_pickle=False) as npz:
            return "images" not in npz.files
    except (ValueError, OSError, AttributeError, EOFError):
        return True


def statistics_reference(ref: Any, ref_n: int | None, n_name: str = "ref_n") -> bool:
    """Whether the reference ``ref`` is a statistics file (:func:`is_statistics_file`); one ValueError if ``ref_n``,
    which picks reference images, comes with one (checked before any sample is drawn). Errors name ``ref_n`` as
    ``n_name`` (the CLI's ``--ref-n``)."""
    statistics = isinstance(ref, (str, os.PathLike)) and is_statistics_file(ref)
    if statistics and ref_n is not None:
        raise ValueError(f"{n_name} picks reference images, but {ref} holds statistics already: drop {n_name}")
    return statistics


def reference_name(protocol: dict[str, Any]) -> str:
    """Cache file stem: readable dataset, split, selection, shape and resize, then a hash of the whole protocol
    (so a change in any choice, weights or data gives a new name)."""
    p = protocol
    pick = {"all": "all", "first": f"first{p['n']}"}.get(p["subset"], f"random{p['n']}-seed{p['seed']}")
    shape = "x".join(str(s) for s in p["image_shape"])
    digest = hashlib.sha256(json.dumps(p, sort_keys=True).encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{p['dataset']}_{p['split']}").strip("-")
    return f"{slug}_{pick}_{shape}_{p['resize']}_{digest}"


def reference_stats(
    dataset: str, split: str = "test", n: int | None = None, *, root: str | os.PathLike | None = None,
    subset: str = "random", seed: int = 0, size: int | None = None, fit: str = "pad", resize: str = "tf",
    weights: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None, batch_size: int = 50,
    progress: bool = True, device: str | torch.device | None = None, n_name: str = "n",
) -> ReferenceStats:
    """Reference statistics of `dataset`/`split`, computed once and cached as an .npz in `cache_dir`
    (default `hatebm.data.cache_dir()/fid`).

    `n` images are picked by `subset` ("random" with `seed`, or "first"); with `size` they are brought to
    size×size exactly as training data is (`hatebm.data.to_model` with mode `fit`: "pad", "crop" or "resize")
    and back to uint8, so they match samples of a model trained at that size (a size equal to the images' own
    counts as no size); errors name `n` as `n_name`. The cache name and the stored
    protocol record dataset, split, n, rule, seed, image shape, fit, resize, weights sha256 and data sha256.
    """
    check_fit(fit)
    inception.check_resize(resize)
    images, picked = select_images(data.load_images(dataset, split, root), n, subset, seed, n_name)
    if size is not None and images.shape[1:3] == (size, size):
        size = None  # already that size: one protocol (and cache entry) for "native"
    if size is not None:
        images = data.to_uint8(data.to_model(images, size, fit))
    protocol = {
        "dataset": dataset, "split": split, **picked, "size": size, "fit": fit if size is not None else None,
        "image_shape": list(images.shape[1:]), "resize": resize, "network": inception.NETWORK,
        "weights_sha256": inception.weights_sha256(weights),
        "data_sha256": hashlib.sha256(np.ascontiguousarray(images)).hexdigest(),
    }
    path = Path(cache_dir or data.cache_dir() / "fid") / f"{reference_name(protocol)}.npz"
    if path.is_file():
        return ReferenceStats.load(path)
    features = inception.inception_features(images, batch_size, weights, progress, resize, device)
    return ReferenceStats.from_features(features, protocol).save(path)
