"""A folder of image files (searched recursively), read with PIL."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from hatebm.data.images import centre_crop, check_channels, read_image

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def image_files(root: Path) -> list[Path]:
    """Image files under `root`, recursively, in sorted order."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())


def find_images(root: str | Path, where: str = "folder") -> list[Path]:
    """The image files under folder `root`; FileNotFoundError if it is not a folder or holds none."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{where}: {root} is not a folder; pass data.root= (root= in Python) the folder "
                                "holding the images")
    files = image_files(root)
    if not files:
        raise FileNotFoundError(f"{where}: no {'/'.join(s[1:] for s in SUFFIXES)} images under {root}")
    return files


def load(
    split: str, root: str | Path | None, download: bool, labels: bool,
    channels: int = 3, size: int | tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """All images under folder `root` as uint8 [N, H, W, channels] (RGB for 3, luminance L for 1; transparency is
    composited onto white). With `size` (an int for square, or (H, W)) every image's largest centred window of that
    aspect is cropped and resized with PIL bicubic; without it all images must share one size. `split` and `download`
    do not apply: `root` names the data."""
    if root is None:
        raise ValueError("folder: pass data.root= (root= in Python) the folder holding the images")
    if labels:
        raise ValueError("folder: image folders carry no labels; use load_images")
    check_channels(channels, "folder")
    if isinstance(size, int):
        size = (size, size)
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise ValueError(f"folder: size must be a positive int or (H, W), got {size!r}")
    files = find_images(root)

    def read(path: Path) -> np.ndarray:
        img = read_image(path, channels)
        return img if size is None else centre_crop(img, *size)

    first = read(files[0])
    images = np.empty((len(files), *first.shape), dtype=np.uint8)
    images[0] = first
    for i, path in enumerate(files[1:], start=1):
        img = read(path)
        if img.shape != first.shape:
            raise ValueError(
                f"folder: images differ in size: {files[0]} is {first.shape[1]}×{first.shape[0]}, {path} is "
                f"{img.shape[1]}×{img.shape[0]} (W×H); set data.size=N (hatebm train) or pass size=N to bring them all to N×N"
            )
        images[i] = img
    return images, None
