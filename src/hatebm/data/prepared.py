"""Prepared image folders (written by `hatebm data prep`, :mod:`hatebm.data.prep`) and lazily read image datasets.

A prepared folder DIR holds:

- ``manifest.json``: ``format`` "hatebm-prepared", ``version`` 1, ``count`` N, ``channels`` C, ``layout``, ``size``
  S, ``height`` / ``width`` (S for "square", null for "short_side"), ``source`` (as given to prep),
  ``source_sha256`` (see :func:`hatebm.data.prep.prepare`), ``images_sha256`` and ``bytes`` of images.u8, and
  ``labels`` (whether labels.npy exists);
- ``images.u8``: raw uint8 pixels. Layout "square": N×S×S×C contiguous. Layout "short_side": images of shorter side
  S, each H×W×C, concatenated, with ``index.npy`` int64 [N, 3] = (byte offset, H, W) per image;
- ``labels.npy``: int64 [N] class labels, when the source had them.

:class:`PreparedImages` reads each image's bytes when asked for it (a seek and a read: a memory map would count every
page touched in the process's resident memory, which would then grow with the data set over an epoch);
:class:`FolderImages` reads a folder of image files; both
give S×S×C uint8 items whose crop and flip are a pure function of (seed, epoch, index), whatever the process.
"""
from __future__ import annotations

import hashlib
import json
import operator
import os
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
from torch.utils.data import Dataset

from hatebm.data.folder import find_images
from hatebm.data.images import centre_square, check_channels, hflip, random_square, read_image

FORMAT, VERSION = "hatebm-prepared", 1
LAYOUTS = ("square", "short_side")
CROPS = ("centre", "random")
MANIFEST, IMAGES, INDEX, LABELS = "manifest.json", "images.u8", "index.npy", "labels.npy"
KEYS = ("format", "version", "count", "channels", "layout", "size", "height", "width", "source", "source_sha256",
        "images_sha256", "bytes", "labels")
CHUNK = 1 << 24


def update_sha256(digest: Any, path: Path) -> Any:
    """`digest` updated with the bytes of file `path`, read in chunks."""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest


def _broken(root: Path, problem: str, error: type[Exception] = ValueError) -> Exception:
    return error(f"{root}: {problem}; run `hatebm data prep SRC --out {root} --size N` again")


