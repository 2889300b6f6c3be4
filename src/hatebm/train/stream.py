"""Training data and the endless, resumable stream of batches drawn from it.

The order of every epoch is a permutation that is a function of (seed, epoch); rank r of a torchrun job of W ranks
reads positions r, r + W, r + 2W, ... of it. A stream's whole state is therefore its cursor (epoch, position), which
the checkpoint keeps per rank, and a resumed stream continues exactly.

Two streams share that order (:func:`open_stream` picks one):

- :class:`MemoryStream` holds small data sets as one tensor in model space (Fashion-MNIST, CIFAR, an .npz, 2-D toys,
  a user's tensor or array);
- :class:`LoaderStream` reads large ones lazily from disk (``data.name`` ``prepared`` or ``folder``) through a torch
  ``DataLoader`` with ``data.workers`` worker processes and pinned memory on GPUs, and a user's ``Dataset`` item by
  item in the training process (it may hold GPU tensors or draw from torch's RNG, which workers would reseed). Items
  travel as uint8 and reach model space on the device; random crops and flips are functions of (seed, epoch, index),
  so they too resume exactly.
"""
from __future__ import annotations

import copy
import warnings
from typing import Iterator

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from hatebm.config import DataConfig, ModelConfig
from hatebm.data import (DataInfo, FolderImages, PreparedImages, load_images, to_model, toy_distribution,
                         toy_names)
from hatebm.data.guard import Guarded, Unreadable

UserData = Tensor | np.ndarray | Dataset
STREAMED = ("prepared", "folder")  # data.name values read from disk batch by batch


def epoch_order(n: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> Tensor:
    """Rank ``rank``'s share of epoch ``epoch``'s permutation of ``n`` items; the last ``n mod world`` positions are
    left out, so that every rank's share, and so its number of batches per epoch, is the same."""
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=g)[:n - n % world][rank::world]


class BatchOrder:
    """Cursor (epoch, pos) over the epochs' orders: each :meth:`next` gives the next ``batch_size`` indices of this
    rank's share, moving to the next epoch when fewer than a batch remain."""

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        if n < batch_size * world:
            raise ValueError(f"the data hold {n} items, fewer than one batch ({batch_size} per rank x {world} ranks); "
                             "use more data or a smaller batch_size")
        self.n, self.batch_size, self.seed, self.rank, self.world = n, batch_size, seed, rank, world
        self.load_state({"epoch": 0, "pos": 0})

    def next(self) -> tuple[int, Tensor]:
        """(epoch, indices) of the next batch."""
        if self.pos + self.batch_size > len(self._order):
            self.epoch, self.pos = self.epoch + 1, 0
            self._order = epoch_order(self.n, self.seed, self.epoch, self.rank, self.world)
        idx = self._order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return self.epoch, idx

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state(self, state: dict[str, int]) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._order = epoch_order(self.n, self.seed, self.epoch, self.rank, self.world)


class MemoryStream:
    """Batches of an in-memory tensor (model space) in :class:`BatchOrder`."""

    def __init__(self, data: Tensor, order: BatchOrder) -> None:
        self.data, self.order, self.shape = data, order, tuple(data.shape[1:])

    def next(self) -> Tensor:
        return self.data[self.order.next()[1]]

    def head(self, n: int) -> Tensor:
        """The first ``n`` items, in model space (for figures)."""
        return self.data[:n]

    def state(self) -> dict[str, int]:
        return self.order.state()

    def load_state(self, state: dict[str, int]) -> None:
        self.order.load_state(state)


class _Keys:
    """The batch sampler of a :class:`LoaderStream`: from a copy of its order, endless batches of keys; an item's key
    is ``(epoch, index)`` for hatebm's datasets (their augmentation depends on it) and ``index`` for others."""

    def __init__(self, order: BatchOrder, keyed: bool) -> None:
        self.order, self.keyed = order, keyed

    def __iter__(self) -> Iterator[list]:
        while True:
            epoch, idx = self.order.next()
            yield [(epoch, i) for i in idx.tolist()] if self.keyed else idx.tolist()


def _collate(items: list) -> Tensor:
    """One batch tensor from dataset items: uint8 H×W×C arrays, or tensors (the first entry of ``(x, label)``)."""
    items = [item[0] if isinstance(item, (tuple, list)) else item for item in items]
    return torch.stack([torch.from_numpy(np.asarray(x)) if isinstance(x, np.ndarray) else x for x in items])


def _collate_read(items: list) -> tuple[Tensor | None, list[Unreadable]]:
    """(the batch of the items that were read, or None if none was; the :class:`Unreadable` ones)."""
    bad = [item for item in items if isinstance(item, Unreadable)]
    good = [item for item in items if not isinstance(item, Unreadable)]
    return (_collate(good) if good else None), bad


