"""The Hat EBM energy (paper §3, eqs 4, 5, 9).

An image is ``X = G(Z) + Y``. With hat network ``H``, temperature ``T``, optional Gaussian priors on Y and Z:

    U(Y, Z) = H(G(Z) + Y) / T  [+ ||Y||^2 / (2 sigma_y^2)]  [+ ||Z||^2 / 2]

Conventions used across the library: images are float32 NCHW in [-1, 1]; higher energy means less likely.
"""
from __future__ import annotations

from typing import Any, Literal, Sequence

import torch
from torch import Tensor, nn

from hatebm.sampling import LangevinConfig, SampleResult, sample_conditional, sample_joint, settings


class HatEBM(nn.Module):
    """Energy ``U(Y, Z) = H(G(Z) + Y) / T`` with optional priors (eq 4; eq 5 with ``z_prior=False``).

    ``hat`` maps an image batch to one scalar per image; ``generator`` is any module mapping a latent batch of
    shape ``[N, *latent_shape]`` to an image batch. ``z_prior=True`` adds ``||Z||^2 / 2`` (the N(0, I) latent prior);
    ``y_prior_std`` adds ``||Y||^2 / (2 sigma_y^2)``.
    """

    def __init__(self, hat: nn.Module, generator: nn.Module, latent_shape: Sequence[int], temperature: float = 1.0,
                 y_prior_std: float | None = None, z_prior: bool = False) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if y_prior_std is not None and y_prior_std <= 0:
            raise ValueError(f"y_prior_std must be positive or None, got {y_prior_std}")
        self.hat, self.generator = hat, generator
        self.latent_shape = tuple(int(s) for s in latent_shape)
        self.temperature, self.y_prior_std, self.z_prior = float(temperature), y_prior_std, bool(z_prior)

    def hat_energy(self, x: Tensor) -> Tensor:
        """H(x), one value per image (no temperature): the score used for learning (eq 8) and OOD detection."""
        return self.hat(x).reshape(x.shape[0])

    def energy_at(self, y: Tensor, gz: Tensor, z: Tensor | None) -> Tensor:
        """U given a precomputed ``G(Z)``; the Z prior is added when ``z`` is given and ``z_prior`` is on."""
        u = self.hat_energy(gz + y) / self.temperature
        if self.y_prior_std is not None:
            u = u + y.flatten(1).pow(2).sum(1) / (2 * self.y_prior_std**2)
        if self.z_prior and z is not None:
            u = u + 0.5 * z.flatten(1).pow(2).sum(1)
        return u

    def forward(self, y: Tensor, z: Tensor) -> Tensor:
        """U(Y, Z) per sample (eqs 4-5, 9): ``ebm(y, z)``, as any module is called."""
        return self.energy_at(y, self.generator(z), z)

    def energy(self, y: Tensor, z: Tensor) -> Tensor:
        """U(Y, Z) per sample (eqs 4-5, 9); the same as calling the module, ``ebm(y, z)``."""
        return self(y, z)

    def latent(self, n: int, device: torch.device | str | None = None) -> Tensor:
        """Draw ``n`` latents from the prior N(0, I)."""
        return torch.randn(n, *self.latent_shape, device=device)

    def sample(self, n_or_z: int | Tensor, mode: Literal["joint", "conditional"] = "joint",
               config: LangevinConfig | None = None, **overrides: Any) -> SampleResult:
        """Run the joint (eqs 6-7 alternating, or ``order="joint"``: one hat pass per step) or conditional (§3.3)
        sampler from ``Y0`` and ``Z`` (given, or drawn from N(0, I)).

        Settings come from ``config`` (a :class:`LangevinConfig`) with keyword ``overrides`` (``steps``, ``eps_y``,
        ``eps_z``, ``max_drift_y``, ``noise``, ``y0_scale``, ``order``, ``record_every``).
        """
        valid = set(LangevinConfig.model_fields)
        unknown = set(overrides) - valid
        if unknown:
            raise ValueError(f"unknown sampler settings {sorted(unknown)}; valid ones are {sorted(valid)}")
        cfg = settings(config, **overrides)
        device = next(self.parameters()).device
        z = self.latent(n_or_z, device) if isinstance(n_or_z, int) else n_or_z.to(device)
        if tuple(z.shape[1:]) != self.latent_shape:
            raise ValueError(f"latents have shape {tuple(z.shape[1:])} per sample, the model expects {self.latent_shape}")
        if mode == "conditional":
            return sample_conditional(self, z, cfg)
        if mode == "joint":
            return sample_joint(self, z, cfg)
        raise ValueError(f"mode must be 'joint' or 'conditional', got {mode!r}")

