"""Per-image Gaussian noise from a counter-based generator: element j of draw k of an image with seed s is a pure
function of (s, k, j), whatever the batch the image is drawn in, the rank that draws it or the device.

A batch's draw costs a fixed number of tensor operations, however many images it holds (a generator per image, as
edm's StackedRandomGenerator keeps, costs one RNG call per image and draw). The uniform bits are SplitMix64 (Steele,
Lea and Flood 2014): the 64-bit finaliser of the counter ``key(s) + (k * 2**32 + j) * gamma``, where ``key(s)`` is the
finaliser of the seed; its two 32-bit halves give two uniforms, and Box-Muller (in float64, rounded to float32) one
normal. The integer part is exact two's-complement arithmetic on int64 tensors, so CPU and GPU draw the same bits;
the normals agree to float32 rounding of float64 ``log``/``cos``, which may differ by an ulp between devices.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor


def _signed(value: int) -> int:
    """A 64-bit constant as the int64 with its bits."""
    return value - (1 << 64) if value >= 1 << 63 else value


GAMMA = _signed(0x9E3779B97F4A7C15)  # SplitMix64's increment (the golden ratio in 64 bits)
MIX1, MIX2 = _signed(0xBF58476D1CE4E5B9), _signed(0x94D049BB133111EB)
DRAW = 1 << 32  # counter stride between draws: up to 2**32 elements a draw


def _shr(x: Tensor, k: int) -> Tensor:
    """Logical right shift of int64 bits (torch's ``>>`` is arithmetic)."""
    return (x >> k) & ((1 << (64 - k)) - 1)


def mix64(x: Tensor) -> Tensor:
    """SplitMix64's finaliser of int64 tensors (wrapping multiplication)."""
    x = (x ^ _shr(x, 30)) * MIX1
    x = (x ^ _shr(x, 27)) * MIX2
    return x ^ _shr(x, 31)


class ImageNoise:
    """Gaussian draws per image: row i of every draw is a function of ``seeds[i]``, the number of draws made before
    and the element's index only (see the module docstring)."""

    def __init__(self, seeds: Sequence[int], device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.keys = mix64(torch.as_tensor(list(seeds), dtype=torch.int64, device=self.device)).unsqueeze(1)
        self.draws = 0

    def randn(self, *shape: int) -> Tensor:
        """[len(seeds), *shape] float32 on the device: the next draw of every image."""
        n = math.prod(shape)
        j = torch.arange(n, dtype=torch.int64, device=self.device)
        bits = mix64(self.keys + (j + self.draws * DRAW) * GAMMA)
        self.draws += 1
        u1 = (_shr(bits, 32) + 1).double() * 2.0**-32  # (0, 1]: log stays finite
        u2 = (bits & 0xFFFFFFFF).double() * 2.0**-32
        z = torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * math.pi * u2)
        return z.float().view(len(self.keys), *shape)

    def randn_like(self, x: Tensor) -> Tensor:
        return self.randn(*x.shape[1:]).to(x.dtype)
