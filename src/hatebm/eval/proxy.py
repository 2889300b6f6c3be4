"""Proxy FID (classifier features): a fast stand-in for FID on CPUs, NOT FID.

The Fréchet distance (the formula of FID, `hatebm.eval.metrics.frechet_distance`) between Gaussians fitted to the
64-d penultimate-layer features (before the ReLU) of `ProxyNet`, a small CNN classifier trained on the Fashion-MNIST
training split (`train_classifier`, `hatebm proxy-fid train`; its weights ship with hatebm, ~240 KB). It reads 28×28
inputs with three small convolutions instead of resizing to 299×299 for Inception, so features of a whole test split
take seconds on one CPU core rather than tens of minutes. The numbers track sample quality
on grey 28×28 data under one fixed protocol; they are not comparable with Inception FID, with papers, or across
classifier weights, so every result is labelled `LABEL`, stored under its own key and carries its own protocol
(with the weights' sha256).
"""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

from hatebm.data import to_model
from hatebm.options import check_seed
from hatebm.eval.common import adapt, check_images, key_part, load_set, write_metrics
from hatebm.eval.metrics import feature_stats, fid_of_features

LABEL = "proxy FID (classifier features)"
NOTE = "not FID: Fréchet distance of a small Fashion-MNIST classifier's features; comparable only under this protocol"
NETWORK = "hatebm ProxyNet: conv 16-32-64 (3×3, ReLU, max-pool 2) → linear 64 (the features) → ReLU → 10 classes"
WEIGHTS = Path(__file__).with_name("proxy_fashion_mnist.safetensors")  # shipped inside the package: read only
PACKAGE = Path(__file__).resolve().parents[1]  # the installed hatebm package
INPUT_SHAPE = (28, 28, 1)
FEATURE_DIM = 64


class ProxyNet(nn.Module):
    """A small classifier of 28×28 grey images in [-1, 1]. `features` are the 64-d penultimate layer before its ReLU
    (no dead, constant dimensions, so their covariance is well conditioned)."""

    def __init__(self, width: int = 16, features: int = FEATURE_DIM, classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 1
        for c_out in (width, 2 * width, 4 * width):  # 28 → 14 → 7 → 3
            layers += [nn.Conv2d(c, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c = c_out
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * 9, features))
        self.head = nn.Linear(features, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.relu(self.body(x)))


def _inputs(images: np.ndarray) -> torch.Tensor:
    if images.shape[1:] != INPUT_SHAPE:
        raise ValueError(f"the proxy classifier takes 28×28 grey images, got shape {images.shape[1:]}; adapt them "
                         "with hatebm.eval.common.adapt (fit=..., convert_channels=...)")
    return to_model(images)


def accuracy(net: ProxyNet, images: np.ndarray, labels: np.ndarray, batch_size: int = 1000) -> float:
    """Fraction of `images` (uint8 N×28×28×1) whose predicted class is `labels`."""
    net.eval()
    with torch.inference_mode():
        predicted = torch.cat([net(_inputs(images[i : i + batch_size])).argmax(1)
                               for i in range(0, len(images), batch_size)])
    return float((predicted.numpy() == np.asarray(labels)).mean())


def train_classifier(
    images: np.ndarray, labels: np.ndarray, test_images: np.ndarray, test_labels: np.ndarray, *, epochs: int = 2,
    batch_size: int = 128, lr: float = 1e-3, seed: int = 0, progress: bool = True,
) -> tuple[ProxyNet, float]:
    """Train `ProxyNet` with Adam on cross-entropy (uint8 N×28×28×1 images, int labels); returns it (in eval mode)
    with its accuracy on the test images. Deterministic for a given seed and thread count."""
    check_images(images, "training images")
    if len(images) != len(labels) or len(test_images) != len(test_labels):
        raise ValueError(f"images and labels differ in number: {len(images)} vs {len(labels)} (train), "
                         f"{len(test_images)} vs {len(test_labels)} (test)")
    torch.manual_seed(check_seed(seed))
    net = ProxyNet()
    opt = torch.optim.Adam(net.parameters(), lr)
    x, y = _inputs(images), torch.as_tensor(np.asarray(labels), dtype=torch.long)
    order = torch.Generator().manual_seed(seed)
    net.train()
    with tqdm(total=epochs * len(x), unit="img", desc="proxy classifier", disable=not progress) as bar:
        for _ in range(epochs):
            for batch in torch.randperm(len(x), generator=order).split(batch_size):
                opt.zero_grad()
                F.cross_entropy(net(x[batch]), y[batch]).backward()
                opt.step()
                bar.update(len(batch))
    return net.eval(), accuracy(net, test_images, np.asarray(test_labels))


def trained_weights_path() -> Path:
    """Where `hatebm proxy-fid train` writes its weights without --out: the user's hatebm cache
    (`$HATEBM_CACHE/proxy/` or `~/.cache/hatebm/proxy/`), never the weights shipped inside the package."""
    from hatebm.data import cache_dir

    return cache_dir() / "proxy" / WEIGHTS.name


def inside_package(path: str | os.PathLike) -> bool:
    """Whether `path` lies inside the installed hatebm package (where the shipped weights live)."""
    return Path(path).expanduser().resolve().is_relative_to(PACKAGE)


def save_classifier(net: ProxyNet, path: str | os.PathLike, metadata: dict[str, Any],
                    overwrite_package: bool = False) -> Path:
    """Weights as safetensors, with `metadata` (e.g. test accuracy, training settings) as strings. A path inside the
    installed package (e.g. the shipped weights, `WEIGHTS`) is refused unless `overwrite_package`."""
    if inside_package(path) and not overwrite_package:
        raise ValueError(f"{path} lies inside the installed hatebm package ({PACKAGE}): write the weights elsewhere "
                         "(e.g. the default, the hatebm cache), or pass overwrite_package=True (CLI: "
                         "--overwrite-package) to replace files of the package")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path),
              metadata={"network": NETWORK, **{k: str(v) for k, v in metadata.items()}})
    return path


