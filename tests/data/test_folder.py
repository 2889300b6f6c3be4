from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hatebm.data import load_images, load_labeled

RNG = np.random.default_rng(2)


def test_reads_recursively_in_sorted_order(tmp_path):
    a = RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    b = RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    (tmp_path / "sub").mkdir()
    Image.fromarray(b).save(tmp_path / "sub" / "b.PNG")
    Image.fromarray(a).save(tmp_path / "a.bmp")
    (tmp_path / "notes.txt").write_text("not an image")
    images = load_images("folder", root=tmp_path)
    assert images.shape == (2, 6, 5, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, np.stack([a, b]))  # lossless formats: exact pixels


def test_grey_conversion_and_grey_input(tmp_path):
    rgb = RNG.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    grey = RNG.integers(0, 256, (4, 4), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "0.png")
    Image.fromarray(grey).save(tmp_path / "1.png")
    images = load_images("folder", root=tmp_path, channels=1)
    assert images.shape == (2, 4, 4, 1)
    np.testing.assert_array_equal(images[0, ..., 0], np.asarray(Image.fromarray(rgb).convert("L")))
    np.testing.assert_array_equal(images[1, ..., 0], grey)
    np.testing.assert_array_equal(load_images("folder", root=tmp_path)[1], np.repeat(grey[..., None], 3, axis=-1))


def test_transparency_composited_on_white(tmp_path):
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red; the rest transparent black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "e.png")
    image = load_images("folder", root=tmp_path)[0]
    assert image[0, 0].tolist() == [255, 0, 0] and image[1, 1].tolist() == [255, 255, 255]


def test_mismatched_sizes_need_a_size(tmp_path):
    Image.fromarray(RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(RNG.integers(0, 256, (6, 10, 3), dtype=np.uint8)).save(tmp_path / "b.jpg")
    with pytest.raises(ValueError, match=r"differ in size.*b\.jpg is 10×6.*size="):
        load_images("folder", root=tmp_path)
    assert load_images("folder", root=tmp_path, size=4).shape == (2, 4, 4, 3)
    assert load_images("folder", root=tmp_path, size=(3, 5), channels=1).shape == (2, 3, 5, 1)


def test_size_is_a_centre_crop_then_pil_bicubic(tmp_path):
    wide = RNG.integers(0, 256, (16, 24, 3), dtype=np.uint8)
    Image.fromarray(wide).save(tmp_path / "a.png")
    expected = np.asarray(Image.fromarray(wide[:, 4:20]).resize((8, 8), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(load_images("folder", root=tmp_path, size=8)[0], expected)
    np.testing.assert_array_equal(load_images("folder", root=tmp_path, size=16)[0], wide[:, 4:20])  # crop only


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match=r"pass data.root= \(root= in Python\)"):
        load_images("folder")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_images("folder", root=tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no png/jpg"):
        load_images("folder", root=tmp_path)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(ValueError, match="broken.png: not a readable image"):
        load_images("folder", root=tmp_path)
    with pytest.raises(ValueError, match="channels must be 1"):
        load_images("folder", root=tmp_path, channels=4)
    with pytest.raises(ValueError, match="no labels"):
        load_labeled("folder", root=tmp_path)
