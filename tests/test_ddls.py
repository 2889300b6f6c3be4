"""DDLS (Che et al. 2020) on an analytic GAN: linear G and quadratic D make U(z) = -D(G(z)) + ||z||^2/2 Gaussian."""
import numpy as np
import torch
from scipy.linalg import solve_discrete_lyapunov
from torch import nn

from hatebm.ddls import ddls_model, ddls_sampler


class QuadraticCritic(nn.Module):
    """D(x) = -a/2 ||x - mu||^2: high (real-looking) near mu, as a hinge-loss discriminator is high on real data."""

    def __init__(self, a: float, mu: torch.Tensor) -> None:
        super().__init__()
        self.a, self.mu = a, nn.Parameter(mu)

    def forward(self, x):
        return -0.5 * self.a * (x - self.mu).pow(2).sum(1)


def test_ddls_recovers_gaussian_target_of_linear_generator_and_quadratic_critic():
    a, eps, steps = 2.0, 0.2, 300
    A = torch.tensor([[1.0, 0.5], [0.0, 1.0]])
    mu = torch.tensor([1.0, -0.5])
    gen = nn.Linear(2, 2, bias=False)
    gen.weight.data.copy_(A)
    res = ddls_model(gen, QuadraticCritic(a, mu), (2,)).sample(2000, "joint", ddls_sampler(steps, eps))
    # U(z) = a/2 ||Az - mu||^2 + ||z||^2/2: precision P = a A^T A + I, mean P^-1 a A^T mu.
    P = (a * A.T @ A + torch.eye(2)).double().numpy()
    mean = np.linalg.solve(P, a * A.T.double().numpy() @ mu.double().numpy())
    # Unadjusted Langevin keeps the mean and has covariance S = M S M^T + eps^2 I with M = I - eps^2/2 P (~1/P).
    M = np.eye(2) - eps**2 / 2 * P
    cov = solve_discrete_lyapunov(M, eps**2 * np.eye(2))
    z = res.z.double().numpy()
    assert np.abs(z.mean(0) - mean).max() < 0.05, (z.mean(0), mean)
    assert np.abs(np.cov(z.T) - cov).max() < 0.06 * np.abs(cov).max(), (np.cov(z.T), cov)
    assert torch.equal(res.y, torch.zeros_like(res.y))  # Y never moves
    assert torch.allclose(res.x, gen(res.z).detach())  # samples are G(z_K)


def test_ddls_energy_sign_convention():
    mu = torch.tensor([1.0, -0.5])
    ebm = ddls_model(nn.Identity(), QuadraticCritic(2.0, mu), (2,))
    z = torch.stack([mu, -mu])
    u = ebm.energy(torch.zeros(2, 2), z)
    assert torch.allclose(u, torch.tensor([0.0, 2.0 * 1.25 * 2]) + 0.5 * z.pow(2).sum(1))  # -D + ||z||^2/2
    assert u[0] < u[1]  # real-looking (high D) means low energy
