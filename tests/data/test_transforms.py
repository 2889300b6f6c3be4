from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from hatebm.data import to_model, to_uint8

RNG = np.random.default_rng(4)


def test_every_value_maps_linearly_and_back():
    values = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    x = to_model(values)
    assert x.dtype == torch.float32 and x.shape == (1, 1, 16, 16)
    torch.testing.assert_close(x.flatten(), torch.arange(256.0) * 2 / 255 - 1)
    np.testing.assert_array_equal(to_uint8(x), values)


@pytest.mark.parametrize("shape, size", [((3, 28, 28, 1), 32), ((2, 5, 7, 3), 10)])
def test_pad_round_trip_is_exact(shape, size):
    images = RNG.integers(0, 256, shape, dtype=np.uint8)
    x = to_model(images, size=size)
    assert x.shape == (shape[0], shape[3], size, size) and x.is_contiguous()
    h, w = shape[1:3]
    top, left = (size - h) // 2, (size - w) // 2
    border = torch.ones_like(x, dtype=torch.bool)
    border[..., top : top + h, left : left + w] = False
    assert torch.all(x[border] == -1)  # padding = the value of uint8 0
    if h == w:
        np.testing.assert_array_equal(to_uint8(x, crop=h), images)
    np.testing.assert_array_equal(to_uint8(x)[:, top : top + h, left : left + w], images)


def test_fashion_mnist_padding_is_two_pixels():
    x = to_model(np.full((1, 28, 28, 1), 255, np.uint8), size=32)
    assert x[0, 0, 2:30, 2:30].eq(1).all() and x[0, 0, :2].eq(-1).all() and x[0, 0, :, 30:].eq(-1).all()


def test_crop_takes_the_centre():
    images = RNG.integers(0, 256, (2, 9, 8, 3), dtype=np.uint8)
    np.testing.assert_array_equal(to_uint8(to_model(images, size=4, mode="crop")), images[:, 2:6, 2:6])


def test_resize_is_antialiased_bicubic_and_bounded():
    checker = (np.indices((32, 32)).sum(0) % 2 * 255).astype(np.uint8)[None, ..., None]
    x = to_model(checker, size=8, mode="resize")
    assert x.shape == (1, 1, 8, 8)
    assert x.abs().max() < 0.05  # antialiasing averages the checkerboard to mid-grey
    smooth = RNG.integers(0, 256, (1, 4, 4, 3), dtype=np.uint8)
    up = to_model(smooth, size=16, mode="resize")
    assert up.min() >= -1 and up.max() <= 1
    pil = np.asarray(Image.fromarray(smooth[0]).resize((16, 16), Image.Resampling.BICUBIC)).astype(int)
    assert np.abs(to_uint8(up)[0].astype(int) - pil).mean() < 6  # close to PIL's bicubic (edge handling differs)


def test_channel_conversion():
    grey = RNG.integers(0, 256, (2, 4, 4, 1), dtype=np.uint8)
    rgb = to_model(grey, channels=3)
    assert rgb.shape == (2, 3, 4, 4) and torch.equal(rgb[:, 0], rgb[:, 2])
    assert torch.equal(rgb[:, 1], to_model(grey)[:, 0])
    colour = RNG.integers(0, 256, (1, 6, 6, 3), dtype=np.uint8)
    luminance = to_uint8(to_model(colour, channels=1))
    pil = np.asarray(Image.fromarray(colour[0]).convert("L"))
    assert luminance.shape == (1, 6, 6, 1) and np.abs(luminance[0, ..., 0].astype(int) - pil).max() <= 1
    assert to_model(colour, channels=3).shape == (1, 3, 6, 6)


def test_to_uint8_clamps_and_rounds():
    x = torch.tensor([-3.0, -1.0, 0.0, 0.5, 1.0, 7.0]).reshape(1, 1, 1, 6)
    assert to_uint8(x).ravel().tolist() == [0, 0, 128, 191, 255, 255]  # 127.5 and 191.25 round to 128 and 191
    assert to_uint8(x.requires_grad_()).dtype == np.uint8


def test_impossible_requests():
    images = np.zeros((1, 28, 28, 1), np.uint8)
    with pytest.raises(ValueError, match="cannot pad 28×28 images to 16×16"):
        to_model(images, size=16)
    with pytest.raises(ValueError, match="cannot crop 28×28 images to 32×32"):
        to_model(images, size=32, mode="crop")
    with pytest.raises(ValueError, match="unknown mode 'zoom'"):
        to_model(images, size=32, mode="zoom")
    with pytest.raises(ValueError, match="expects uint8 images"):
        to_model(images.astype(np.float32))
    with pytest.raises(ValueError, match="expects uint8 images"):
        to_model(images[0])
    with pytest.raises(ValueError, match="channels must be"):
        to_model(images, channels=2)
    with pytest.raises(ValueError, match="cannot crop 28×28 images to 30×30"):
        to_uint8(to_model(images), crop=30)
    with pytest.raises(ValueError, match=r"tensor \[N, C, H, W\]"):
        to_uint8(torch.zeros(28, 28))
