"""2-D toy densities with exact samplers and normalised log densities: "gmm8", "gmm25", "rings"."""
from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch


class ToyDistribution(ABC):
    """A density on R²: `sample(n, generator)` -> [n, 2] float32; `log_prob(x [..., 2])` -> [...] (normalised)."""

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor: ...

    @abstractmethod
    def log_prob(self, x: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def mode_distances(self, x: torch.Tensor) -> torch.Tensor:
        """[n, K]: the distance of each point of x [n, 2] to each of the K equal-weight modes."""


def _device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


class GaussianMixture(ToyDistribution):
    """Equal-weight mixture of isotropic Gaussians N(means[k], std² I)."""

    def __init__(self, means: torch.Tensor, std: float) -> None:
        self.means, self.std = means.double(), float(std)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        dev = _device(generator)
        k = torch.randint(len(self.means), (n,), generator=generator, device=dev)
        noise = torch.randn(n, 2, generator=generator, device=dev, dtype=torch.float64)
        return (self.means.to(dev)[k] + self.std * noise).float()

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        means = self.means.to(x.device, x.dtype)
        sq = (x.unsqueeze(-2) - means).square().sum(-1)  # [..., K]
        log_norm = math.log(2 * math.pi * self.std**2) + math.log(len(means))
        return torch.logsumexp(-sq / (2 * self.std**2), dim=-1) - log_norm

    def mode_distances(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cdist(x.double(), self.means.to(x.device))


class Rings(ToyDistribution):
    """Equal-weight mixture of rings: ring k has density p_k(x) = exp(−(|x| − R_k)² / 2s²) / Z_k, uniform in angle.

    Z_k = 2π ∫₀^∞ r e^{−(r−R)²/2s²} dr = 2π [s² e^{−R²/2s²} + R s √(π/2) (1 + erf(R / (s√2)))] in closed form.
    Radii are sampled exactly by inverting the radial CDF (closed form in erf) with bisection to float64 precision.
    """

    def __init__(self, radii: tuple[float, ...], std: float) -> None:
        self.radii, self.std = torch.tensor(radii, dtype=torch.float64), float(std)

    def _antiderivative(self, r: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
        """G(r) with G' = r e^{−(r−R)²/2s²}."""
        s, u = self.std, (r - radius) / self.std
        gauss = radius * s * math.sqrt(math.pi / 2) * torch.special.erf(u / math.sqrt(2))
        return gauss - s**2 * torch.exp(-0.5 * u**2)

    def log_norm(self) -> torch.Tensor:
        """log Z_k for each ring [K]."""
        zero = torch.zeros_like(self.radii)
        radial = self.radii * self.std * math.sqrt(math.pi / 2) - self._antiderivative(zero, self.radii)
        return torch.log(2 * math.pi * radial)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        dev = _device(generator)
        radius = self.radii.to(dev)[torch.randint(len(self.radii), (n,), generator=generator, device=dev)]
        u = torch.rand(n, generator=generator, device=dev, dtype=torch.float64)
        angle = 2 * math.pi * torch.rand(n, generator=generator, device=dev, dtype=torch.float64)
        g0 = self._antiderivative(torch.zeros_like(radius), radius)
        target = g0 + u * (radius * self.std * math.sqrt(math.pi / 2) - g0)  # G(r) = G(0) + u (G(∞) − G(0))
        lo, hi = torch.zeros_like(radius), radius + 40 * self.std
        for _ in range(60):  # bisection: G is increasing on r > 0
            mid = (lo + hi) / 2
            below = self._antiderivative(mid, radius) < target
            lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
        r = (lo + hi) / 2
        return torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=-1).float()

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        radii, log_z = self.radii.to(x.device, x.dtype), self.log_norm().to(x.device, x.dtype)
        r = x.norm(dim=-1, keepdim=True)  # [..., 1]
        comp = -((r - radii) ** 2) / (2 * self.std**2) - log_z  # [..., K]
        return torch.logsumexp(comp, dim=-1) - math.log(len(radii))

    def mode_distances(self, x: torch.Tensor) -> torch.Tensor:
        return (x.double().norm(dim=-1, keepdim=True) - self.radii.to(x.device)).abs()


def _circle(k: int, radius: float) -> torch.Tensor:
    angles = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
    return radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1)


def _grid(side: int, spacing: float) -> torch.Tensor:
    ticks = spacing * (torch.arange(side, dtype=torch.float64) - (side - 1) / 2)
    return torch.cartesian_prod(ticks, ticks)


TOYS = {
    "gmm8": lambda: GaussianMixture(_circle(8, 2.0), std=0.1),  # 8 Gaussians on the circle of radius 2
    "gmm25": lambda: GaussianMixture(_grid(5, 1.0), std=0.1),  # 5×5 grid over [-2, 2]²
    "rings": lambda: Rings((1.0, 2.0, 3.0), std=0.1),  # concentric rings of radius 1, 2, 3
}


def toy_names() -> list[str]:
    return sorted(TOYS)


def toy_distribution(name: str) -> ToyDistribution:
    """The toy density `name` (see `toy_names()`)."""
    if name not in TOYS:
        raise ValueError(f"unknown toy distribution {name!r}; choose one of {', '.join(toy_names())}")
    return TOYS[name]()
