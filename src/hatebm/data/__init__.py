"""Datasets (uint8 N×H×W×C in numpy; large ones prepared on disk and read lazily), transforms to model space
(float32 NCHW in [-1, 1]) and 2-D toy densities."""
from __future__ import annotations

from hatebm.data.fashion_mnist import download_fashion_mnist
from hatebm.data.info import DataInfo
from hatebm.data.paths import cache_dir
from hatebm.data.prep import prepare, write_prepared
from hatebm.data.prepared import FolderImages, PreparedImages, read_manifest
from hatebm.data.registry import dataset_names, load_images, load_labeled
from hatebm.data.toy import ToyDistribution, toy_distribution, toy_names
from hatebm.data.transforms import to_model, to_uint8

__all__ = [
    "DataInfo",
    "FolderImages",
    "PreparedImages",
    "ToyDistribution",
    "cache_dir",
    "dataset_names",
    "download_fashion_mnist",
    "load_images",
    "load_labeled",
    "prepare",
    "write_prepared",
    "read_manifest",
    "to_model",
    "to_uint8",
    "toy_distribution",
    "toy_names",
]
