import os

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))


@pytest.fixture
def tiny_npz(tmp_path):
    """A small uint8 grey image set (28x28) saved as .npz: bright squares of random size on black."""
    rng = np.random.default_rng(0)
    imgs = np.zeros((64, 28, 28, 1), np.uint8)
    for i in range(64):
        s = rng.integers(6, 20)
        imgs[i, 14 - s // 2:14 + s // 2, 14 - s // 2:14 + s // 2] = 200
    path = tmp_path / "tiny.npz"
    np.savez(path, images=imgs)
    return path
