from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from hatebm.data import toy_distribution, toy_names
from hatebm.data.toy import GaussianMixture

GRID = torch.linspace(-4.5, 4.5, 451, dtype=torch.float64)  # spacing 0.02 = std / 5
CELL = (GRID[1] - GRID[0]).item() ** 2
POINTS = torch.cartesian_prod(GRID, GRID)


def test_names_and_unknown():
    assert toy_names() == ["gmm25", "gmm8", "rings"]
    with pytest.raises(ValueError, match="unknown toy distribution 'moons'; choose one of gmm25, gmm8, rings"):
        toy_distribution("moons")


@pytest.mark.parametrize("name", ["gmm8", "gmm25", "rings"])
def test_density_integrates_to_one_and_matches_samples(name):
    dist = toy_distribution(name)
    density = dist.log_prob(POINTS).exp()
    assert density.sum().item() * CELL == pytest.approx(1.0, abs=1e-6)
    mean = (POINTS * density[:, None]).sum(0) * CELL
    cov = ((POINTS - mean).T * density) @ (POINTS - mean) * CELL
    x = dist.sample(200_000, torch.Generator().manual_seed(0))
    assert x.shape == (200_000, 2) and x.dtype == torch.float32
    torch.testing.assert_close(x.double().mean(0), mean, atol=0.015, rtol=0)
    torch.testing.assert_close(torch.cov(x.double().T), cov, atol=0.03, rtol=0)
    # samples fall where the density is: mean log density matches the entropy integral
    entropy = -(density * dist.log_prob(POINTS)).sum() * CELL
    assert -dist.log_prob(x.double()).mean().item() == pytest.approx(entropy.item(), abs=0.02)


@pytest.mark.parametrize("name", ["gmm8", "gmm25"])
def test_mixture_moments_are_analytic(name):
    dist = toy_distribution(name)
    assert isinstance(dist, GaussianMixture)
    centred = dist.means - dist.means.mean(0)
    cov = dist.std**2 * torch.eye(2, dtype=torch.float64) + centred.T @ centred / len(centred)
    x = dist.sample(200_000, torch.Generator().manual_seed(1)).double()
    torch.testing.assert_close(x.mean(0), dist.means.mean(0), atol=0.015, rtol=0)
    torch.testing.assert_close(torch.cov(x.T), cov, atol=0.03, rtol=0)


def test_layouts():
    gmm8 = toy_distribution("gmm8")
    assert torch.allclose(gmm8.means.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64))
    gmm25 = toy_distribution("gmm25")
    assert sorted(set(gmm25.means[:, 0].tolist())) == [-2.0, -1.0, 0.0, 1.0, 2.0] and len(gmm25.means) == 25


def test_ring_normaliser_matches_quadrature():
    rings = toy_distribution("rings")
    s = rings.std
    for radius, log_z in zip(rings.radii.tolist(), rings.log_norm().tolist()):
        radial, _ = integrate.quad(lambda r: r * math.exp(-((r - radius) ** 2) / (2 * s**2)), 0, radius + 50 * s,
                                   points=[radius], epsabs=1e-14)
        assert log_z == pytest.approx(math.log(2 * math.pi * radial), abs=1e-10)
    # a ring far from the origin: Z ≈ (2π)^{3/2} R s
    far = type(rings)((30.0,), std=0.1)
    assert far.log_norm().item() == pytest.approx(math.log((2 * math.pi) ** 1.5 * 30 * 0.1), abs=1e-12)


def test_ring_radii_follow_the_radial_density():
    rings = type(toy_distribution("rings"))((0.15,), std=0.1)  # close to the origin: the r-weighting matters
    r = rings.sample(100_000, torch.Generator().manual_seed(2)).double().norm(dim=1).numpy()
    edges = np.linspace(0, 0.6, 13)
    weight = lambda t: t * math.exp(-((t - 0.15) ** 2) / 0.02)  # noqa: E731
    total = integrate.quad(weight, 0, 2)[0]
    expected = [integrate.quad(weight, a, b)[0] / total for a, b in zip(edges[:-1], edges[1:])]
    observed = np.histogram(r, edges)[0] / len(r)
    np.testing.assert_allclose(observed, expected, atol=0.006)


def test_sampling_is_deterministic_per_generator():
    for name in toy_names():
        dist = toy_distribution(name)
        a = dist.sample(64, torch.Generator().manual_seed(5))
        b = dist.sample(64, torch.Generator().manual_seed(5))
        assert torch.equal(a, b) and not torch.equal(a, dist.sample(64, torch.Generator().manual_seed(6)))


def test_log_prob_keeps_batch_shape_and_dtype():
    for name in toy_names():
        x = torch.zeros(3, 4, 2)
        out = toy_distribution(name).log_prob(x)
        assert out.shape == (3, 4) and out.dtype == torch.float32 and torch.isfinite(out).all()
