"""Per-image Gaussian noise from a counter-based generator: element j of draw k of an image with seed s is a pure
function of (s, k, j), whatever the batch the image is drawn in, the rank that draws it or the device.

A batch's draw costs a fixed number of tensor operations, however many images it holds (a generator per image, as
edm's StackedRandomGenerator keeps, costs one RNG call per image and draw). The uniform bits are SplitMix64 (Steele,
Lea and Flood 2014): the 64-bit finaliser of the counter ``key(s) + (k * 2**32 + j) * gamma``, where ``key(s)`` is the
finaliser of ``s + gamma``; its top and bottom 24 bits give two uniforms (exact in float32), and Box-Muller one normal
(so |z| <= 5.8: a tail of probability 1e-8 is cut). The integer part is exact two's-complement arithmetic on int64
tensors, so CPU and GPU draw the same bits; the normals agree to the float32 rounding of ``log`` and ``cos``, which may
differ by an ulp between devices. The work is done in place: a draw of M values holds about 2M int64s at its peak.
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
    """Logical right shift of int64 bits (torch's ``>>`` is arithmetic), one new tensor."""
    return (x >> k).bitwise_and_((1 << (64 - k)) - 1)


def mix64(x: Tensor) -> Tensor:
    """SplitMix64's finaliser of an int64 tensor, in place (wrapping multiplication); returns ``x``."""
    x ^= _shr(x, 30)
    x *= MIX1
    x ^= _shr(x, 27)
    x *= MIX2
    x ^= _shr(x, 31)
    return x


class ImageNoise:
    """Gaussian draws per image: row i of every draw is a function of ``seeds[i]``, the number of draws made before
    and the element's index only (see the module docstring)."""

    def __init__(self, seeds: Sequence[int], device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        seeds = torch.as_tensor(list(seeds), dtype=torch.int64, device=self.device)
        self.keys = mix64(seeds + GAMMA).unsqueeze(1)  # + GAMMA: seed 0 would give key 0, hence bits 0 at j = 0
        self.draws = 0

    def bits(self, n: int) -> Tensor:
        """The next draw's 64 random bits of ``n`` elements of every image, [len(seeds), n] int64."""
        j = torch.arange(n, dtype=torch.int64, device=self.device)
        j += self.draws * DRAW
        j *= GAMMA
        self.draws += 1
        return mix64(self.keys + j)

    def randn(self, *shape: int) -> Tensor:
        """[len(seeds), *shape] float32 on the device: the next draw of every image."""
        bits = self.bits(math.prod(shape))
        angle = (bits & 0xFFFFFF).float().mul_(2 * math.pi * 2.0**-24)  # [0, 2 pi)
        radius = _shr(bits, 40).float().add_(1.0).mul_(2.0**-24)  # (0, 1]: the log stays finite
        del bits
        z = radius.log_().mul_(-2.0).sqrt_().mul_(angle.cos_())
        return z.view(len(self.keys), *shape)

    def randn_like(self, x: Tensor) -> Tensor:
        return self.randn(*x.shape[1:]).to(x.dtype)
