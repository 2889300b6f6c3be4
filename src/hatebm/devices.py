"""The one meaning of ``device="auto"`` across hatebm: CUDA when it is available, else the CPU."""
from __future__ import annotations

import torch


def resolve_device(device: str | torch.device | None = "auto") -> str | torch.device:
    """``"auto"`` (or None) as ``"cuda"`` or ``"cpu"``; any other device unchanged."""
    if device is None or device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device
