"""The one meaning of ``device="auto"`` across hatebm: CUDA when it is available, else the CPU."""
from __future__ import annotations

import torch


def resolve_device(device: str | torch.device | None = "auto") -> str | torch.device:
    """``"auto"`` (or None) as ``"cuda"`` or ``"cpu"``; any other device unchanged, once checked: a name torch does not
    know, or a CUDA device this machine lacks, is one ValueError naming it."""
    if device is None or device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"unknown device {str(device)!r} (--device, or the config key device): use auto, cpu, cuda "
                         "or cuda:N") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device {str(device)!r} (--device, or the config key device) needs a CUDA GPU, and this "
                             "torch sees none: use cpu or auto")
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(f"device {str(device)!r} (--device, or the config key device): this machine has "
                             f"{count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
    return device
