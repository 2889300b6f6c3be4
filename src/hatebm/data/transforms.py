"""uint8 N×H×W×C images <-> model tensors float32 N×C×H×W in [-1, 1] (x = 2·u/255 − 1)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

MODES = ("pad", "resize", "crop")
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as PIL's convert("L")


def _centre(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The centred h×w window of x [..., H, W] (offsets rounded down)."""
    top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
    return x[..., top : top + h, left : left + w]


def to_model(
    images: np.ndarray | torch.Tensor, size: int | None = None, mode: str = "pad", channels: int | None = None
) -> torch.Tensor:
    """float32 [N, C, size, size] in [-1, 1] from uint8 images [N, H, W, C] (a numpy array, or a tensor on any
    device: the result is on that device).

    mode "pad" centres each image on a size×size canvas filled with −1 (uint8 0; Fashion-MNIST 28 -> 32),
    "crop" takes the centred size×size window, "resize" uses `torch.nn.functional.interpolate` bicubic with
    antialias=True, clamped to [-1, 1] (aspect ratio not kept). `channels` converts 1 -> 3 by repetition and
    3 -> 1 by ITU-R 601-2 luminance.
    """
    array = isinstance(images, np.ndarray) and images.dtype == np.uint8
    ok = (array or isinstance(images, torch.Tensor) and images.dtype == torch.uint8) and images.ndim == 4
    if not ok or images.shape[3] not in (1, 3):
        shape = tuple(getattr(images, "shape", ()))
        raise ValueError(f"to_model expects uint8 images [N, H, W, C] with C in {{1, 3}} (numpy or torch), got "
                         f"{type(images).__name__} {getattr(images, 'dtype', '')} {shape}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1, 3 or None, got {channels!r}")
    u = torch.from_numpy(np.ascontiguousarray(images)) if array else images
    x = u.permute(0, 3, 1, 2).contiguous().float().mul_(2 / 255).sub_(1)
    if channels == 3 and x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    elif channels == 1 and x.shape[1] == 3:
        x = torch.einsum("nchw,c->nhw", x, torch.tensor(LUMA, device=x.device)).unsqueeze(1)  # weights sum to 1: commutes with scaling
    if size is None:
        return x
    h, w = x.shape[-2:]
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    if mode == "pad":
        if size < h or size < w:
            raise ValueError(f"cannot pad {h}×{w} images to {size}×{size}; use mode='crop' or mode='resize'")
        top, left = (size - h) // 2, (size - w) // 2
        return F.pad(x, (left, size - w - left, top, size - h - top), value=-1.0)
    if mode == "crop":
        if size > h or size > w:
            raise ValueError(f"cannot crop {h}×{w} images to {size}×{size}; use mode='pad' or mode='resize'")
        return _centre(x, size, size).contiguous()
    if (h, w) == (size, size):  # already there (prepared data at the model's resolution)
        return x
    return F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True).clamp_(-1, 1)


def to_uint8(x: torch.Tensor, crop: int | None = None) -> np.ndarray:
    """uint8 [N, H, W, C] from model tensors [N, C, H, W]: clamp to [-1, 1], map to 0..255 and round; `crop` takes the
    centred crop×crop window (undoing `to_model(..., size, mode="pad")`)."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"to_uint8 expects a tensor [N, C, H, W] with C in {{1, 3}}, got {type(x).__name__} "
                         f"{tuple(getattr(x, 'shape', ()))}")
    if crop is not None:
        if not 1 <= crop <= min(x.shape[-2:]):
            raise ValueError(f"cannot crop {x.shape[-2]}×{x.shape[-1]} images to {crop}×{crop}")
        x = _centre(x, crop, crop)
    u = x.detach().float().clamp(-1, 1).add(1).mul(255 / 2).round().to(torch.uint8)
    return u.permute(0, 2, 3, 1).cpu().numpy()
