"""Write prepared folders (:mod:`hatebm.data.prepared`) from image folders, .npz/.npy files, CIFAR and Fashion-MNIST.

Images are fitted and written one at a time, so memory does not grow with the size of an image folder (.npz, CIFAR
and Fashion-MNIST sources are read whole, as their loaders do); the folder is written under a temporary name beside
`out` and renamed into place once complete.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from hatebm.data import cifar, fashion_mnist
from hatebm.data.folder import find_images
from hatebm.data.images import centre_square, check_channels, read_image, short_side, with_channels
from hatebm.data.paths import find_dir, search_dirs
from hatebm.data.prepared import FORMAT, IMAGES, INDEX, LABELS, LAYOUTS, MANIFEST, VERSION, update_sha256
from hatebm.data.registry import ALIASES, load_images, load_labeled, parse_spec

SOURCES = ("folder", "npz", "cifar10", "cifar100", "fashion_mnist")
Fit = Callable[[np.ndarray], np.ndarray]


@dataclass
class _Source:
    """What is converted: `count` images of `channels` channels, fitted and in order, and the source's digest
    (complete once `images` is exhausted)."""

    count: int
    channels: int
    images: Iterator[np.ndarray]
    labels: np.ndarray | None
    digest: Any


def _as_is(item: Any) -> Any:
    return item


class _Decode(Dataset):
    """(fitted image, hex SHA-256 of the file's bytes) of image file i; an unreadable file gives its ValueError as the
    image, so that it reaches the caller as one line from any worker process."""

    def __init__(self, files: list[Path], channels: int, fit: Fit) -> None:
        self.files, self.channels, self.fit = files, channels, fit

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[np.ndarray | ValueError, str]:
        try:
            img = self.fit(read_image(self.files[i], self.channels))
        except ValueError as err:
            return err, ""
        return img, update_sha256(hashlib.sha256(), self.files[i]).hexdigest()


def _folder(path: Path, channels: int, fit: Fit, workers: int) -> _Source:
    files = find_images(path)
    digest = hashlib.sha256()
    loader = DataLoader(_Decode(files, channels, fit), batch_size=None, num_workers=workers, collate_fn=_as_is)

    def images() -> Iterator[np.ndarray]:
        for file, (img, sha) in zip(files, loader):
            if isinstance(img, ValueError):
                raise img
            digest.update(f"{file.relative_to(path).as_posix()}\0{sha}\n".encode())
            yield img

    return _Source(len(files), channels, images(), None, digest)


def _dataset_files(name: str, split: str, root: str | None) -> list[Path]:
    """The files the loader of dataset `name` read, in its order (images before labels)."""
    if name == "fashion_mnist":
        dirs = search_dirs(fashion_mnist.NAME, root, extra=[fashion_mnist.SYSTEM_DIR])
        files = fashion_mnist.FILES[split]
    else:
        subdir, by_split = cifar.LAYOUT[name][:2]
        dirs, files = search_dirs(subdir, root), by_split[split]
    return [find_dir(dirs, files) / f for f in files]


def _arrays(name: str, split: str, root: str | None, channels: int | None, fit: Fit) -> _Source:
    if name == "npz":
        array, labels, files = load_images("npz", root=root), None, [Path(root).expanduser()]
    else:
        array, labels = load_labeled(name, split, root)
        files = _dataset_files(name, split, root)
    digest = functools.reduce(update_sha256, files, hashlib.sha256())
    channels = channels or array.shape[3]
    images = (fit(with_channels(img, channels)) for img in array)
    return _Source(len(array), channels, images, labels, digest)


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; choose a folder to write the prepared data into")
    blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise ValueError(f"{out} cannot be written: {blocker} is a file, not a folder; choose another folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MANIFEST).is_file():
            raise ValueError(f"{out} already exists, is not empty and is not a prepared folder; choose another folder")
        if not overwrite:
            raise ValueError(f"{out} already exists; pass overwrite=True (--overwrite) to replace it, or choose "
                             "another folder")


def write_prepared(
    out: str | Path, images: Iterable[np.ndarray], count: int, channels: int, size: int, layout: str = "square", *,
    source: str = "", source_digest: Any = None, labels: np.ndarray | None = None, overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write `count` uint8 images (S×S×C for layout "square"; shorter side S for "short_side"), taken one at a time
    from `images`, into the prepared folder `out`: images.u8, index.npy ("short_side"), labels.npy (if `labels`) and
    manifest.json (`source`, and the hex digest of the hashlib object `source_digest`, read once `images` is
    exhausted). The folder is written under a temporary name and renamed into place; the folder."""
    out = Path(out).expanduser()
    _check_out(out, overwrite)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        images_sha256, nbytes = _write(tmp, images, count, channels, size, layout, progress)
        if labels is not None:
            np.save(tmp / LABELS, labels.astype(np.int64))
        square = size if layout == "square" else None
        manifest = {"format": FORMAT, "version": VERSION, "count": count, "channels": channels, "layout": layout,
                    "size": size, "height": square, "width": square, "source": source,
                    "source_sha256": source_digest.hexdigest() if source_digest else "",
                    "images_sha256": images_sha256, "bytes": nbytes, "labels": labels is not None}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _move(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _write(tmp: Path, images: Iterable[np.ndarray], count: int, channels: int, size: int, layout: str,
           progress: bool) -> tuple[str, int]:
    """images.u8 and index.npy ("short_side") in folder `tmp`; (hex SHA-256, size) of images.u8."""
    index = np.lib.format.open_memmap(tmp / INDEX, mode="w+", dtype=np.int64, shape=(count, 3)) \
        if layout == "short_side" else None
    digest, offset, written = hashlib.sha256(), 0, 0
    with open(tmp / IMAGES, "wb") as f, tqdm(total=count, disable=not progress, desc="prep", unit="img") as bar:
        for i, img in enumerate(images):
            expected = (size, size, channels) if index is None else (channels,)
            if i >= count or img.dtype != np.uint8 or img.shape[-len(expected):] != expected or \
                    (index is not None and min(img.shape[:2]) != size):
                raise ValueError(f"prep: image {i} is {img.dtype} {img.shape}; expected {count} uint8 images of "
                                 f"{'side' if index is None else 'shorter side'} {size} with {channels} channel(s)")
            data = img.tobytes()
            f.write(data)
            digest.update(data)
            if index is not None:
                index[i] = (offset, img.shape[0], img.shape[1])
            offset, written = offset + len(data), written + 1
            bar.update()
    if written != count:
        raise ValueError(f"prep: {written} images were given, {count} announced")
    if index is not None:
        index.flush()
        del index
    return digest.hexdigest(), offset


def _move(tmp: Path, out: Path) -> None:
    """Rename `tmp` to `out`, replacing an `out` already there (it was checked by `_check_out`)."""
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old)
    else:
        os.replace(tmp, out)


def prepare(
    src: str, out: str | Path, size: int, *, channels: int | None = None, layout: str = "square",
    split: str = "train", root: str | None = None, workers: int = 0, overwrite: bool = False, progress: bool = True,
) -> Path:
    """Write the images of `src` into the prepared folder `out` (see :mod:`hatebm.data.prepared`); the folder.

    `src` is a folder of images (any sizes), an .npz/.npy file of uint8 images, or "cifar10", "cifar100" or
    "fashion_mnist" (NAME:SPLIT picks the split, else `split`; searched in `root` as by `load_images`). Layout
    "square" stores each image's `centre_square` of side `size`; "short_side" stores it resized to shorter side
    `size` (`short_side`) for random crops at training time. `channels` (1 or 3) defaults to the source's (3 for
    folders). Folder images are decoded in `workers` DataLoader processes (0: in this one). An existing `out` is
    replaced only if it is empty or, with `overwrite`, a prepared folder.

    The manifest's ``source`` is `src`, with ":SPLIT" added to a dataset name without one. Its ``source_sha256`` is
    the SHA-256 of: the .npz/.npy file; the CIFAR batch files or the Fashion-MNIST .gz files (images, then labels)
    one after another; for a folder, per image file in sorted order, the line ``RELATIVE/PATH\\0HEX\\n`` with HEX
    the SHA-256 of the file's bytes.
    """
    if type(size) is not int or size < 1:
        raise ValueError(f"prep: size must be a positive int, got {size!r}")
    if layout not in LAYOUTS:
        raise ValueError(f"prep: layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if channels is not None:
        check_channels(channels, "prep")
    if type(workers) is not int or workers < 0:
        raise ValueError(f"prep: workers must be an int >= 0, got {workers!r}")
    out = Path(out).expanduser()
    _check_out(out, overwrite)  # before reading any source
    name, split, where = parse_spec(src, split)
    name = ALIASES.get(name, name)
    if name not in SOURCES:
        what = "is a prepared folder already" if name == "prepared" else "is no folder, .npz/.npy file or dataset name"
        raise ValueError(f"prep: {src!r} {what}; convert a folder of images, an .npz/.npy file, or one of "
                         "cifar10, cifar100, fashion_mnist (NAME:SPLIT)")
    fit = functools.partial(centre_square if layout == "square" else short_side, size=size)
    if name == "folder":
        source = _folder(Path(where), channels or 3, fit, workers)
    else:
        source = _arrays(name, split, where or root, channels, fit)
    if source.count == 0:
        raise ValueError(f"prep: {src} holds no images")
    given = src if where is not None or ":" in src else f"{src}:{split}"  # a dataset name: record its split
    return write_prepared(out, source.images, source.count, source.channels, size, layout, source=given,
                          source_digest=source.digest, labels=source.labels, overwrite=overwrite, progress=progress)
