"""A tiny trained Hat EBM shared by the OOD, figure and checkpoint-FID tests (trained once, in about two seconds)."""
from __future__ import annotations

import numpy as np
import pytest
import torch


def make_squares(n: int, seed: int = 0) -> np.ndarray:
    """uint8 [n, 28, 28, 1]: bright centred squares of random size on black (as tests/conftest.py's tiny_npz)."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28, 1), np.uint8)
    for i in range(n):
        s = rng.integers(6, 20)
        images[i, 14 - s // 2 : 14 + s // 2, 14 - s // 2 : 14 + s // 2] = 200
    return images


@pytest.fixture(scope="session")
def squares():
    """`make_squares(n, seed)`: small grey test images like the tiny run's training data."""
    return make_squares


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A run folder of `hatebm train tiny` on 64 squares (28×28 grey, padded to 32): checkpoints at steps 2 and 4."""
    from hatebm.config import override, preset
    from hatebm.train.tandem import train

    folder = tmp_path_factory.mktemp("tiny_run")
    np.savez(folder / "squares.npz", images=make_squares(64))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = override(preset("tiny"), ["data.name=npz", f"data.root={folder / 'squares.npz'}", "eval_samples=0"])
        return train(cfg, folder / "run", progress=False)
    finally:
        torch.set_num_threads(threads)
