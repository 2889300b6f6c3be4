"""SN-GAN discriminator (Miyato et al. 2018, Mimicry's ResNet layout) for pretraining the base GAN of §4.1.

It is the hat net's block layout (:func:`hatebm.nets.sngan.hat_spec`) *with* spectral norm on every convolution and
linear layer, global sum pooling and a final linear with bias. Sign convention (hinge loss): ``D(x)`` is high on real
data and low on generated data, so ``-D`` plays the role of an energy (used by DDLS, :mod:`hatebm.ddls`).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from hatebm.nets.sngan import HatNet, _init, hat_blocks, hat_spec


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
        return self.fc(F.relu_(self.blocks(x)).sum(dim=(2, 3))).squeeze(1)  # in place: see FRESH_ACTIVATIONS


def sngan_discriminator(resolution: int = 32, width: int = 128, in_channels: int = 3) -> Discriminator:
    """The SN-GAN discriminator for ``resolution`` px (Mimicry widths: 128 @ 32, 1024 @ 64)."""
    return Discriminator(in_channels, hat_spec(resolution, width))


@torch.no_grad()
def load_negated(hat: HatNet, disc: Discriminator, resolution: int) -> HatNet:
    """Make ``hat`` compute ``-D(x) + D's bias`` (same block layout): its convolutions take D's spectrally normalised
    weights as they act now, and its final linear ``-h·w`` times D's, since the hat averages the last h×w feature map
    where D sums it. D's bias, a constant, cannot be represented and does not move any chain. Returns ``hat``."""
    disc.eval()  # spectral norm applies its stored estimate; no power iteration
    ours = [m for m in hat.blocks.modules() if isinstance(m, nn.Conv2d)]
    theirs = [m for m in disc.blocks.modules() if isinstance(m, nn.Conv2d)]
    if [m.weight.shape for m in ours] != [m.weight.shape for m in theirs] or hat.fc.weight.shape != disc.fc.weight.shape:
        raise ValueError("the hat network and the discriminator differ in layout: use the GAN's width "
                         "(model.hat_width), resolution and channels")
    for h, d in zip(ours, theirs):
        h.weight.copy_(d.weight)
        h.bias.copy_(d.bias)
    first = next(iter(disc.parameters()))
    area = disc.blocks(torch.zeros(1, ours[0].in_channels, resolution, resolution, device=first.device)).shape[2:]
    hat.fc.weight.copy_(-area.numel() * disc.fc.weight)
    return hat
