"""Discriminator Driven Latent Sampling (DDLS; Che et al., NeurIPS 2020), the baseline of the paper's Table 1.

A pretrained GAN's discriminator ``D`` defines an energy on the generator's latent space,

    U(z) = -D(G(z)) + ||z||^2 / 2,

sampled with Langevin dynamics on z from z0 ~ N(0, I); the samples are G(z_K).

Sign convention: the discriminators here (:mod:`hatebm.nets.discriminator`) are trained with the hinge loss, so D is
*high on real data*, and the energy is ``-D``. (The Hat EBM paper writes U(z) = D(G(z)) + ||z||^2/2 for a D that is
low on real data; Che et al. write E(z) = -log p0(z) - d(G(z)) with d the logit of "real". All three agree.)

DDLS is a Hat EBM with hat ``-D``, temperature 1, the N(0, I) latent prior and Y held at 0: the joint sampler with
``eps_y = 0`` leaves Y exactly at 0 and runs eq 7 on Z alone, so no sampling code is duplicated.
"""
from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from hatebm.energy import HatEBM
from hatebm.sampling import LangevinConfig


class NegatedCritic(nn.Module):
    """``-D(x)``: turns a discriminator that is high on real data into an energy (low on real data)."""

    def __init__(self, critic: nn.Module) -> None:
        super().__init__()
        self.critic = critic

    def forward(self, x: Tensor) -> Tensor:
        return -self.critic(x).reshape(x.shape[0])


def ddls_model(generator: nn.Module, discriminator: nn.Module, latent_shape: Sequence[int]) -> HatEBM:
    """The DDLS energy ``U(z) = -D(G(z)) + ||z||^2 / 2`` as a Hat EBM; sample it with :func:`ddls_sampler`."""
    return HatEBM(NegatedCritic(discriminator), generator, latent_shape, temperature=1.0, z_prior=True)


def ddls_sampler(steps: int = 1000, eps: float = 0.1, noise: bool = True) -> LangevinConfig:
    """Latent Langevin ``z <- z - (eps^2 / 2) grad U(z) + eps * xi`` for ``steps`` steps, Y fixed at 0.

    Che et al. write the step as ``z <- z - (delta / 2) grad E + sqrt(delta) * xi``; ``eps = sqrt(delta)``, so the
    default ``eps = 0.1`` is their ``delta = 0.01``.
    """
    return LangevinConfig(steps=steps, eps_y=0.0, eps_z=eps, max_drift_y=None, noise=noise)
