"""The bank of (X, Z) pairs used to train the generator in tandem (paper §3.4, Fig 2).

The bank starts with ``Z ~ N(0, I)`` and ``X = G0(Z)``. Each step draws B slots *without replacement*, the generator
learns to map those Z to those X (eq 12 against past hat networks), and this step's fresh (X-, Z) pairs are written
back into the *same* slots. Under DDP every rank keeps its own shard.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


class Bank:
    """Fixed-size store of image/latent pairs."""

    def __init__(self, x: Tensor, z: Tensor) -> None:
        if x.shape[0] != z.shape[0]:
            raise ValueError(f"bank images ({x.shape[0]}) and latents ({z.shape[0]}) differ in number")
        self.x, self.z = x, z

    @classmethod
    @torch.no_grad()
    def from_generator(cls, generator: Callable[[Tensor], Tensor], size: int, latent_shape: tuple[int, ...],
                       batch_size: int = 256, device: torch.device | str = "cpu") -> "Bank":
        """Initialise with Z ~ N(0, I) and X = G(Z), computed in batches."""
        z = torch.randn(size, *latent_shape, device=device)
        x = torch.cat([generator(z[i:i + batch_size]) for i in range(0, size, batch_size)])
        return cls(x, z)

    def __len__(self) -> int:
        return self.x.shape[0]

    def draw(self, batch_size: int) -> tuple[Tensor, Tensor, Tensor]:
        """Pick ``batch_size`` distinct slots uniformly at random; return (slots, X, Z)."""
        if batch_size > len(self):
            raise ValueError(f"cannot draw {batch_size} pairs without replacement from a bank of {len(self)}")
        idx = torch.randperm(len(self), device=self.x.device)[:batch_size]
        return idx, self.x[idx], self.z[idx]

    def write(self, idx: Tensor, x: Tensor, z: Tensor) -> None:
        """Overwrite the given slots with new pairs."""
        self.x[idx] = x.detach().to(self.x.dtype)
        self.z[idx] = z.detach().to(self.z.dtype)
