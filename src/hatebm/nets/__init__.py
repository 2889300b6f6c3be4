"""Network builders: SN-GAN-family hat nets and generators (images) and MLPs (2-D data)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from hatebm.nets.sngan import FixedBatchNorm2d, Generator, HatNet, sngan_generator, sngan_hat
from hatebm.nets.toy import MLPGenerator, MLPHat

if TYPE_CHECKING:
    from hatebm.config import ModelConfig

__all__ = ["FixedBatchNorm2d", "Generator", "HatNet", "MLPGenerator", "MLPHat", "build_generator", "build_hat",
           "latent_shape", "sngan_generator", "sngan_hat"]


def build_hat(cfg: ModelConfig) -> nn.Module:
    if cfg.arch == "mlp":
        return MLPHat(cfg.channels, cfg.mlp_hidden, cfg.mlp_depth)
    return sngan_hat(cfg.resolution, cfg.hat_width, cfg.channels)


def build_generator(cfg: ModelConfig) -> nn.Module:
    if cfg.arch == "mlp":
        return MLPGenerator(cfg.latent_dim, cfg.channels, cfg.mlp_hidden, cfg.mlp_depth)
    return sngan_generator(cfg.resolution, cfg.gen_width, cfg.channels, cfg.latent_dim, cfg.out_scale)


def latent_shape(cfg: ModelConfig) -> tuple[int, ...]:
    return (cfg.latent_dim,)
