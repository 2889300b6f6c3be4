"""FID and KID on Inception pool3 features: one implementation behind the Python API and `hatebm fid`.

FID (Heusel et al. 2017) is the Fréchet distance between Gaussians fitted to the features of samples and of
reference images; KID (Bińkowski et al. 2018) is an unbiased polynomial-kernel MMD² on the same features.
Both depend on every protocol choice (which images, how many, their resolution, the resize to 299, the exact
weights), so reference statistics are cached under a name that encodes all of them and every reported number
carries its protocol. The network and its preprocessing are described in `hatebm.eval.inception`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
import torch
from tqdm.auto import tqdm

from hatebm import data
from hatebm.data.transforms import MODES as FIT_MODES
from hatebm.eval import inception

NETWORK = "TF Inception-2015-12-05 pool3 (2048-d)"
SUBSET_RULES = ("random", "first")
REQUIRED_PROTOCOL = ("resize", "weights_sha256")
KID_SEED = 2020  # torch-fidelity's default subset seed


def check_images(images: Any, what: str = "images") -> None:
    """Raise one clear ValueError unless `images` is a non-empty uint8 N×H×W×C array with C in {1, 3}."""
    if not isinstance(images, np.ndarray):
        raise ValueError(f"{what} must be a numpy array of uint8 N×H×W×C images, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8 in 0..255, got {images.dtype}; convert model outputs in [-1, 1] "
                         "with hatebm.data.to_uint8 or np.clip(np.rint((x + 1) * 127.5), 0, 255).astype(np.uint8)")
    if images.ndim != 4 or images.shape[3] not in (1, 3):
        raise ValueError(f"{what} must be N×H×W×C with C = 1 (grey) or 3 (RGB), got shape {images.shape}; "
                         "give grey N×H×W images a channel axis with x[..., None]")
    if len(images) == 0:
        raise ValueError(f"{what} is empty: FID and KID need at least 2 images")


def _features_2d(features: Any, what: str) -> np.ndarray:
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array [N, D] of feature vectors, got shape {f.shape}")
    if len(f) < 2:
        raise ValueError(f"{what}: need at least 2 images (feature vectors) for statistics, got {len(f)}")
    return f


@contextlib.contextmanager
def _all_cores() -> Iterator[None]:
    """Use every CPU core (`os.cpu_count()`, or `$OMP_NUM_THREADS` where set: on a machine shared with other
    jobs, fewer threads than cores are much faster) and exact float32 (no TF32) convolutions on GPUs; restore both."""
    threads, tf32 = torch.get_num_threads(), torch.backends.cudnn.allow_tf32
    env = os.environ.get("OMP_NUM_THREADS", "")
    torch.set_num_threads(int(env) if env.isdigit() and int(env) > 0 else os.cpu_count() or 1)
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.backends.cudnn.allow_tf32 = tf32


def inception_features(
    images: np.ndarray, batch_size: int = 50, weights: str | os.PathLike | None = None, progress: bool = True,
    resize: str = "tf", device: str | torch.device | None = None,
) -> np.ndarray:
    """float32 [N, 2048] pool3 features of uint8 N×H×W×C images (grey repeated to RGB, resized to 299 by `resize`).

    Runs in batches under `torch.inference_mode` on `device` (default: CUDA if available, else all CPU cores;
    `$OMP_NUM_THREADS` caps the threads).
    """
    check_images(images)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if resize not in inception.RESIZE_MODES:
        raise ValueError(f"unknown resize mode {resize!r}: use one of {', '.join(inception.RESIZE_MODES)}")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    net = inception.load_inception(weights, device)
    out = np.empty((len(images), inception.FEATURE_DIM), dtype=np.float32)
    with _all_cores(), torch.inference_mode(), tqdm(
        total=len(images), unit="img", desc="Inception features", disable=not progress
    ) as bar:
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            out[start : start + len(batch)] = net(inception.preprocess(batch, resize, device)).cpu().numpy()
            bar.update(len(batch))
    return out


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean [D], covariance [D, D]) of features [N, D] in float64 (unbiased covariance, N ≥ 2)."""
    f = _features_2d(features, "features")
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
    those of the symmetric PSD matrix A S2 Aᵀ/(N−1), so Tr (S1 S2)^½ = Σ √λ. This is the same number, obtained
    in well under a second where a 2048×2048 `sqrtm` takes tens of seconds on a CPU (and is ill-conditioned
    then, S1 being singular).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"mismatched statistics: mu {mu1.shape} / {mu2.shape}, sigma {sigma1.shape} / {sigma2.shape}; "
                         "both sides must come from the same feature network")
    diff = mu1 - mu2
    if features1 is not None and len(features1) <= d:
        centred = _features_2d(features1, "features1") - mu1
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


