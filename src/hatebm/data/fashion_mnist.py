"""Fashion-MNIST (Xiao et al. 2017): gzipped IDX files, 28×28 grey, 60k train / 10k test, 10 classes."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hatebm.data.download import fetch
from hatebm.data.idx import read_idx
from hatebm.data.paths import cache_dir, check_split, find_dir, missing_error, search_dirs

NAME = "fashion-mnist"
BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
URL_ENV = "HATEBM_FASHION_MNIST_URL"
# Where the Debian package dataset-fashion-mnist installs the files.
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# MD5 of the official .gz files (the upstream README). Debian recompressed its copies: their .gz bytes differ,
# so these are checked on download only; local files are checked by their IDX headers and sizes.
MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def download_fashion_mnist(
    dest: str | Path | None = None, base_url: str | None = None, splits: tuple[str, ...] = ("train", "test")
) -> Path:
    """Fetch the files of `splits` into `dest` (default `cache_dir()/fashion-mnist`), skipping files already there.

    The address is `base_url`, else `$HATEBM_FASHION_MNIST_URL`, else `BASE_URL`; each file's MD5 is verified.
    """
    dest = Path(dest).expanduser() if dest is not None else cache_dir() / NAME
    base = (base_url or os.environ.get(URL_ENV) or BASE_URL).rstrip("/")
    for split in splits:
        check_split(NAME, split)
        for fname in FILES[split]:
            if not (dest / fname).is_file():
                fetch(f"{base}/{fname}", dest / fname, MD5[fname])
    return dest


def load(
    split: str, root: str | Path | None, download: bool, labels: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Images uint8 [N, 28, 28, 1] of `split` and, if `labels`, their classes int64 [N] (else None)."""
    check_split(NAME, split)
    images_file, labels_file = FILES[split]
    needed = (images_file, labels_file) if labels else (images_file,)
    dirs = search_dirs(NAME, root, extra=[SYSTEM_DIR])
    folder = find_dir(dirs, needed)
    if folder is None and download:
        folder = download_fashion_mnist(root, splits=(split,))
    if folder is None:
        raise missing_error(
            f"Fashion-MNIST ({split})", needed, dirs,
            "run `make data`; or `apt-get download dataset-fashion-mnist && "
            "dpkg-deb -x dataset-fashion-mnist_*.deb DIR` "
            "and set HATEBM_DATA=DIR/usr/share/datasets (or pass root=DIR/usr/share/datasets/fashion-mnist); "
            f"or pass root= a folder holding the .gz files (data.root= in hatebm train); or fetch them from {BASE_URL} "
            "with data.download=true (hatebm train) or download=True (Python)",
        )
    images = read_idx(folder / images_file, ndim=3)[..., None]
    if not labels:
        return images, None
    classes = read_idx(folder / labels_file, ndim=1).astype(np.int64)
    if len(classes) != len(images):
        raise ValueError(
            f"{folder}: {len(images)} images but {len(classes)} labels in {labels_file}; fetch the files again"
        )
    return images, classes
