"""One image at a time: read a file into uint8 H×W×C, and fit it to a square (centre crop, random crop, flip).

Resizing is PIL bicubic, which antialiases when shrinking. `centre_square` is the authors' centre crop (the centred
square of side min(H, W), resized); `random_square` their random crop with scale and aspect ranges [1, 1] (the short
side resized to the target, then a square window at a random position).
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

MODES = {1: "L", 3: "RGB"}  # channels -> PIL mode (L: ITU-R 601-2 luminance)


def check_channels(channels: int, where: str) -> None:
    """ValueError unless `channels` is 1 (grey) or 3 (RGB)."""
    if channels not in MODES:
        raise ValueError(f"{where}: channels must be 1 (grey) or 3 (RGB), got {channels!r}")


def _pil(img: np.ndarray) -> Image.Image:
    return Image.fromarray(img[..., 0] if img.shape[2] == 1 else img)


def _array(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.uint8).reshape(img.height, img.width, -1)


def read_image(path: str | Path, channels: int) -> np.ndarray:
    """The image file `path` as uint8 H×W×`channels` (3: RGB, 1: PIL "L"); transparency is composited onto white."""
    check_channels(channels, str(path))
    try:
        with Image.open(path) as img:
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                rgba = img.convert("RGBA")
                img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
            return _array(img.convert(MODES[channels]))
    except (UnidentifiedImageError, OSError, SyntaxError, EOFError, struct.error, ValueError,
            Image.DecompressionBombError) as err:  # what PIL raises for damaged, truncated or huge files
        raise ValueError(f"{path}: not a readable image ({type(err).__name__}: {err}); remove or replace it") from err


def with_channels(img: np.ndarray, channels: int) -> np.ndarray:
    """uint8 H×W×C image `img` with `channels` channels: grey is repeated, RGB becomes PIL "L" as in `read_image`."""
    check_channels(channels, "with_channels")
    return img if img.shape[2] == channels else _array(_pil(img).convert(MODES[channels]))


def resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """`img` resized to height×width with PIL bicubic (unchanged when already that size)."""
    if img.shape[:2] == (height, width):
        return img
    return _array(_pil(img).resize((width, height), Image.Resampling.BICUBIC))


def centre_crop(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """The largest centred window of aspect width:height, resized to height×width (offsets rounded down)."""
    h, w = img.shape[:2]
    ch, cw = (h, round(h * width / height)) if h * width <= w * height else (round(w * height / width), w)
    top, left = (h - ch) // 2, (w - cw) // 2
    return resize(img[top:top + ch, left:left + cw], height, width)


def centre_square(img: np.ndarray, size: int) -> np.ndarray:
    """The centred square of side min(H, W), resized to size×size."""
    return centre_crop(img, size, size)


def short_side(img: np.ndarray, size: int) -> np.ndarray:
    """`img` resized so that its shorter side is `size`, keeping its aspect ratio (the long side rounded)."""
    h, w = img.shape[:2]
    scale = size / min(h, w)
    return resize(img, round(h * scale), round(w * scale))


def random_square(img: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A size×size window at a uniformly random position (top, then left offset from `rng`) of `short_side(img)`."""
    img = short_side(img, size)
    top = int(rng.integers(0, img.shape[0] - size + 1))
    left = int(rng.integers(0, img.shape[1] - size + 1))
    return img[top:top + size, left:left + size]


def hflip(img: np.ndarray) -> np.ndarray:
    """`img` mirrored left to right."""
    return img[:, ::-1]
