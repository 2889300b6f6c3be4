"""The precision policy of every network pass in hatebm, decided here and nowhere else.

- **bf16 autocast** (``amp=true``) only where the device computes bf16 natively: CUDA GPUs of compute capability 8.0
  or more (Ampere, Hopper; a V100 or a T4 would emulate it, slower than float32) and CPUs with AVX512-BF16 or AMX.
  Elsewhere the networks run in float32 and the run warns.
- **The Langevin states and G(Z) stay float32.** The chains run the generator outside autocast: bf16 would round G(Z)
  to a spacing of 0.0078 where |x| >= 1 (tanh x 2), eight times sigma_data = 1e-3 and far above an eps_Y step, and the
  tandem bank would store the rounded X-. Only the hat's passes (and the updates) use bf16.
- **Training and evaluation chains share one precision**: a trained model samples (:meth:`hatebm.model.Model.sample`)
  under the autocast its run trained its chains with.
- **TF32** (Ampere and later GPUs) rounds the inputs of matrix products and convolutions to 10 mantissa bits, about
  1e-3 relative: near |x| = 1 that hides Y steps of eps_Y = 1e-4 and the data noise sigma_data = 1e-3 from the hat.
  PyTorch enables it for cuDNN convolutions by default; runs and samplers set it explicitly instead, off unless
  ``tf32=true`` allows it for speed. FID's Inception always runs without it (:mod:`hatebm.eval.inception`).
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bf16 natively: a CUDA GPU of compute capability >= 8.0, or a CPU with AVX512-BF16 or
    AMX."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    return device.type == "cpu" and bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def autocast(device: torch.device | str, amp: bool) -> Any:
    """bf16 autocast for network passes on ``device`` when ``amp`` is on and the device has native bf16; a no-op
    elsewhere."""
    device = torch.device(device)
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and native_bf16(device))


def full_precision(device: torch.device | str) -> Any:
    """A block of float32 network passes inside an autocast region (the generator in the chains)."""
    return torch.autocast(torch.device(device).type, enabled=False)


@contextlib.contextmanager
def tf32(allow: bool) -> Iterator[None]:
    """A block whose CUDA matrix products and cuDNN convolutions may use TF32 only if ``allow``; the previous settings
    are restored after it."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = bool(allow)
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
