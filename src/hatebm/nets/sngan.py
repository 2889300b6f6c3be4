"""SN-GAN-family networks (Miyato et al. 2018, as ported by the Hat EBM authors; DESIGN §4).

Hat nets are the SN-GAN discriminators without spectral norm, with global *average* pooling and a final linear
layer without bias; they contain no normalisation, so each image's energy is independent of its batch.
Generators use batch norm with fixed statistics (see :class:`FixedBatchNorm2d`). Widths are parameters, so the
CPU-sized models are the same code as the paper's. Weights use Glorot-uniform init as in the authors' Keras code.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class FixedBatchNorm2d(nn.BatchNorm2d):
    """Batch norm that always normalises with its stored statistics (mean 0, var 1 unless loaded) and never
    updates them, whatever the module's train/eval mode; the affine parameters stay trainable."""

    def forward(self, x: Tensor) -> Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)


ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "silu": F.silu}
# The same activations for a tensor nothing else reads (a convolution's, a sum's or a batch norm's output): ReLU in
# place, which autograd allows (its backward reads its output) and which gives the same numbers with one buffer fewer;
# SiLU's backward reads its input, so it stays out of place. So a forward hook on an inner layer sees that layer's
# output after the ReLU, and a full backward hook there is refused by autograd: hook whole networks instead.
FRESH_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu_, "silu": F.silu}


class HatBlock(nn.Module):
    """act -> conv3x3 -> act -> conv3x3 [-> avgpool2], plus a 1x1 shortcut when channels change or it downsamples.
    The stem block (first block) has no leading activation and pools before its shortcut conv. ``act`` is ReLU in
    the paper; SiLU makes the input gradient (the Langevin drift) smooth."""

    def __init__(self, c_in: int, c_out: int, down: bool, stem: bool = False, act: str = "relu") -> None:
        super().__init__()
        self.act, self.act_fresh = ACTIVATIONS[act], FRESH_ACTIVATIONS[act]
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.sc = nn.Conv2d(c_in, c_out, 1) if (c_in != c_out or down) else None
        self.down, self.stem = down, stem

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.stem else self.act(x)  # x itself feeds the shortcut below
        h = self.conv2(self.act_fresh(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.stem and self.down:
            s = F.avg_pool2d(s, 2)
        if self.sc is not None:
            s = self.sc(s)
        if self.down and not self.stem:
            s = F.avg_pool2d(s, 2)
        return h + s


def hat_blocks(in_channels: int, spec: Sequence[tuple[int, bool]], act: str = "relu") -> nn.Sequential:
    """The residual stack of hat nets and discriminators; ``spec`` lists (channels, downsample) per block."""
    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; choose one of {sorted(ACTIVATIONS)}")
    blocks, c = [], in_channels
    for i, (c_out, down) in enumerate(spec):
        blocks.append(HatBlock(c, c_out, down, stem=i == 0, act=act))
        c = c_out
    return nn.Sequential(*blocks)


class HatNet(nn.Module):
    """H(x): blocks -> act -> global average pool -> linear (no bias). ``spec`` lists (channels, downsample)."""

    def __init__(self, in_channels: int, spec: Sequence[tuple[int, bool]], act: str = "relu") -> None:
        super().__init__()
        self.blocks = hat_blocks(in_channels, spec, act)
        self.act_fresh = FRESH_ACTIVATIONS[act]
        self.fc = nn.Linear(spec[-1][0], 1, bias=False)
        _init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.act_fresh(self.blocks(x)).mean(dim=(2, 3))).squeeze(1)


class GenBlock(nn.Module):
    """BN -> relu -> bilinear up -> conv3 -> BN -> relu -> conv3, shortcut up -> conv1x1."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.bn1, self.bn2 = FixedBatchNorm2d(c_in), FixedBatchNorm2d(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.sc = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
        h = self.conv1(up(F.relu_(self.bn1(x))))  # in place on batch norm's output (see FRESH_ACTIVATIONS)
        h = self.conv2(F.relu_(self.bn2(h)))
        return h + self.sc(up(x))


class Generator(nn.Module):
    """G(z): Linear(nz -> 4*4*c0) -> up-blocks through ``channels`` -> BN -> relu -> conv3 -> tanh * out_scale."""

    def __init__(self, latent_dim: int, out_channels: int, channels: Sequence[int], out_scale: float = 1.0,
                 bottom: int = 4) -> None:
        super().__init__()
        self.latent_dim, self.bottom, self.c0 = latent_dim, bottom, channels[0]
        self.fc = nn.Linear(latent_dim, bottom * bottom * channels[0])
        self.blocks = nn.Sequential(*[GenBlock(a, b) for a, b in zip(channels[:-1], channels[1:])])
        self.bn = FixedBatchNorm2d(channels[-1])
        self.conv = nn.Conv2d(channels[-1], out_channels, 3, padding=1)
        self.out_scale = float(out_scale)
        _init(self)

    def forward(self, z: Tensor) -> Tensor:
        h = self.fc(z.flatten(1)).view(-1, self.c0, self.bottom, self.bottom)
        h = F.relu_(self.bn(self.blocks(h)))
        return torch.tanh(self.conv(h)) * self.out_scale


def _check_width(resolution: int, width: int, key: str) -> None:
    """ValueError unless every block of a ``resolution``-px network of ``width`` has a channel (width / 16 at 64 and
    128 px)."""
    least = 1 if resolution == 32 else 16
    if width < least:
        raise ValueError(f"model.{key} must be at least {least} at {resolution} px (its first blocks have width/16 "
                         f"channels), got {width}")


def hat_spec(resolution: int, width: int) -> list[tuple[int, bool]]:
    """Block layout of the hat net for 32, 64 or 128 px (DESIGN §4)."""
    _check_width(resolution, width, "hat_width")
    if resolution == 32:
        return [(width, True), (width, True), (width, False), (width, False)]
    if resolution == 64:
        return [(width // 16, True), (width // 8, True), (width // 4, True), (width // 2, True), (width, True)]
    if resolution == 128:
        return [(width // 16, True), (width // 8, True), (width // 4, True), (width // 2, True), (width, True),
                (width, False)]
    raise ValueError(f"SN-GAN networks exist for 32, 64 and 128 px, not {resolution}; resize or pad the data")


def generator_channels(resolution: int, width: int) -> list[int]:
    """Channel widths of the generator's 4x4 input and each up-block for 32, 64 or 128 px (DESIGN §4)."""
    _check_width(resolution, width, "gen_width")
    if resolution == 32:
        return [width] * 4
    if resolution == 64:
        return [width, width // 2, width // 4, width // 8, width // 16]
    if resolution == 128:
        return [width, width, width // 2, width // 4, width // 8, width // 16]
    raise ValueError(f"SN-GAN networks exist for 32, 64 and 128 px, not {resolution}; resize or pad the data")


def sngan_hat(resolution: int = 32, width: int = 256, in_channels: int = 3, act: str = "relu") -> HatNet:
    """The hat network of the paper for ``resolution`` px (paper widths: 256 @ 32, 1024 @ 64 and 128)."""
    return HatNet(in_channels, hat_spec(resolution, width), act)


def sngan_generator(resolution: int = 32, width: int = 256, out_channels: int = 3, latent_dim: int = 128,
                    out_scale: float = 1.0) -> Generator:
    """The SN-GAN generator for ``resolution`` px with fixed-statistics batch norm and ``tanh * out_scale`` output."""
    return Generator(latent_dim, out_channels, generator_channels(resolution, width), out_scale)