class LoaderStream:
    """Batches of a map-style ``Dataset`` read by a ``DataLoader`` in :class:`BatchOrder`. Items are uint8 H×W×C
    images (mapped to model space on the device with ``data.resize``) or float tensors already in model space."""

    def __init__(self, dataset: Dataset, order: BatchOrder, data: DataConfig, model: ModelConfig,
                 device: torch.device) -> None:
        self.dataset, self.order, self.cfg, self.model, self.device = dataset, order, data, model, device
        self.keyed = isinstance(dataset, (PreparedImages, FolderImages))
        self.reader = Guarded(dataset) if self.keyed else dataset  # hatebm's datasets may meet unreadable files
        self.skipped = 0  # unreadable images left out (data.bad_images=skip), over the whole run
        self._it: Iterator[tuple[Tensor | None, list[Unreadable]]] | None = None
        self.shape = tuple(self.head(1).shape[1:])

    def _to_model(self, batch: Tensor) -> Tensor:
        if batch.dtype == torch.uint8:
            return to_model(batch, size=self.model.resolution, mode=self.cfg.resize, channels=self.model.channels)
        return batch.float()

    def _loader(self) -> Iterator[Tensor]:
        keys = copy.copy(self.order)  # the loader's own cursor, running ahead of the consumed one
        workers = self.cfg.workers if self.keyed else 0  # a user's Dataset is read here: it may hold GPU tensors
        # A generator of its own: a DataLoader draws its workers' base seed from it, which would otherwise advance
        # the training RNG each time the loader (re)starts, and a resumed run would drift from the uninterrupted one.
        return iter(DataLoader(self.reader, batch_sampler=_Keys(keys, self.keyed), num_workers=workers,
                               collate_fn=_collate_read, pin_memory=self.device.type == "cuda",
                               prefetch_factor=4 if workers else None, generator=torch.Generator().manual_seed(0)))

    def _unreadable(self, bad: list[Unreadable], count: bool = True) -> None:
        """Stop with one line at an unreadable item, or leave it out (counted if ``count``) where
        ``data.bad_images=skip`` allows it."""
        for item in bad:
            if not (item.skippable and self.cfg.bad_images == "skip"):
                hint = (" (then --resume continues the run from its newest checkpoint, if it has one), or set "
                        "data.bad_images=skip to leave unreadable images out, each counted in stats.jsonl as "
                        "skipped_images") if item.skippable else ""
                raise ValueError(item.message + hint)
            if count:
                warnings.warn(f"skipped the unreadable image {item.file} (data.bad_images=skip)", stacklevel=3)
                self.skipped += 1

    def head(self, n: int) -> Tensor:
        """The first ``n`` readable items (as epoch 0 reads them), in model space on the device (for figures)."""
        items: list = []
        for i in range(len(self.reader)):  # type: ignore[arg-type]
            item = self.reader[(0, i)] if self.keyed else self.reader[i]
            if isinstance(item, Unreadable):
                self._unreadable([item], count=False)  # figures read it, not training
            else:
                items.append(item)
            if len(items) == n:
                break
        if not items:
            raise ValueError(f"no image of {getattr(self.dataset, 'root', 'the data')} could be read")
        return self._to_model(_collate(items).to(self.device))

    def next(self) -> Tensor:
        """The next batch (smaller by the unreadable images skipped in it, if any)."""
        while True:
            if self._it is None:
                self._it = self._loader()
            batch, bad = next(self._it)
            self.order.next()  # the consumed position: workers read ahead of it
            self._unreadable(bad)
            if batch is not None:
                return self._to_model(batch.to(self.device, non_blocking=True))

    def state(self) -> dict[str, int]:
        return {**self.order.state(), "skipped": self.skipped}

    def load_state(self, state: dict[str, int]) -> None:
        self.order.load_state(state)
        self.skipped = int(state.get("skipped", 0))
        self._it = None  # the next batch restarts the workers at the restored position


Stream = MemoryStream | LoaderStream


def _disk_dataset(data: DataConfig, model: ModelConfig, seed: int) -> Dataset:
    augment = {"crop": data.crop, "flip": data.flip, "seed": seed}
    if data.name == "prepared":
        if data.root is None:
            raise ValueError("data.name=prepared needs data.root= the folder written by `hatebm data prep`")
        images = PreparedImages(data.root, **augment)
        _check_prepared_size(images, data, model)
        return images
    if data.root is None:
        raise ValueError("data.name=folder needs data.root= the folder holding the images")
    return FolderImages(data.root, data.size or model.resolution, model.channels, **augment)


