"""CIFAR-10 / CIFAR-100 (Krizhevsky 2009) in their standard python-pickle batches, 32×32 RGB."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from hatebm.data.paths import check_split, find_dir, missing_error, search_dirs

# dataset -> (folder inside the archive, files per split, label key, download address)
LAYOUT = {
    "cifar10": (
        "cifar-10-batches-py",
        {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
        b"labels",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    ),
    "cifar100": (
        "cifar-100-python",
        {"train": ("train",), "test": ("test",)},
        b"fine_labels",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    ),
}


def _reconstruct() -> Any:
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


# The only globals a CIFAR batch refers to: numpy's array reconstruction (numpy < 2 and numpy >= 2 spell its module
# differently), ndarray and dtype; Python 3 pickles of protocol 2 (as written again by tools and tests) also store
# bytes as _codecs.encode(str, "latin1"). Dicts, lists, ints and Python 2 strings need no global.
ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: __import__("_codecs").encode,
}


class BatchRefused(pickle.UnpicklingError):
    """A pickle asked for a global that CIFAR batches never need."""


class BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches only: every global but those in :data:`ALLOWED` is refused before it is imported."""

    def find_class(self, module: str, name: str) -> Any:
        get = ALLOWED.get((module, name))
        if get is None:
            raise BatchRefused(f"{module}.{name}")
        return get()


def load_batch(f: BinaryIO) -> Any:
    """The object pickled in the CIFAR batch file ``f`` (Python 2 strings read as bytes), through
    :class:`BatchUnpickler`: a pickle that names any other global raises :class:`BatchRefused`."""
    return BatchUnpickler(f, encoding="bytes").load()


def _read_batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    # CIFAR is distributed only as pickles of plain numpy arrays and lists. Unpickling can run code, so the batches
    # go through BatchUnpickler, which admits numpy's array reconstruction and nothing else.
    try:
        with open(path, "rb") as f:
            batch = load_batch(f)
        data, labels = np.asarray(batch[b"data"]), np.asarray(batch[label_key])
    except BatchRefused as err:
        raise ValueError(f"{path}: refused to unpickle the global {err}, which a CIFAR batch never needs (a CIFAR "
                         "batch holds only numpy arrays, lists and strings); this file is not from the official "
                         "archive: extract the archive again") from None
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, AttributeError, ValueError, IndexError) as err:
        raise ValueError(f"{path}: not a CIFAR batch ({type(err).__name__}: {err}); extract the archive again") from err
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (len(data),):
        raise ValueError(
            f"{path}: expected uint8 data [N, 3072] and N labels, got {data.dtype} {data.shape} and "
            f"{labels.shape}; extract the archive again"
        )
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.int64)


def load(
    name: str, split: str, root: str | Path | None, download: bool, labels: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Images uint8 [N, 32, 32, 3] of CIFAR `name` ("cifar10" or "cifar100") and, if `labels`, classes int64 [N]."""
    check_split(name, split)
    subdir, files, label_key, url = LAYOUT[name]
    dirs = search_dirs(subdir, root)
    folder = find_dir(dirs, files[split])
    if folder is None:
        why = "automatic download is not offered for CIFAR; " if download else ""
        raise missing_error(
            f"{name} ({split})", files[split], dirs,
            f"{why}fetch {url}, extract it with `tar xzf` and pass data.root= (root= in Python) the extracted "
            f"{subdir} folder or its parent (or put it under $HATEBM_DATA)",
        )
    batches = [_read_batch(folder / f, label_key) for f in files[split]]
    images = np.ascontiguousarray(np.concatenate([b[0] for b in batches]))
    return images, (np.concatenate([b[1] for b in batches]) if labels else None)
