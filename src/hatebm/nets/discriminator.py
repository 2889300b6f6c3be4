"""SN-GAN discriminator (Miyato et al. 2018, Mimicry's ResNet layout) for pretraining the base GAN of §4.1.

It is the hat net's block layout (:func:`hatebm.nets.sngan.hat_spec`) *with* spectral norm on every convolution and
linear layer, global sum pooling and a final linear with bias. Sign convention (hinge loss): ``D(x)`` is high on real
data and low on generated data, so ``-D`` plays the role of an energy (used by DDLS, :mod:`hatebm.ddls`).
"""
from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from hatebm.nets.sngan import _init, hat_blocks, hat_spec


class Discriminator(nn.Module):
    """D(x): SN blocks -> relu -> global sum pool -> SN linear (with bias); one logit per image."""

    def __init__(self, in_channels: int, spec: Sequence[tuple[int, bool]]) -> None:
        super().__init__()
        self.blocks = hat_blocks(in_channels, spec)
        self.fc = nn.Linear(spec[-1][0], 1)
        _init(self)
        for m in list(self.modules()):
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                spectral_norm(m)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(F.relu(self.blocks(x)).sum(dim=(2, 3))).squeeze(1)


def sngan_discriminator(resolution: int = 32, width: int = 128, in_channels: int = 3) -> Discriminator:
    """The SN-GAN discriminator for ``resolution`` px (Mimicry widths: 128 @ 32, 1024 @ 64)."""
    return Discriminator(in_channels, hat_spec(resolution, width))