def kid(
    feats1: np.ndarray, feats2: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = KID_SEED
) -> tuple[float, float]:
    """Kernel Inception Distance: (mean, std) over `subsets` of the unbiased MMD² estimate with the kernel
    k(x, y) = (x·y / D + 1)³, each on min(subset_size, N1, N2) vectors drawn without replacement from each set
    (as torch-fidelity and clean-fid)."""
    f1, f2 = _features_2d(feats1, "feats1"), _features_2d(feats2, "feats2")
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"feature sizes differ: {f1.shape[1]} vs {f2.shape[1]}; use the same network for both sets")
    if subsets < 1 or subset_size < 2:
        raise ValueError(f"KID needs subsets ≥ 1 and subset_size ≥ 2, got {subsets} and {subset_size}")
    m, dim = min(subset_size, len(f1), len(f2)), f1.shape[1]
    rng = np.random.default_rng(seed)
    mmd = np.empty(subsets)
    for i in range(subsets):
        x, y = f1[rng.choice(len(f1), m, replace=False)], f2[rng.choice(len(f2), m, replace=False)]
        kxx, kyy, kxy = ((a @ b.T / dim + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
        within = kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)
        mmd[i] = within / (m * (m - 1)) - 2 * kxy.mean()
    return float(mmd.mean()), float(mmd.std())


@dataclasses.dataclass(frozen=True, eq=False)
class ReferenceStats:
    """Statistics of reference images: mean and covariance (FID), the features themselves (KID) and the protocol."""

    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray
    protocol: dict[str, Any]
    path: Path | None = None

    def __post_init__(self) -> None:
        missing = [k for k in REQUIRED_PROTOCOL if k not in self.protocol]
        if missing:
            raise ValueError(f"reference protocol lacks {', '.join(missing)}: record the resize mode and the "
                             "weights sha256 (hatebm.eval.inception.weights_sha256) the features were made with")

    @classmethod
    def from_features(cls, features: np.ndarray, protocol: dict[str, Any]) -> ReferenceStats:
        mu, sigma = feature_stats(features)
        return cls(mu, sigma, np.asarray(features, dtype=np.float32), dict(protocol))

    def save(self, path: str | os.PathLike) -> ReferenceStats:
        """Write an .npz (mu, sigma, features, protocol as JSON) atomically; returns the stats with `path` set."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz.tmp", delete=False) as f:
            np.savez(f, mu=self.mu, sigma=self.sigma, features=self.features,
                     protocol=np.array(json.dumps(self.protocol, sort_keys=True)))
        os.replace(f.name, path)
        return dataclasses.replace(self, path=path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ReferenceStats:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no reference statistics file {path}; make one with `hatebm fid ref` or "
                                    "hatebm.eval.fid.reference_stats")
        try:
            with np.load(path, allow_pickle=False) as npz:
                return cls(npz["mu"], npz["sigma"], npz["features"], json.loads(str(npz["protocol"])), path)
        except (KeyError, ValueError, TypeError, OSError) as err:
            raise ValueError(f"{path} is not a reference statistics file (needs mu, sigma, features, protocol): {err}; "
                             "recompute it with `hatebm fid ref`") from err


def reference_name(protocol: dict[str, Any]) -> str:
    """Cache file stem: readable dataset, split, selection, shape and resize, then a hash of the whole protocol
    (so a change in any choice, weights or data gives a new name)."""
    p = protocol
    pick = {"all": "all", "first": f"first{p['n']}"}.get(p["subset"], f"random{p['n']}-seed{p['seed']}")
    shape = "x".join(str(s) for s in p["image_shape"])
    digest = hashlib.sha256(json.dumps(p, sort_keys=True).encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{p['dataset']}_{p['split']}").strip("-")
    return f"{slug}_{pick}_{shape}_{p['resize']}_{digest}"


def select_images(
    images: np.ndarray, n: int | None, subset: str = "random", seed: int = 0
) -> tuple[np.ndarray, dict[str, Any]]:
    """The n images to use (all when n is None or the whole set) and the rule as protocol entries:
    "random" = a seeded subset without replacement (kept in dataset order), "first" = the first n."""
    if subset not in SUBSET_RULES:
        raise ValueError(f"unknown subset rule {subset!r}: use one of {', '.join(SUBSET_RULES)}")
    total = len(images)
    if n is None or n == total:
        return images, {"n": total, "subset": "all", "seed": None, "n_split": total}
    if not 2 <= n <= total:
        raise ValueError(f"n must be between 2 and the {total} images available, got {n}")
    if subset == "first":
        return images[:n], {"n": int(n), "subset": "first", "seed": None, "n_split": total}
    index = np.sort(np.random.default_rng(seed).choice(total, n, replace=False))
    return images[index], {"n": int(n), "subset": "random", "seed": int(seed), "n_split": total}


def reference_stats(
    dataset: str, split: str = "test", n: int | None = None, *, root: str | os.PathLike | None = None,
    subset: str = "random", seed: int = 0, size: int | None = None, fit: str = "pad", resize: str = "tf",
    weights: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None, batch_size: int = 50,
    progress: bool = True, device: str | torch.device | None = None,
) -> ReferenceStats:
    """Reference statistics of `dataset`/`split`, computed once and cached as an .npz in `cache_dir`
    (default `hatebm.data.cache_dir()/fid`).

    `n` images are picked by `subset` ("random" with `seed`, or "first"); with `size` they are brought to
    size×size exactly as training data is (`hatebm.data.to_model` with mode `fit`: "pad", "crop" or "resize")
    and back to uint8, so they match samples of a model trained at that size (a size equal to the images' own
    counts as no size). The cache name and the stored
    protocol record dataset, split, n, rule, seed, image shape, fit, resize, weights sha256 and data sha256.
    """
    if fit not in FIT_MODES:
        raise ValueError(f"unknown fit mode {fit!r}: use one of {', '.join(FIT_MODES)}")
    if resize not in inception.RESIZE_MODES:
        raise ValueError(f"unknown resize mode {resize!r}: use one of {', '.join(inception.RESIZE_MODES)}")
    images, picked = select_images(data.load_images(dataset, split, root), n, subset, seed)
    if size is not None and images.shape[1:3] == (size, size):
        size = None  # already that size: one protocol (and cache entry) for "native"
    if size is not None:
        images = data.to_uint8(data.to_model(images, size, fit))
    protocol = {
        "dataset": dataset, "split": split, **picked, "size": size, "fit": fit if size is not None else None,
        "image_shape": list(images.shape[1:]), "resize": resize, "network": NETWORK,
        "weights_sha256": inception.weights_sha256(weights),
        "data_sha256": hashlib.sha256(np.ascontiguousarray(images)).hexdigest(),
    }
    path = Path(cache_dir or data.cache_dir() / "fid") / f"{reference_name(protocol)}.npz"
    if path.is_file():
        return ReferenceStats.load(path)
    features = inception_features(images, batch_size, weights, progress, resize, device)
    return ReferenceStats.from_features(features, protocol).save(path)


def compute_metrics(
    samples: np.ndarray, ref: ReferenceStats | str | os.PathLike, *, batch_size: int = 50,
    weights: str | os.PathLike | None = None, kid_subsets: int = 100, kid_subset_size: int = 1000,
    progress: bool = True, device: str | torch.device | None = None, source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """FID and KID of uint8 `samples` against reference statistics (a `ReferenceStats` or its .npz path).

    The samples go through the reference's resize mode with the same weights (checked by sha256) and must have
    the reference images' resolution. Returns {"fid", "kid_mean", "kid_std", "protocol"}; `source` (where the
    samples came from, see `load_samples`) is recorded in the protocol.
    """
    ref = ref if isinstance(ref, ReferenceStats) else ReferenceStats.load(ref)
    check_images(samples, "samples")
    if len(samples) < 2:
        raise ValueError(f"samples: need at least 2 images for FID and KID, got {len(samples)}")
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
    features = inception_features(samples, batch_size, weights, progress, ref.protocol["resize"], device)
    fid = frechet_distance(*feature_stats(features), ref.mu, ref.sigma, features1=features)
    kid_mean, kid_std = kid(features, ref.features, kid_subsets, kid_subset_size)
    protocol = {
        "reference": {**ref.protocol, "name": ref.path.stem if ref.path else "in-memory"},
        "samples": {"n": len(samples), "image_shape": list(samples.shape[1:]),
                    **({"source": source} if source else {})},
        "kid": {"subsets": kid_subsets, "subset_size": min(kid_subset_size, len(samples), len(ref.features)),
                "kernel": "(x.y/d + 1)^3", "seed": KID_SEED},
    }
    return {"fid": fid, "kid_mean": kid_mean, "kid_std": kid_std, "protocol": protocol}


def write_metrics(path: str | os.PathLike, metrics: dict[str, Any], key: str | None = None) -> Path:
    """Merge `metrics` (numbers with their "protocol") under `key` into the JSON file `path`, atomically.

    The default key, "fid/<reference name>/n<samples>", keeps evaluations under different protocols side by side
    and replaces an earlier one under the same protocol.
    """
    path = Path(path)
    if key is None:
        protocol = metrics["protocol"]
        key = f"fid/{protocol['reference']['name']}/n{protocol['samples']['n']}"
    merged = json.loads(path.read_text()) if path.is_file() else {}
    if not isinstance(merged, dict):
        raise ValueError(f"{path} does not hold a JSON object; move it away or pass another path")
    merged[key] = metrics
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".json.tmp", delete=False) as f:
        json.dump(merged, f, indent=2, sort_keys=True)
    os.replace(f.name, path)
    return path


def sample_checkpoint(
    path: str | os.PathLike, n: int = 1000, *, steps: int | None = None, seed: int = 0,
    device: str | torch.device | None = None, batch_size: int = 250, progress: bool = True,
) -> tuple[np.ndarray, dict[str, Any]]:
    """`n` uint8 samples of a run folder's newest checkpoint (or a checkpoint folder), drawn with `hatebm.generate.draw`
    (the run's sampler, `steps` Langevin steps, default the model's evaluation steps) from torch seed `seed`,
    and how they were made: {"checkpoint", "step", "steps", "seed", "n"}."""
    from hatebm.checkpoint import resolve
    from hatebm.generate import draw, load_model

    folder = resolve(path)
    model = load_model(folder, device or ("cuda" if torch.cuda.is_available() else "cpu"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        samples = draw(model, n, steps=steps, batch_size=batch_size, progress=progress)
    if samples.dtype != np.uint8:
        raise ValueError(f"{path} is a 2-D toy model: its samples are points, not images")
    used = model.sampler.steps if steps is None else steps
    return samples, {"checkpoint": str(folder), "step": model.step, "steps": used, "seed": seed, "n": n}


def load_samples(
    path: str | os.PathLike, n: int | None = None, *, steps: int | None = None, seed: int = 0,
    device: str | torch.device | None = None, progress: bool = True,
) -> tuple[np.ndarray, dict[str, Any]]:
    """(uint8 N×H×W×C samples, their source) from an .npz (array `images`), a folder of image files (PNG, ...), or a
    run or checkpoint folder: then `n` (default 1000) samples are drawn on the fly (`sample_checkpoint`).
    For files, `n` keeps the first n images."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no samples at {path}: pass an .npz holding uint8 images (array `images`), a "
                                "folder of PNG images, or a run or checkpoint folder to sample from")
    if path.suffix == ".safetensors" or (path.is_dir() and any(path.rglob("*.safetensors"))):
        folder = path.parent if path.is_file() else path
        return sample_checkpoint(folder, 1000 if n is None else n, steps=steps, seed=seed, device=device,
                                 progress=progress)
    images = data.load_images("folder", root=path) if path.is_dir() else data.load_images("npz", root=path)
    if n is not None:
        if not 2 <= n <= len(images):
            raise ValueError(f"n must be between 2 and the {len(images)} samples in {path}, got {n}")
        images = images[:n]
    return images, {"path": str(path), "n": len(images)}
