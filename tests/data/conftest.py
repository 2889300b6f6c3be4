from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hatebm.data import fashion_mnist


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are small: extra threads only cost time on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No dataset reachable by default: empty cache, no $HATEBM_DATA, no Debian folder."""
    monkeypatch.setenv("HATEBM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HATEBM_DATA", raising=False)
    monkeypatch.delenv(fashion_mnist.URL_ENV, raising=False)
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIR", tmp_path / "system" / "fashion-mnist")
    return tmp_path


def _cifar_batch(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """A batch as CIFAR ships it: rows of 1024 red, 1024 green, 1024 blue bytes, keys as bytes (Python 2 pickle)."""
    with open(path, "wb") as f:
        pickle.dump({b"data": images.transpose(0, 3, 1, 2).reshape(len(images), -1), b"labels": labels.tolist()}, f,
                    protocol=2)


@pytest.fixture
def cifar10_root(isolated):
    """(root, train images, train labels) of a tiny CIFAR-10: 2 images in each of the 5 train batches, 1 test image."""
    rng = np.random.default_rng(4)
    images, labels = rng.integers(0, 256, (11, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, 11)
    folder = isolated / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(5):
        _cifar_batch(folder / f"data_batch_{i + 1}", images[2 * i:2 * i + 2], labels[2 * i:2 * i + 2])
    _cifar_batch(folder / "test_batch", images[10:], labels[10:])
    return isolated, images[:10], labels[:10]


@pytest.fixture
def fashion_root(isolated):
    """(folder, train images [5, 28, 28, 1], train labels) of a tiny Fashion-MNIST in gzipped IDX files."""
    rng = np.random.default_rng(5)
    images, labels = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), rng.integers(0, 10, 5, dtype=np.uint8)
    folder = isolated / "fm"
    folder.mkdir()
    for name, array in zip(fashion_mnist.FILES["train"], (images, labels)):
        header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
        with gzip.open(folder / name, "wb") as f:
            f.write(header + array.tobytes())
    return folder, images[..., None], labels.astype(np.int64)


@pytest.fixture
def image_folder(tmp_path):
    """(folder, {relative path: RGB array}) of PNG images of mixed sizes, one in a subfolder."""
    rng = np.random.default_rng(6)
    shapes = {"a.png": (20, 30), "b.png": (16, 16), "sub/c.png": (40, 24), "sub/d.png": (16, 64)}
    folder, arrays = tmp_path / "images", {}
    for name, (h, w) in shapes.items():
        arrays[name] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arrays[name]).save(folder / name)
    return folder, arrays
