from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hatebm.data.images import (centre_crop, centre_square, hflip, random_square, read_image, short_side,
                                with_channels)

RNG = np.random.default_rng(7)


def bicubic(img: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.BICUBIC))


def test_read_image_rgb_grey_and_transparency(tmp_path):
    rgb = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_image(tmp_path / "a.png", 3), rgb)
    grey = read_image(tmp_path / "a.png", 1)
    assert grey.shape == (5, 7, 1) and grey.dtype == np.uint8
    np.testing.assert_array_equal(grey[..., 0], np.asarray(Image.fromarray(rgb).convert("L")))
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (0, 0, 255, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    assert read_image(tmp_path / "t.png", 3)[[0, 1], [0, 1]].tolist() == [[0, 0, 255], [255, 255, 255]]


def test_read_image_errors(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"no jpeg")
    with pytest.raises(ValueError, match=r"bad\.jpg: not a readable image"):
        read_image(tmp_path / "bad.jpg", 3)
    with pytest.raises(ValueError, match="channels must be 1"):
        read_image(tmp_path / "bad.jpg", 2)


def test_centre_square_crops_then_resizes():
    wide = RNG.integers(0, 256, (10, 21, 3), dtype=np.uint8)
    np.testing.assert_array_equal(centre_square(wide, 4), bicubic(wide[:, 5:15], 4, 4))  # offset (21-10)//2 = 5
    tall = RNG.integers(0, 256, (9, 6, 1), dtype=np.uint8)
    np.testing.assert_array_equal(centre_square(tall, 6), tall[1:7])  # no resize at the target size
    square = RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert np.shares_memory(centre_square(square, 8), square)  # no resize, no copy
    np.testing.assert_array_equal(centre_square(square, 16), bicubic(square, 16, 16))  # enlarging too


def test_centre_crop_keeps_the_target_aspect():
    img = RNG.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    np.testing.assert_array_equal(centre_crop(img, 3, 6), bicubic(img[3:9], 3, 6))


def test_short_side_keeps_aspect():
    img = RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert short_side(img, 10).shape == (10, 15, 3)
    np.testing.assert_array_equal(short_side(img, 10), bicubic(img, 10, 15))
    assert short_side(img.transpose(1, 0, 2), 16).shape == (24, 16, 3)
    assert short_side(img, 20) is img


def test_random_square_is_a_window_of_the_short_side_image():
    img = RNG.integers(0, 256, (16, 40, 3), dtype=np.uint8)
    lefts = set()
    for seed in range(20):
        crop = random_square(img, 16, np.random.default_rng(seed))
        assert crop.shape == (16, 16, 3)
        (left,) = [x for x in range(25) if np.array_equal(img[:, x:x + 16], crop)]
        lefts.add(left)
        np.testing.assert_array_equal(random_square(img, 16, np.random.default_rng(seed)), crop)
    assert len(lefts) > 5  # uniformly spread offsets
    resized = random_square(img, 8, np.random.default_rng(0))
    assert any(np.array_equal(short_side(img, 8)[:, x:x + 8], resized) for x in range(13))


def test_hflip_and_channels():
    img = RNG.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    np.testing.assert_array_equal(hflip(img), img[:, ::-1])
    np.testing.assert_array_equal(with_channels(img, 1)[..., 0], np.asarray(Image.fromarray(img).convert("L")))
    grey = img[..., :1]
    np.testing.assert_array_equal(with_channels(grey, 3), np.repeat(grey, 3, axis=2))
    assert with_channels(img, 3) is img
