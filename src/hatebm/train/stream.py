"""Training data in model space and the endless, resumable stream of batches drawn from it.

Data come from the config (:func:`load_training_data`: a named dataset or a 2-D toy) or from the user
(:func:`user_data`: a tensor, a uint8 array or a torch ``Dataset``), and are held as one tensor.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from hatebm.config import DataConfig, ModelConfig
from hatebm.data import DataInfo, load_images, to_model, toy_distribution

UserData = Tensor | np.ndarray | Dataset


def load_training_data(data: DataConfig, model: ModelConfig, seed: int = 0) -> tuple[Tensor, DataInfo]:
    """Images as float NCHW in [-1, 1] at the model's resolution, or points from a 2-D toy distribution."""
    if model.arch == "mlp":
        points = toy_distribution(data.name).sample(data.toy_size, torch.Generator().manual_seed(seed))
        return points.float(), DataInfo(1, 1, points.shape[1])
    options = {"size": data.size} if data.size is not None else {}
    images = load_images(data.name, data.split, data.root, data.download, **options)
    x = to_model(images, size=model.resolution, mode=data.resize, channels=model.channels)
    return x, DataInfo(*images.shape[1:4])


def user_data(data: UserData, model: ModelConfig, resize: str = "pad") -> tuple[Tensor, DataInfo]:
    """A user's training data in model space: a float tensor already there ([N, C, H, W] in [-1, 1] at the model's
    resolution, or [N, D] points), uint8 N×H×W×C images (mapped like named datasets), or a ``Dataset`` of either kind
    of tensor (items may be ``(x, label)`` pairs; the label is dropped)."""
    if isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 4 and model.arch == "sngan":
        x = to_model(data, size=model.resolution, mode=resize, channels=model.channels)
        return x, DataInfo(*data.shape[1:4])
    if isinstance(data, Dataset):
        items = [data[i] for i in range(len(data))]  # type: ignore[arg-type]
        data = torch.stack([item[0] if isinstance(item, (tuple, list)) else item for item in items])
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


class DataStream:
    """Endless shuffled batches from an in-memory tensor; the order is a function of (seed, epoch), so the
    stream's whole state is (epoch, position) and resumes exactly. Each rank reads its own stride of the order."""

    def __init__(self, data: Tensor, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        if data.shape[0] < batch_size * world:
            raise ValueError(f"the data hold {data.shape[0]} items, fewer than one batch ({batch_size} x {world} ranks)")
        self.data, self.batch_size, self.seed, self.rank, self.world = data, batch_size, seed, rank, world
        self.epoch, self.pos = 0, 0
        self._order = self._make_order()

    def _make_order(self) -> Tensor:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(self.data.shape[0], generator=g)[self.rank::self.world]

    def next(self) -> Tensor:
        if self.pos + self.batch_size > len(self._order):
            self.epoch, self.pos = self.epoch + 1, 0
            self._order = self._make_order()
        idx = self._order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return self.data[idx]

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state(self, state: dict[str, int]) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._order = self._make_order()
