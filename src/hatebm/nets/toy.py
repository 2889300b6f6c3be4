"""Small MLP hat networks, generators and critics for 2-D (or any low-dimensional vector) data."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm


ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU}


def _mlp(d_in: int, d_out: int, hidden: int, depth: int, act: str = "silu") -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(d_in if i == 0 else hidden, hidden), ACTIVATIONS[act]()]
    layers.append(nn.Linear(hidden if depth else d_in, d_out))
    return nn.Sequential(*layers)


class MLPHat(nn.Module):
    """H(x) for vectors: an MLP (SiLU: smooth, or ReLU) with a scalar output, batch-independent."""

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, act: str = "silu") -> None:
        super().__init__()
        self.net = _mlp(dim, 1, hidden, depth, act)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1)).squeeze(1)


class MLPGenerator(nn.Module):
    """G(z) for vectors: an MLP from ``latent_dim`` to ``dim`` (no output squashing)."""

    def __init__(self, latent_dim: int = 2, dim: int = 2, hidden: int = 128, depth: int = 3) -> None:
        super().__init__()
        self.net = _mlp(latent_dim, dim, hidden, depth)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.flatten(1))


class MLPCritic(MLPHat):
    """D(x) for vectors: :class:`MLPHat`'s layout with spectral norm on every linear layer (the SN-GAN critic of the
    2-D studies); high on real data (hinge loss), so ``-D`` is an energy. Use ReLU: spectral norm bounds each
    layer's gain by 1, and SiLU's gain of 1/2 near 0 compounds over the layers into a critic too flat to train
    (docs/results.md)."""

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, act: str = "relu") -> None:
        super().__init__(dim, hidden, depth, act)
        for m in self.net:
            if isinstance(m, nn.Linear):
                spectral_norm(m)


@torch.no_grad()
def load_negated_mlp(hat: MLPHat, critic: MLPCritic) -> MLPHat:
    """Make ``hat`` compute ``-D(x)``: its linear layers take D's spectrally normalised weights as they act now, the
    last one negated (weight and bias). Returns ``hat``."""
    critic.eval()  # spectral norm applies its stored estimate; no power iteration
    ours = [m for m in hat.net if isinstance(m, nn.Linear)]
    theirs = [m for m in critic.net if isinstance(m, nn.Linear)]
    acts = lambda net: [type(m) for m in net if not isinstance(m, nn.Linear)]  # noqa: E731
    if acts(hat.net) != acts(critic.net) or [m.weight.shape for m in ours] != [m.weight.shape for m in theirs]:
        raise ValueError("the hat network and the critic differ in layout: use the GAN's model.channels, "
                         "model.mlp_hidden, model.mlp_depth and model.mlp_act")
    for h, d in zip(ours, theirs):
        h.weight.copy_(d.weight)
        h.bias.copy_(d.bias)
    ours[-1].weight.neg_()
    ours[-1].bias.neg_()
    return hat
