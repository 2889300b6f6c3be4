"""A folder of image files (searched recursively), read with PIL."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def image_files(root: Path) -> list[Path]:
    """Image files under `root`, recursively, in sorted order."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())


def _read(path: Path, mode: str, size: tuple[int, int] | None) -> np.ndarray:
    try:
        with Image.open(path) as img:
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:  # composite onto white
                rgba = img.convert("RGBA")
                img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
            img = img.convert(mode)
            if size is not None and img.size != (size[1], size[0]):
                img = img.resize((size[1], size[0]), Image.Resampling.BICUBIC)  # PIL antialiases when shrinking
            return np.asarray(img, dtype=np.uint8).reshape(img.height, img.width, -1)
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{path}: not a readable image ({err}); remove or replace it") from err


def load(
    split: str, root: str | Path | None, download: bool, labels: bool,
    channels: int = 3, size: int | tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """All images under folder `root` as uint8 [N, H, W, channels] (RGB for 3, luminance L for 1; transparency is
    composited onto white). With `size` (an int for square, or (H, W)) every image is resized with PIL bicubic;
    without it all images must share one size. `split` and `download` do not apply: `root` names the data."""
    if root is None:
        raise ValueError("folder: pass root= the folder holding the images")
    if labels:
        raise ValueError("folder: image folders carry no labels; use load_images")
    if channels not in (1, 3):
        raise ValueError(f"folder: channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if isinstance(size, int):
        size = (size, size)
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise ValueError(f"folder: size must be a positive int or (H, W), got {size!r}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"folder: {root} is not a folder; pass root= the folder holding the images")
    files = image_files(root)
    if not files:
        raise FileNotFoundError(f"folder: no {'/'.join(s[1:] for s in SUFFIXES)} images under {root}")
    mode = "RGB" if channels == 3 else "L"
    first = _read(files[0], mode, size)
    images = np.empty((len(files), *first.shape), dtype=np.uint8)
    images[0] = first
    for i, path in enumerate(files[1:], start=1):
        img = _read(path, mode, size)
        if img.shape != first.shape:
            raise ValueError(
                f"folder: images differ in size: {files[0]} is {first.shape[1]}×{first.shape[0]}, {path} is "
                f"{img.shape[1]}×{img.shape[0]} (W×H); set data.size=N (hatebm train) or pass size=N to bring them all to N×N"
            )
        images[i] = img
    return images, None
