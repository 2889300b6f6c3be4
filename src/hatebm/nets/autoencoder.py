"""Deterministic autoencoder with image-shaped latents, the generator of the retrofit experiment (paper §4.2).

The encoder's raw output is projected onto the sphere of radius sqrt(m) (m = latent size), so every code has the norm
of a typical N(0, I) draw. Layouts follow the authors' 32 px networks, generalised to a latent ``[c, h, w]`` with
``resolution = h * 2**k``: encoder = hat-net stem block + k down-blocks + 2 blocks + relu + conv3 to c channels;
decoder = stem block at the latent size + k up-blocks + 2 blocks + BN + relu + conv3 + tanh * out_scale (the SN-GAN
generator's blocks, with fixed batch-norm statistics).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hatebm.nets.sngan import FixedBatchNorm2d, HatBlock, _init


def project_sphere(z: Tensor) -> Tensor:
    """Scale each sample of ``z`` to L2 norm sqrt(m), m = its number of entries (an all-zero sample stays 0)."""
    norms = z.flatten(1).norm(dim=1).clamp_min(1e-12)
    return math.sqrt(z[0].numel()) * z / norms.view(-1, *([1] * (z.dim() - 1)))


def _levels(resolution: int, latent_size: int) -> int:
    k = int(math.log2(resolution // latent_size))
    if latent_size * 2**k != resolution:
        raise ValueError(f"resolution {resolution} must be the latent size {latent_size} times a power of 2")
    return k


class Encoder(nn.Module):
    """I(x): image -> code on the sphere of radius sqrt(m) (projection switchable for diagnostics)."""

    def __init__(self, in_channels: int, resolution: int, width: int, latent_shape: Sequence[int]) -> None:
        super().__init__()
        c, h, _ = latent_shape
        spec = [False] + [True] * _levels(resolution, h) + [False, False]  # downsample per block
        self.blocks = nn.Sequential(*[HatBlock(in_channels if i == 0 else width, width, down, stem=i == 0)
                                      for i, down in enumerate(spec)])
        self.to_latent = nn.Conv2d(width, c, 3, padding=1)
        _init(self)

    def forward(self, x: Tensor, project: bool = True) -> Tensor:
        z = self.to_latent(F.relu_(self.blocks(x)))
        return project_sphere(z) if project else z


class DecoderBlock(nn.Module):
    """[BN -> relu ->] [bilinear up ->] conv3 -> BN -> relu -> conv3, shortcut [up ->] conv1x1 when needed.
    The stem block (first) starts directly with the convolution, as the authors' decoder does."""

    def __init__(self, c_in: int, c_out: int, up: bool, stem: bool = False) -> None:
        super().__init__()
        self.bn1 = None if stem else FixedBatchNorm2d(c_in)
        self.bn2 = FixedBatchNorm2d(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.sc = nn.Conv2d(c_in, c_out, 1) if (c_in != c_out or up) else None
        self.up = up

    def _up(self, t: Tensor) -> Tensor:
        return F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False) if self.up else t

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.bn1 is None else F.relu_(self.bn1(x))  # in place: sngan.FRESH_ACTIVATIONS
        h = self.conv2(F.relu_(self.bn2(self.conv1(self._up(h)))))
        s = self._up(x)
        return h + (self.sc(s) if self.sc is not None else s)


class Decoder(nn.Module):
    """G(z) for image-shaped latents ``[c, h, w]``: the retrofit generator, output tanh * out_scale."""

    def __init__(self, latent_shape: Sequence[int], out_channels: int, resolution: int, width: int,
                 out_scale: float = 2.0) -> None:
        super().__init__()
        self.latent_shape = tuple(int(s) for s in latent_shape)
        c, h, _ = self.latent_shape
        spec = [False] + [True] * _levels(resolution, h) + [False, False]  # upsample per block
        self.blocks = nn.Sequential(*[DecoderBlock(c if i == 0 else width, width, up, stem=i == 0)
                                      for i, up in enumerate(spec)])
        self.bn = FixedBatchNorm2d(width)
        self.conv = nn.Conv2d(width, out_channels, 3, padding=1)
        self.out_scale = float(out_scale)
        _init(self)

    def forward(self, z: Tensor) -> Tensor:
        return torch.tanh(self.conv(F.relu_(self.bn(self.blocks(z))))) * self.out_scale
