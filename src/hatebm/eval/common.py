"""What the evaluations (FID, proxy FID, OOD detection) share: image checks, picking and adapting image sets, and
writing their result files. Evaluation modules import these from here, never from each other."""
from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from hatebm.options import check_seed
from hatebm.data import load_images, to_model, to_uint8
from hatebm.data.registry import parse_spec
from hatebm.data.transforms import MODES as FIT_MODES

SUBSET_RULES = ("random", "first")
NOISE = "noise"


def check_images(images: Any, what: str = "images") -> None:
    """Raise one clear ValueError unless `images` is a non-empty uint8 N×H×W×C array with C in {1, 3}."""
    if not isinstance(images, np.ndarray):
        raise ValueError(f"{what} must be a numpy array of uint8 N×H×W×C images, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8 in 0..255, got {images.dtype}; convert model outputs in [-1, 1] "
                         "with hatebm.data.to_uint8 or np.clip(np.rint((x + 1) * 127.5), 0, 255).astype(np.uint8)")
    if images.ndim != 4 or images.shape[3] not in (1, 3):
        raise ValueError(f"{what} must be N×H×W×C with C = 1 (grey) or 3 (RGB), got shape {images.shape}; "
                         "give grey N×H×W images a channel axis with x[..., None]")
    if len(images) == 0:
        raise ValueError(f"{what} is empty: FID and KID need at least 2 images")


def check_fit(fit: str) -> None:
    if fit not in FIT_MODES:
        raise ValueError(f"unknown fit mode {fit!r}: use one of {', '.join(FIT_MODES)}")


def select_images(
    images: np.ndarray, n: int | None, subset: str = "random", seed: int = 0, n_name: str = "n"
) -> tuple[np.ndarray, dict[str, Any]]:
    """The n images to use (all when n is None or the whole set) and the rule as protocol entries:
    "random" = a seeded subset without replacement (kept in dataset order), "first" = the first n. Errors name `n` as
    `n_name` (the flag a command line user typed)."""
    if subset not in SUBSET_RULES:
        raise ValueError(f"unknown subset rule {subset!r}: use one of {', '.join(SUBSET_RULES)}")
    check_seed(seed)
    total = len(images)
    if n is None or n == total:
        return images, {"n": total, "subset": "all", "seed": None, "n_split": total}
    if not 2 <= n <= total:
        raise ValueError(f"{n_name} must be between 2 and the {total} images available, got {n}")
    if subset == "first":
        return images[:n], {"n": int(n), "subset": "first", "seed": None, "n_split": total}
    index = np.sort(np.random.default_rng(seed).choice(total, n, replace=False))
    return images[index], {"n": int(n), "subset": "random", "seed": int(seed), "n_split": total}


def adapt(images: np.ndarray, shape: tuple[int, int, int], fit: str | None = None, convert_channels: bool = False,
          what: str = "images") -> np.ndarray:
    """uint8 images at `shape` (H, W, C of the model's training data). Other channel counts are converted only with
    `convert_channels` (3 → 1 by luminance, 1 → 3 by repetition), other sizes only with a `fit` mode of
    `hatebm.data.to_model` ("resize", "pad" or "crop" to H×H); otherwise a ValueError says what to pass."""
    check_images(images, what)
    h, w, c = shape
    if images.shape[3] != c and not convert_channels:
        raise ValueError(f"{what}: {images.shape[3]}-channel images, but the model was trained on {c}-channel "
                         f"images: pass --convert-channels (convert_channels=True: 3 → 1 by luminance, 1 → 3 by "
                         f"repetition) or give {c}-channel images")
    same_size = images.shape[1:3] == (h, w)
    if not same_size:
        if fit is None:
            raise ValueError(f"{what}: {images.shape[1]}×{images.shape[2]} images, but the model was trained on "
                             f"{h}×{w} images: pass --fit resize, pad or crop (fit=...) to bring them to {h}×{w}")
        check_fit(fit)
        if h != w:
            raise ValueError(f"{what}: cannot bring images to the training data's non-square {h}×{w} shape; "
                             f"give {h}×{w} images")
    if same_size and images.shape[3] == c:
        return images
    return to_uint8(to_model(images, None if same_size else h, fit or "pad", c))


