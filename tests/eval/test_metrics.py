"""Fréchet distance, feature statistics and KID against mathematics (no network needed)."""
from __future__ import annotations

import numpy as np
import pytest

from hatebm.eval import metrics


def random_rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def test_frechet_distance_matches_closed_form_for_commuting_covariances():
    rng = np.random.default_rng(0)
    d = 6
    q = random_rotation(d, rng)  # S1 = Q diag(a) Qᵀ, S2 = Q diag(b) Qᵀ commute: (S1 S2)^½ = Q diag(√(ab)) Qᵀ
    a, b = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = metrics.frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-9)
    assert metrics.frechet_distance([1.0], [[4.0]], [3.0], [[1.0]]) == pytest.approx(4 + 1)  # 1-D: Δμ² + (σ1 − σ2)²


@pytest.mark.parametrize("n", [5, 12])  # rank-deficient and full-rank S1
def test_frechet_distance_from_features_equals_the_sqrtm_computation(n):
    rng = np.random.default_rng(n)
    f1, f2 = rng.normal(size=(n, 12)), rng.normal(1, 2, size=(40, 12))
    stats = (*metrics.feature_stats(f1), *metrics.feature_stats(f2))
    assert metrics.frechet_distance(*stats, features1=f1) == pytest.approx(metrics.frechet_distance(*stats), rel=1e-7)
    assert metrics.fid_of_features(f1, *stats[2:]) == pytest.approx(metrics.frechet_distance(*stats), rel=1e-7)


def test_identical_features_give_zero_fid_also_when_singular():
    rng = np.random.default_rng(0)
    for n, d in ((500, 16), (6, 32)):  # full-rank and rank-deficient covariances
        f = rng.normal(size=(n, d))
        mu, sigma = metrics.feature_stats(f)
        scale = np.trace(sigma)  # FID is a difference of terms of this size
        assert abs(metrics.frechet_distance(mu, sigma, mu, sigma)) < 1e-7 * scale
        assert abs(metrics.frechet_distance(mu, sigma, mu, sigma, features1=f)) < 1e-7 * scale


def test_feature_stats_are_mean_and_unbiased_covariance():
    f = np.random.default_rng(0).normal(size=(10, 3))
    mu, sigma = metrics.feature_stats(f)
    centred = f - f.mean(0)
    np.testing.assert_allclose(mu, f.mean(0))
    np.testing.assert_allclose(sigma, centred.T @ centred / 9)


def test_kid_matches_brute_force_unbiased_mmd(brute_force_mmd2):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(9, 5)), rng.normal(0.5, 1.5, size=(9, 5))
    mean, std = metrics.kid(x, y, subsets=3, subset_size=50)  # every subset would be all 9: one estimate
    assert mean == pytest.approx(brute_force_mmd2(x, y), rel=1e-10)
    assert std is None  # no spread measured, rather than a zero spread by construction


def test_kid_reports_no_spread_only_when_every_subset_is_both_whole_sets(brute_force_mmd2):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 4)), rng.normal(0.3, 1.2, size=(12, 4))
    whole_mean, whole_std = metrics.kid(x, y, subsets=5, subset_size=12)  # m = N1 = N2: computed once
    assert whole_std is None and whole_mean == pytest.approx(brute_force_mmd2(x, y), rel=1e-10)
    assert metrics.kid(x, y, subsets=1, subset_size=1000) == (whole_mean, None)

    mean, std = metrics.kid(x, y, subsets=20, subset_size=6, seed=3)  # real subsets: a measured, positive spread
    draw = np.random.default_rng(3)  # the same subsets by hand
    by_hand = [brute_force_mmd2(x[draw.choice(12, 6, replace=False)], y[draw.choice(12, 6, replace=False)])
               for _ in range(20)]
    assert mean == pytest.approx(np.mean(by_hand), rel=1e-10) and std == pytest.approx(np.std(by_hand), rel=1e-8)
    assert std > 0
    _, one_side_std = metrics.kid(x, y[:8], subsets=10, subset_size=1000)  # m = 8 < 12: subsets of x vary
    assert one_side_std is not None and one_side_std > 0
    assert metrics.kid_subset(12, 8, 1000) == 8


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(600, 8))
    same_mean, same_std = metrics.kid(f, f, subsets=30, subset_size=200)
    other_mean, _ = metrics.kid(f, rng.normal(size=(600, 8)) + 0.5, subsets=30, subset_size=200)
    fresh_mean, _ = metrics.kid(f, rng.normal(size=(600, 8)), subsets=30, subset_size=200)
    assert abs(same_mean) < 3 * same_std + 1e-3 and abs(fresh_mean) < 0.01
    assert other_mean > 20 * max(abs(same_mean), abs(fresh_mean))


def test_kid_refuses_features_of_other_sizes_and_bad_subsets():
    with pytest.raises(ValueError, match="feature sizes differ"):
        metrics.kid(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="subsets ≥ 1"):
        metrics.kid(np.zeros((3, 4)), np.zeros((3, 4)), subsets=0)
