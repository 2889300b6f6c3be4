import numpy as np
import pytest
import torch
from squares import make_squares

from hatebm.devices import cpu_threads


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(cpu_threads())  # what the CLI sets, so in-process CLI calls keep the count


@pytest.fixture
def tiny_npz(tmp_path):
    """A small uint8 grey image set (28x28) saved as .npz: bright squares of random size on black."""
    path = tmp_path / "tiny.npz"
    np.savez(path, images=make_squares(64))
    return path
