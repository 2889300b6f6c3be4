"""Network builders: SN-GAN-family hat nets, generators and discriminators, the autoencoder (images) and MLPs
(2-D data)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from hatebm.nets.autoencoder import Decoder, Encoder, project_sphere
from hatebm.nets.discriminator import Discriminator, sngan_discriminator
from hatebm.nets.sngan import FixedBatchNorm2d, Generator, HatNet, sngan_generator, sngan_hat
from hatebm.nets.toy import MLPCritic, MLPGenerator, MLPHat, load_negated_mlp

if TYPE_CHECKING:
    from hatebm.config import ModelConfig

__all__ = ["Decoder", "Discriminator", "Encoder", "FixedBatchNorm2d", "Generator", "HatNet", "MLPCritic", "MLPGenerator",
           "MLPHat", "build_discriminator", "build_encoder", "build_generator", "build_hat", "latent_shape",
           "load_negated_mlp", "project_sphere", "sngan_discriminator", "sngan_generator", "sngan_hat"]


def build_hat(cfg: ModelConfig) -> nn.Module:
    if cfg.arch == "mlp":
        return MLPHat(cfg.channels, cfg.mlp_hidden, cfg.mlp_depth, cfg.mlp_act)
    return sngan_hat(cfg.resolution, cfg.hat_width, cfg.channels, cfg.hat_act)


def build_generator(cfg: ModelConfig) -> nn.Module:
    """The SN-GAN generator, or the autoencoder decoder when ``cfg.latent_shape`` is image-shaped."""
    if cfg.arch == "mlp":
        return MLPGenerator(cfg.latent_dim, cfg.channels, cfg.mlp_hidden, cfg.mlp_depth)
    if cfg.latent_shape:
        return Decoder(cfg.latent_shape, cfg.channels, cfg.resolution, cfg.gen_width, cfg.out_scale)
    return sngan_generator(cfg.resolution, cfg.gen_width, cfg.channels, cfg.latent_dim, cfg.out_scale)


def build_discriminator(cfg: ModelConfig) -> nn.Module:
    """The SN-GAN discriminator (spectral norm) of width ``cfg.hat_width``, or the MLP critic of a 2-D model."""
    if cfg.arch == "mlp":
        return MLPCritic(cfg.channels, cfg.mlp_hidden, cfg.mlp_depth, cfg.mlp_act)
    return sngan_discriminator(cfg.resolution, cfg.hat_width, cfg.channels)


def build_encoder(cfg: ModelConfig) -> Encoder:
    """The autoencoder's encoder (width ``cfg.hat_width``) onto the image-shaped latent ``cfg.latent_shape``."""
    return Encoder(cfg.channels, cfg.resolution, cfg.hat_width, cfg.latent_shape)


def latent_shape(cfg: ModelConfig) -> tuple[int, ...]:
    return tuple(cfg.latent_shape) if cfg.latent_shape else (cfg.latent_dim,)
