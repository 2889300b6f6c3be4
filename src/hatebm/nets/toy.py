"""Small MLP hat networks and generators for 2-D (or any low-dimensional vector) data."""
from __future__ import annotations

from torch import Tensor, nn


def _mlp(d_in: int, d_out: int, hidden: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(d_in if i == 0 else hidden, hidden), nn.SiLU()]
    layers.append(nn.Linear(hidden if depth else d_in, d_out))
    return nn.Sequential(*layers)


class MLPHat(nn.Module):
    """H(x) for vectors: a smooth (SiLU) MLP with a scalar output, batch-independent."""

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3) -> None:
        super().__init__()
        self.net = _mlp(dim, 1, hidden, depth)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1)).squeeze(1)


class MLPGenerator(nn.Module):
    """G(z) for vectors: an MLP from ``latent_dim`` to ``dim`` (no output squashing)."""

    def __init__(self, latent_dim: int = 2, dim: int = 2, hidden: int = 128, depth: int = 3) -> None:
        super().__init__()
        self.net = _mlp(latent_dim, dim, hidden, depth)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.flatten(1))