def _check_prepared_size(images: PreparedImages, data: DataConfig, model: ModelConfig) -> None:
    """Prepared images come at the size the run expects: ``data.size`` where set (then fitted to the model by
    ``data.resize``), else the model's resolution; anything else is one ValueError with the prep command that makes
    the right folder."""
    expected = data.size or model.resolution
    if images.size == expected:
        return
    m = images.manifest
    layout = " --layout short_side" if m["layout"] == "short_side" else ""
    key = "data.size" if data.size else "model.resolution"
    raise ValueError(f"data.root={data.root} holds images prepared at {images.size}×{images.size}, but this run "
                     f"expects {expected}×{expected} ({key}): prepare them at that size with `hatebm data prep "
                     f"{m['source']} --out DIR --size {expected}{layout}`, or set data.size={images.size} to fit these to the model "
                     f"with data.resize={data.resize}")


def open_stream(data: DataConfig, model: ModelConfig, batch_size: int, seed: int, rank: int, world: int,
                device: torch.device, user: UserData | None = None) -> tuple[Stream, DataInfo]:
    """The run's batch stream (``batch_size`` items per rank) and what is known of its data's original shape."""
    if isinstance(user, Dataset):
        first = _collate([user[0]])  # checked as in-memory data are
        info = user_data(first.numpy() if first.dtype == torch.uint8 else first, model, data.resize)[1]
        return LoaderStream(user, BatchOrder(len(user), batch_size, seed, rank, world), data, model, device), info
    if user is None:
        _check_arch(data, model)
    if user is None and data.name in STREAMED:
        images = _disk_dataset(data, model, seed)
        order = BatchOrder(len(images), batch_size, seed, rank, world)
        return LoaderStream(images, order, data, model, device), DataInfo(images.size, images.size, images.channels)
    x, info = load_training_data(data, model, seed) if user is None else user_data(user, model, data.resize)
    return MemoryStream(x, BatchOrder(len(x), batch_size, seed, rank, world)), info


def _check_arch(data: DataConfig, model: ModelConfig) -> None:
    """Named data and the networks agree: 2-D toy distributions for ``model.arch=mlp``, images for ``sngan``. (Not in
    ``validate()``: a Python caller's own data leaves ``data.name`` at its default.)"""
    toy = data.name in toy_names()
    if model.arch == "mlp" and not toy:
        raise ValueError(f"model.arch=mlp learns 2-D points: data.name must be a toy distribution "
                         f"({', '.join(toy_names())}), got {data.name!r}; for images use model.arch=sngan")
    if toy and model.arch != "mlp":
        raise ValueError(f"data.name={data.name} is a 2-D toy distribution: set model.arch=mlp model.channels=2 "
                         "(as the toy_gmm8_cpu preset does)")


def load_training_data(data: DataConfig, model: ModelConfig, seed: int = 0) -> tuple[Tensor, DataInfo]:
    """Images as float NCHW in [-1, 1] at the model's resolution, or points from a 2-D toy distribution."""
    if model.arch == "mlp":
        points = toy_distribution(data.name).sample(data.toy_size, torch.Generator().manual_seed(seed))
        return points.float(), DataInfo(1, 1, points.shape[1])
    images = load_images(data.name, data.split, data.root, data.download)
    x = to_model(images, size=model.resolution, mode=data.resize, channels=model.channels)
    return x, DataInfo(*images.shape[1:4])


def user_data(data: Tensor | np.ndarray, model: ModelConfig, resize: str = "pad") -> tuple[Tensor, DataInfo]:
    """A user's in-memory training data in model space: a float tensor already there ([N, C, H, W] in [-1, 1] at the
    model's resolution, or [N, D] points), or uint8 N×H×W×C images (mapped like named datasets)."""
    if isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 4 and model.arch == "sngan":
        x = to_model(data, size=model.resolution, mode=resize, channels=model.channels)
        return x, DataInfo(*data.shape[1:4])
    points = model.arch == "mlp"
    if not isinstance(data, Tensor) or data.ndim != (2 if points else 4) or not data.is_floating_point():
        raise ValueError("data must be a float tensor [N, C, H, W] in [-1, 1] (or [N, D] points), uint8 N×H×W×C "
                         f"images in a numpy array, or a Dataset of such tensors; got {type(data).__name__} "
                         f"{tuple(getattr(data, 'shape', ()))}")
    x = data.detach().float().cpu()
    if x.ndim == 2:
        return x, DataInfo(1, 1, x.shape[1])
    if x.shape[1:] != (model.channels, model.resolution, model.resolution):
        raise ValueError(f"data tensors are {tuple(x.shape[1:])} (C, H, W), the model expects "
                         f"{(model.channels, model.resolution, model.resolution)}: set model.channels and "
                         "model.resolution, or pass uint8 N×H×W×C images to be fitted")
    return x, DataInfo(x.shape[2], x.shape[3], x.shape[1])
