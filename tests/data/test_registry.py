from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hatebm.data import cache_dir, dataset_names, load_images


def test_names():
    assert dataset_names() == ["cifar10", "cifar100", "digits", "fashion_mnist", "folder", "mnist", "npz", "prepared"]


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="unknown dataset 'svhn'; choose one of cifar10, cifar100, digits"):
        load_images("svhn")


def test_unknown_option_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="'fashion_mnist' takes no option.*channels; its options: none"):
        load_images("fashion_mnist", channels=3)
    np.savez(tmp_path / "x.npz", images=np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="'folder' takes no option.*colour; its options: channels, size"):
        load_images("folder", root=tmp_path, colour=1)


def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("HATEBM_CACHE", raising=False)
    assert cache_dir() == Path.home() / ".cache" / "hatebm"
    monkeypatch.setenv("HATEBM_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