def weights_path(weights: str | os.PathLike | None = None) -> Path:
    path = Path(weights).expanduser() if weights is not None else WEIGHTS
    if not path.is_file():
        if weights is None:
            raise FileNotFoundError(f"the proxy classifier weights shipped with hatebm ({path}) are missing: reinstall "
                                    "hatebm, or train your own with `hatebm proxy-fid train` (about a minute on one "
                                    "core) and pass them with --weights")
        raise FileNotFoundError(f"proxy classifier weights {path} not found: train them with `hatebm proxy-fid train "
                                f"--out {path}` (about a minute on one core)")
    return path


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> tuple[ProxyNet, dict[str, str], str]:
    net = ProxyNet()
    try:
        net.load_state_dict(load_file(path))
        with safe_open(path, "pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, RuntimeError, OSError) as err:  # RuntimeError: tensors of other names or shapes
        raise ValueError(f"{path} does not hold ProxyNet weights ({err}); retrain with `hatebm proxy-fid train`"
                         ) from err
    return net.eval(), metadata, hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_classifier(weights: str | os.PathLike | None = None) -> tuple[ProxyNet, dict[str, str], str]:
    """(network, its metadata, sha256 of the weights file) for `weights` (default: the weights shipped with hatebm)."""
    path = weights_path(weights).resolve()
    return _load(str(path), path.stat().st_mtime_ns)


def proxy_features(images: np.ndarray, weights: str | os.PathLike | None = None, batch_size: int = 1000) -> np.ndarray:
    """float32 [N, 64] classifier features of uint8 N×28×28×1 images."""
    check_images(images)
    net = load_classifier(weights)[0]
    with torch.inference_mode():
        return torch.cat([net.features(_inputs(images[i : i + batch_size]))
                          for i in range(0, len(images), batch_size)]).numpy()


def proxy_fid(
    samples: np.ndarray, reference: str = "fashion_mnist:test", *, n_ref: int | None = None, seed: int = 0,
    fit: str | None = None, convert_channels: bool = False, weights: str | os.PathLike | None = None,
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Proxy FID (classifier features, NOT FID) of uint8 `samples` against the images of `reference` (a dataset spec,
    see `hatebm.eval.common.load_set`; at most `n_ref` of them, a random subset with `seed`).

    Both sets must be 28×28 grey or are adapted with `fit` / `convert_channels` (`hatebm.eval.common.adapt`).
    Returns {"proxy_fid", "protocol"}; `source` (where the samples came from) is recorded in the protocol.
    """
    if len(samples) < 2:
        raise ValueError(f"samples: need at least 2 images for a Fréchet distance, got {len(samples)}")
    check_images(samples, "samples")
    ref_images, _, ref_protocol = load_set(reference, n_ref, seed, n_name="n_ref")
    ref_images = adapt(ref_images, INPUT_SHAPE, fit, convert_channels, f"reference {reference!r}")
    _, metadata, sha = load_classifier(weights)
    f_samples = proxy_features(adapt(samples, INPUT_SHAPE, fit, convert_channels, "samples"), weights)
    f_ref = proxy_features(ref_images, weights)
    value = fid_of_features(f_samples, *feature_stats(f_ref))
    protocol = {
        "metric": LABEL, "note": NOTE, "network": NETWORK, "feature_dim": FEATURE_DIM, "weights_sha256": sha,
        "classifier_test_accuracy": float(metadata["test_accuracy"]) if "test_accuracy" in metadata else None,
        "reference": ref_protocol, "adaptation": {"fit": fit, "convert_channels": convert_channels},
        "samples": {"n": len(samples), "image_shape": list(samples.shape[1:]),
                    **({"source": source} if source else {})},
    }
    return {"proxy_fid": value, "protocol": protocol}


def write_proxy_metrics(path: str | os.PathLike, metrics: dict[str, Any]) -> Path:
    """Merge a `proxy_fid` result into metrics.json under "proxy_fid/<reference spec>/n<samples>" (never "fid/...")."""
    protocol = metrics["protocol"]
    tag = key_part(protocol["reference"]["spec"])
    return write_metrics(path, metrics, key=f"proxy_fid/{tag}/n{protocol['samples']['n']}")