def noise_images(n: int, shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """n images of independent uniform uint8 noise of `shape` (H, W, C)."""
    return np.random.default_rng(check_seed(seed)).integers(0, 256, (n, *shape), dtype=np.uint8)


def load_set(spec: str, n: int | None = None, seed: int = 0, shape: tuple[int, int, int] | None = None,
             noise_n: int = 1000, n_name: str = "n") -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(images, their positions in the source set, protocol) of a set named by `spec`: a dataset spec
    (`hatebm.data.registry.parse_spec`: an .npz file, a folder, NAME or NAME:SPLIT, split "test" by default) or
    "noise" (`n` or else `noise_n` images of uniform noise of `shape`). At most `n` images, a seeded random subset."""
    if spec == NOISE:
        if shape is None:
            raise ValueError("the noise set needs an image shape (that of the model's training data)")
        count = noise_n if n is None else n
        if count < 1:
            raise ValueError(f"the noise set needs at least one image, got {n_name}={count}")
        protocol = {"spec": spec, "dataset": "uniform noise on 0..255", "n": count, "seed": seed,
                    "image_shape": list(shape)}
        return noise_images(count, shape, seed), np.arange(count), protocol
    name, split, root = parse_spec(spec)
    images = load_images(name, split, root)
    if len(images) == 0:
        raise ValueError(f"set {spec!r} holds no images: give at least one")
    check_images(images, f"set {spec!r}")
    index = np.arange(len(images))
    index, picked = select_images(index, None if n is None else min(n, len(images)), "random", seed, n_name)
    protocol = {"spec": spec, "dataset": name, "split": split, "root": root, **picked,
                "image_shape": list(images.shape[1:])}
    return images[index], index, protocol


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray], protocol: dict[str, Any]) -> Path:
    """Write `arrays` and `protocol` (as a JSON string, so no pickles are needed to read it) to an .npz atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz.tmp", delete=False) as f:
        np.savez(f, **arrays, protocol=np.array(json.dumps(protocol, sort_keys=True)))
    os.replace(f.name, path)
    return path


class NpzWriter:
    """Writes an .npz (deflated, as ``np.savez_compressed``) whose array ``name`` of ``n`` items arrives in chunks
    along its first axis, so that no more than one chunk is held in memory. The file appears atomically on
    :meth:`close` (temporary file, then rename); a writer left unclosed (an error) removes its temporary file when
    used as a context manager."""

    def __init__(self, path: str | os.PathLike, name: str, n: int) -> None:
        self.path, self.name, self.n, self.count = Path(path), name, n, 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".npz.tmp")
        os.close(fd)
        self.tmp = Path(tmp)
        self.zip = zipfile.ZipFile(self.tmp, "w", compression=zipfile.ZIP_DEFLATED)
        self.entry: Any = None

    def write(self, chunk: np.ndarray) -> None:
        chunk = np.ascontiguousarray(chunk)
        if self.entry is None:
            self.entry = self.zip.open(f"{self.name}.npy", "w", force_zip64=True)
            np.lib.format.write_array_header_2_0(self.entry, {
                "descr": np.lib.format.dtype_to_descr(chunk.dtype), "fortran_order": False,
                "shape": (self.n, *chunk.shape[1:])})
        if self.count + len(chunk) > self.n:
            raise ValueError(f"{self.path}: more than the {self.n} items announced for {self.name!r}")
        self.entry.write(chunk.tobytes())
        self.count += len(chunk)

    def close(self) -> Path:
        if self.entry is None or self.count != self.n:
            raise ValueError(f"{self.path}: {self.count} of the {self.n} items of {self.name!r} were written")
        self.entry.close()
        self.zip.close()
        os.replace(self.tmp, self.path)
        return self.path

    def __enter__(self) -> NpzWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.tmp.exists():  # not closed: leave nothing behind
            if self.entry is not None and not self.entry.closed:
                self.entry.close()
            self.zip.close()
            self.tmp.unlink()


def read_npz(path: str | os.PathLike, what: str, hint: str) -> dict[str, np.ndarray]:
    """Every array of the .npz `path`, read without pickles; one ValueError naming `what` the file should be and
    `hint` (how to get one) if it is no .npz of plain arrays."""
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"{path} is not {what}: not an .npz of plain arrays ({err}); {hint}") from err
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} is not {what}: it holds one bare array, not named arrays; {hint}")
    with npz:
        try:
            return {k: npz[k] for k in npz.files}
        except (ValueError, OSError) as err:  # object arrays need pickles, which are never loaded
            raise ValueError(f"{path} is not {what}: it holds arrays that need pickles ({err}); {hint}") from err


def key_part(text: str) -> str:
    """`text` (e.g. a dataset spec or path) as one part of a metrics.json key: runs of other characters → "-"."""
    return re.sub(r"[^A-Za-z0-9_.:-]+", "-", text)


def write_metrics(path: str | os.PathLike, metrics: dict[str, Any], key: str | None = None) -> Path:
    """Merge `metrics` (numbers with their "protocol") under `key` into the JSON file `path`, atomically.

    The default key, "fid/<reference name>/n<samples>", keeps evaluations under different protocols side by side
    and replaces an earlier one under the same protocol.
    """
    path = Path(path)
    if key is None:
        protocol = metrics["protocol"]
        key = f"fid/{protocol['reference']['name']}/n{protocol['samples']['n']}"
    merged = json.loads(path.read_text()) if path.is_file() else {}
    if not isinstance(merged, dict):
        raise ValueError(f"{path} does not hold a JSON object; move it away or pass another path")
    merged[key] = metrics
    return write_json(path, merged)


def write_json(path: str | os.PathLike, content: Any) -> Path:
    """Write ``content`` as indented JSON with sorted keys to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".json.tmp", delete=False) as f:
        json.dump(content, f, indent=2, sort_keys=True)
    os.replace(f.name, path)
    return path
