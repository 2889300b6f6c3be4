"""The exact 2-D metrics against closed forms: KL of the truth against itself vanishes as n grows, MMD² is 0 for
identical laws and matches its closed form for two point masses, mode weights count nearest modes."""
import math

import pytest
import torch

from hatebm.data import toy_distribution
from hatebm.eval.toy import grid_kl, mmd2, mode_stats, toy_metrics


@pytest.mark.parametrize("name", ["gmm8", "gmm25", "rings"])
def test_kl_of_the_truth_against_itself_shrinks_to_zero(name):
    truth = toy_distribution(name)
    small = grid_kl(truth, truth.sample(2_000, torch.Generator().manual_seed(0)))
    large = grid_kl(truth, truth.sample(400_000, torch.Generator().manual_seed(1)))
    assert large < 0.02 < small  # the histogram's finite-n bias, not a difference of laws


def test_kl_of_a_point_mass_where_the_truth_has_no_mass_is_the_smoothing_bound():
    """All n samples in the origin's cell, where gmm8 has no mass: q = alpha / (n + alpha B²) wherever p lives, so
    KL = -H(p) + log((n + alpha B²) / alpha), H(p) the entropy of the truth's cell probabilities."""
    truth, n, bins, alpha = toy_distribution("gmm8"), 1000, 60, 0.5
    edges = torch.linspace(-3, 3, bins + 1, dtype=torch.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    p = truth.log_prob(torch.cartesian_prod(centres, centres)).exp()
    p = p[p > 0] / p.sum()
    expected = (p * p.log()).sum().item() + math.log((n + alpha * bins**2) / alpha)
    assert grid_kl(truth, torch.full((n, 2), 0.01), bins, 3.0, alpha) == pytest.approx(expected, rel=1e-9)


def test_mmd2_is_unbiased_zero_for_identical_laws_and_exact_for_point_masses():
    truth = toy_distribution("gmm8")
    vals = [mmd2(truth.sample(500, torch.Generator().manual_seed(2 * s)),
                 truth.sample(500, torch.Generator().manual_seed(2 * s + 1))) for s in range(20)]
    assert abs(sum(vals) / len(vals)) < 3 * torch.tensor(vals).std().item() / math.sqrt(len(vals))
    # point masses at 0 and at (d, 0): MMD² = 2 sum_h (1 - exp(-d² / 2h²)) exactly
    d, hs = 0.3, (0.05, 0.2, 1.0)
    a, b = torch.zeros(10, 2, dtype=torch.float64), torch.tensor([[d, 0.0]], dtype=torch.float64).repeat(10, 1)
    assert mmd2(a, b, hs) == pytest.approx(2 * sum(1 - math.exp(-d**2 / (2 * h**2)) for h in hs), rel=1e-9)


def test_mode_stats_count_nearest_modes():
    truth = toy_distribution("gmm8")
    centres = truth.means.float()
    x = torch.cat([centres[0].repeat(3, 1), centres[1].repeat(1, 1)])
    in_mode, tv = mode_stats(truth, x)
    assert in_mode == 1.0 and tv == pytest.approx(0.5 * (abs(0.75 - 1 / 8) + abs(0.25 - 1 / 8) + 6 / 8))
    rings = toy_distribution("rings")
    in_mode, tv = mode_stats(rings, torch.tensor([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [0.0, 1.5]]))
    assert in_mode == 0.75 and tv == pytest.approx(0.5 * (2 * abs(0.25 - 1 / 3) + abs(0.5 - 1 / 3)))


def test_toy_metrics_of_true_samples_sit_at_their_floors():
    truth = toy_distribution("gmm25")
    m = toy_metrics(truth, truth.sample(4000, torch.Generator().manual_seed(3)),
                    truth.sample(4000, torch.Generator().manual_seed(4)))
    assert set(m) == {"kl", "mmd2", "mode_tv", "in_mode"}
    assert abs(m["mmd2"]) < 2e-3 and m["mode_tv"] < 0.05 and m["in_mode"] > 0.98
