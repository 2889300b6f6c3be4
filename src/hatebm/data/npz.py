"""A NumPy .npz file holding images: the array `images` (or the file's only array), uint8; a .npy file works too."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np


def to_nhwc(array: np.ndarray, where: str) -> np.ndarray:
    """uint8 N×H×W×C from N×H×W (C = 1), N×H×W×C or, when unambiguous, N×C×H×W, with C in {1, 3}."""
    if array.dtype != np.uint8:
        raise ValueError(f"{where}: images must be uint8 in 0..255, got {array.dtype}; convert with "
                         "np.clip(np.rint(x), 0, 255).astype(np.uint8) after scaling to 0..255")
    if array.ndim == 3:
        return array[..., None]
    if array.ndim == 4:
        last, second = array.shape[3] in (1, 3), array.shape[1] in (1, 3)
        if last and not second:
            return array
        if second and not last:
            return np.ascontiguousarray(array.transpose(0, 2, 3, 1))
        if last and second:
            raise ValueError(
                f"{where}: shape {array.shape} is ambiguous between N×H×W×C and N×C×H×W; store N×H×W×C"
            )
    raise ValueError(f"{where}: images must be N×H×W, N×H×W×C or N×C×H×W with C in {{1, 3}}, got shape {array.shape}")


def load(split: str, root: str | Path | None, download: bool, labels: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Images uint8 [N, H, W, C] from the .npz file `root`; `split` and `download` do not apply."""
    if root is None:
        raise ValueError("npz: pass data.root= (root= in Python) the .npz file")
    if labels:
        raise ValueError("npz: labels are not read from .npz files; use load_images")
    path = Path(root).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"npz: no file {path}; pass data.root= (root= in Python) an .npz file holding an "
                                "array named 'images'")
    try:
        loaded = np.load(path, allow_pickle=False)  # no pickles: object arrays are refused
        if isinstance(loaded, np.ndarray):  # a plain .npy file
            array = loaded
        else:
            with loaded as npz:
                keys = list(npz.keys())
                key = "images" if "images" in keys else keys[0] if len(keys) == 1 else None
                array = npz[key] if key is not None else None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise ValueError(f"{path}: not a readable .npz file of numeric arrays ({err}); write it with "
                         "np.savez(path, images=x)") from err
    if array is None:
        raise ValueError(f"{path}: no array named 'images' among {keys}; save it with np.savez(path, images=x)")
    return to_nhwc(array, str(path)), None