def _read_json(root: Path) -> dict:
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder; write it with `hatebm data prep SRC --out {root} --size N`")
    if not (root / MANIFEST).is_file():
        raise _broken(root, f"no {MANIFEST}, so not a prepared folder", FileNotFoundError)
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise _broken(root, f"{MANIFEST} is not valid JSON ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise _broken(root, f"{MANIFEST} is not a {FORMAT} manifest (format {found!r})")
    if manifest.get("version") != VERSION:
        raise _broken(root, f"{MANIFEST} has version {manifest.get('version')!r}; this hatebm reads version {VERSION}")
    missing = [k for k in KEYS if k not in manifest]
    if missing:
        raise _broken(root, f"{MANIFEST} lacks {', '.join(missing)}")
    positive = all(type(manifest[k]) is int and manifest[k] >= 1 for k in ("count", "size", "bytes"))
    valid = manifest["channels"] in (1, 3) and manifest["layout"] in LAYOUTS and type(manifest["labels"]) is bool
    if not (positive and valid):
        fields = {k: manifest[k] for k in ("count", "channels", "layout", "size", "bytes", "labels")}
        raise _broken(root, f"{MANIFEST} has invalid fields {fields}")
    return manifest


def _load_npy(root: Path, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if not (root / name).is_file():
        raise _broken(root, f"{name} is missing", FileNotFoundError)
    try:
        array = np.load(root / name, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise _broken(root, f"{name} is not a readable .npy file ({err})") from None
    if array.shape != shape or array.dtype.kind not in "iu":
        raise _broken(root, f"{name} holds {array.dtype} {array.shape}, expected int64 {shape}")
    return array.astype(np.int64, copy=False)


def _open(root: Path) -> tuple[dict, np.ndarray | None, np.ndarray | None]:
    """(manifest, index or None, labels or None) of prepared folder `root`, checked against each other (no hashing)."""
    m = _read_json(root)
    n, s, c = m["count"], m["size"], m["channels"]
    if not (root / IMAGES).is_file():
        raise _broken(root, f"{IMAGES} is missing", FileNotFoundError)
    on_disk = (root / IMAGES).stat().st_size
    if on_disk != m["bytes"]:
        raise _broken(root, f"{IMAGES} holds {on_disk} bytes, the manifest says {m['bytes']} (truncated or changed)")
    index = None
    if m["layout"] == "square":
        if m["bytes"] != n * s * s * c:
            raise _broken(root, f"{m['bytes']} bytes cannot hold {n} images of {s}×{s}×{c}")
    else:
        index = _load_npy(root, INDEX, (n, 3))
        offsets, h, w = index.T
        sizes = h * w * c
        ends = np.cumsum(sizes)
        if np.any(np.minimum(h, w) != s) or not np.array_equal(offsets, ends - sizes) or ends[-1] != m["bytes"]:
            raise _broken(root, f"{INDEX} does not match {IMAGES} (offsets out of range or sides other than {s})")
    labels = _load_npy(root, LABELS, (n,)) if m["labels"] else None
    return m, index, labels


def read_manifest(root: str | Path) -> dict:
    """The manifest of prepared folder `root`, after checking that its files agree with it (sizes, index; not the
    checksum, see :func:`verify`)."""
    return _open(Path(root).expanduser())[0]


def verify(root: str | Path) -> dict:
    """The manifest of prepared folder `root` once the SHA-256 of images.u8 has been recomputed and found equal."""
    root = Path(root).expanduser()
    manifest = read_manifest(root)
    digest = update_sha256(hashlib.sha256(), root / IMAGES).hexdigest()
    if digest != manifest["images_sha256"]:
        raise _broken(root, f"{IMAGES} has SHA-256 {digest}, the manifest says {manifest['images_sha256']} (corrupt)")
    return manifest


def _key(key: Any, n: int) -> tuple[int, int]:
    """(epoch, index in 0..n-1) from an index or an (epoch, index) pair."""
    pair = key if isinstance(key, tuple) else (0, key)
    if len(pair) != 2:
        raise TypeError(f"dataset keys are an index or (epoch, index), got {key!r}")
    epoch, index = operator.index(pair[0]), operator.index(pair[1])
    if not -n <= index < n:
        raise IndexError(f"index {index} out of range for {n} images")
    return epoch, index % n


class _Squares(Dataset):
    """size×size×C uint8 items from the images of `_read`: centre or random square crop, then maybe a horizontal
    flip, all random draws from ``np.random.default_rng([seed, epoch, index])``."""

    def __init__(self, size: int, channels: int, crop: str, flip: bool, seed: int) -> None:
        if crop not in CROPS:
            raise ValueError(f"crop must be one of {', '.join(CROPS)}, got {crop!r}")
        if type(seed) is not int or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self._size, self._channels, self.crop, self.flip, self.seed = size, channels, crop, bool(flip), seed

    @property
    def size(self) -> int:
        return self._size

    @property
    def channels(self) -> int:
        return self._channels

    def _read(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def __getitem__(self, key: int | tuple[int, int]) -> np.ndarray:
        epoch, index = _key(key, len(self))
        img = self._read(index)
        rng = np.random.default_rng([self.seed, epoch, index]) if self.crop == "random" or self.flip else None
        img = random_square(img, self._size, rng) if self.crop == "random" else centre_square(img, self._size)
        if self.flip and rng.random() < 0.5:
            img = hflip(img)
        return np.array(img, order="C")  # a writable copy, never a view of the bytes read


class PreparedImages(_Squares):
    """The images of a prepared folder `root` as S×S×C uint8 arrays, read from images.u8 through a file each process
    opens itself (forked or spawned DataLoader workers never share a file offset). "short_side" layouts give their
    centred (crop="centre") or a random (crop="random") S×S window; `flip` mirrors with probability 1/2."""

    def __init__(self, root: str | Path, crop: Literal["centre", "random"] = "centre", flip: bool = False,
                 seed: int = 0) -> None:
        self.root = Path(root).expanduser()
        self._manifest, self._index, self._labels = _open(self.root)
        super().__init__(self._manifest["size"], self._manifest["channels"], crop, flip, seed)
        self._file: BinaryIO | None = None
        self._pid = 0  # the process that opened _file: forked workers must not share its offset

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_file": None}  # each process opens the file itself

    def __del__(self) -> None:
        if getattr(self, "_file", None) is not None:
            self._file.close()

    def __len__(self) -> int:
        return self._manifest["count"]

    @property
    def manifest(self) -> dict:
        return dict(self._manifest)

    @property
    def labels(self) -> np.ndarray | None:
        return self._labels

    def _read(self, index: int) -> np.ndarray:
        s, c = self._manifest["size"], self._manifest["channels"]
        offset, h, w = (index * s * s * c, s, s) if self._index is None else (int(v) for v in self._index[index])
        if self._file is None or self._pid != os.getpid():
            self._file, self._pid = open(self.root / IMAGES, "rb", buffering=0), os.getpid()
        self._file.seek(offset)
        data = self._file.read(h * w * c)
        if len(data) != h * w * c:
            raise _broken(self.root, f"{IMAGES} ends inside image {index} (truncated since it was opened)")
        return np.frombuffer(data, dtype=np.uint8).reshape(h, w, c)


class FolderImages(_Squares):
    """The image files under folder `root` (sorted, recursively), each read when asked for and brought to size×size
    by `centre_square` (crop="centre") or `random_square` (crop="random"); `flip` mirrors with probability 1/2."""

    def __init__(self, root: str | Path, size: int, channels: int = 3, crop: Literal["centre", "random"] = "centre",
                 flip: bool = False, seed: int = 0) -> None:
        check_channels(channels, "folder")
        if type(size) is not int or size < 1:
            raise ValueError(f"folder: size must be a positive int, got {size!r}")
        self.files = find_images(root)
        super().__init__(size, channels, crop, flip, seed)

    def __len__(self) -> int:
        return len(self.files)

    def _read(self, index: int) -> np.ndarray:
        return read_image(self.files[index], self._channels)

    def file(self, key: int | tuple[int, int]) -> Path:
        """The image file of item ``key`` (an index or (epoch, index))."""
        return self.files[_key(key, len(self))[1]]


def load(
    split: str, root: str | Path | None, download: bool, labels: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """All images of prepared folder `root` as uint8 [N, S, S, C] (the centred square of "short_side" layouts) and,
    if `labels`, their classes int64 [N]; `split` and `download` do not apply."""
    if root is None:
        raise ValueError("prepared: pass data.root= (root= in Python) the folder written by `hatebm data prep`")
    data = PreparedImages(root)
    if labels and data.labels is None:
        raise ValueError(f"{data.root}: prepared from {data.manifest['source']}, which has no labels; use load_images")
    images = np.empty((len(data), data.size, data.size, data.channels), dtype=np.uint8)
    for i in range(len(data)):
        images[i] = data[i]
    return images, data.labels if labels else None
