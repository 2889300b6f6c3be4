"""Training data as one in-memory tensor in model space, plus what is needed to map samples back."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from hatebm.config import DataConfig, ModelConfig


@dataclass
class DataInfo:
    """Shape of the original data (H, W, C), so samples can be cropped back (e.g. 32 -> 28 px)."""

    height: int
    width: int
    channels: int


def load_training_data(data: DataConfig, model: ModelConfig, seed: int = 0) -> tuple[Tensor, DataInfo]:
    """Images as float NCHW in [-1, 1] at the model's resolution, or points from a 2-D toy distribution."""
    from hatebm.data import load_images, toy_distribution
    from hatebm.data.transforms import to_model

    if model.arch == "mlp":
        points = toy_distribution(data.name).sample(data.toy_size, torch.Generator().manual_seed(seed))
        return points.float(), DataInfo(1, 1, points.shape[1])
    images = load_images(data.name, data.split, data.root)
    x = to_model(images, size=model.resolution, mode=data.resize, channels=model.channels)
    return x, DataInfo(*images.shape[1:4])
