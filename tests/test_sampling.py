"""Samplers against closed-form Gaussians, drift clipping, frozen networks and path recording."""
import math

import numpy as np

import pytest
import torch
from torch import nn

from hatebm import HatEBM, LangevinConfig
from hatebm.sampling import clip_per_sample


class QuadHat(nn.Module):
    """H(x) = ||x - mu||^2 / (2 s2)."""

    def __init__(self, mu: torch.Tensor, s2: float) -> None:
        super().__init__()
        self.mu = nn.Parameter(mu.clone())
        self.s2 = s2

    def forward(self, x):
        return 0.5 * (x - self.mu).pow(2).sum(1) / self.s2


def linear_gen(A: torch.Tensor, b: torch.Tensor) -> nn.Linear:
    g = nn.Linear(A.shape[1], A.shape[0])
    with torch.no_grad():
        g.weight.copy_(A)
        g.bias.copy_(b)
    return g


def test_conditional_recovers_gaussian_of_y_given_z():
    # U(Y|Z) = H(G(Z)+Y)/T: Y|Z ~ N(mu - G(Z), s2*T I). ULA's exact stationary variance is v / (1 - eps^2/(4 v)).
    torch.manual_seed(1)
    mu, s2, T = torch.tensor([0.5, -1.0, 2.0]), 0.8, 0.5
    A, b = torch.randn(3, 2), torch.tensor([0.1, 0.2, -0.3])
    ebm = HatEBM(QuadHat(mu, s2), linear_gen(A, b), (2,), temperature=T)
    z = torch.randn(1, 2).repeat(4000, 1)
    v = s2 * T
    eps = 0.3 * math.sqrt(v)
    res = ebm.sample(z, "conditional", steps=300, eps_y=eps, max_drift_y=None)
    expected_mean = mu - (z[0] @ A.T + b)
    assert torch.allclose(res.y.mean(0), expected_mean, atol=0.04)
    expected_var = v / (1 - eps**2 / (4 * v))
    assert torch.allclose(res.y.var(0), torch.full((3,), expected_var), rtol=0.06)
    assert torch.equal(res.z, z)  # Z stays fixed in the conditional sampler
    assert torch.allclose(res.x, res.y + z @ A.T + b, atol=1e-6)


def joint_gaussian() -> tuple[HatEBM, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A Hat EBM whose joint density over (Y, Z) in R^2 x R^2 is Gaussian, with its precision P, mean and
    covariance: U = ||Az + y - mu||^2/(2 s2 T) + ||y||^2/(2 sy^2) + ||z||^2/2."""
    torch.manual_seed(2)
    d, m, s2, T, sy = 2, 2, 1.0, 1.0, 0.7
    mu = torch.tensor([1.0, -0.5])
    A = torch.tensor([[1.0, 0.3], [-0.2, 0.8]])
    ebm = HatEBM(QuadHat(mu, s2), linear_gen(A, torch.zeros(d)), (m,), temperature=T, y_prior_std=sy, z_prior=True)
    c = 1 / (s2 * T)
    P = torch.zeros(d + m, d + m, dtype=torch.float64)
    P[:d, :d] = torch.eye(d) * (c + 1 / sy**2)
    P[:d, d:] = c * A
    P[d:, :d] = c * A.T
    P[d:, d:] = c * A.T @ A + torch.eye(m)
    cov = torch.linalg.inv(P)
    return ebm, P, cov @ torch.cat([c * mu, c * A.T @ mu]).double(), cov


def test_joint_with_both_priors_recovers_joint_gaussian():
    ebm, _, mean, cov = joint_gaussian()
    res = ebm.sample(torch.randn(5000, 2), "joint", steps=600, eps_y=0.1, eps_z=0.1, max_drift_y=None)
    s = torch.cat([res.y, res.z], 1).double()
    assert torch.allclose(s.mean(0), mean, atol=0.04)
    assert torch.allclose(torch.cov(s.T), cov, atol=0.04)


@pytest.mark.parametrize("order", ["yz", "zy", "joint"])
def test_joint_orders_both_valid_and_differ(order):
    torch.manual_seed(3)
    ebm = HatEBM(QuadHat(torch.zeros(2), 1.0), linear_gen(torch.eye(2), torch.zeros(2)), (2,), z_prior=True)
    z = torch.randn(5, 2)
    torch.manual_seed(0)
    a = ebm.sample(z, "joint", steps=3, eps_y=0.1, eps_z=0.1, order=order, noise=False)
    other = "zy" if order == "yz" else "yz"
    b = ebm.sample(z, "joint", steps=3, eps_y=0.1, eps_z=0.1, order=other, noise=False)
    assert not torch.allclose(a.z, b.z)


def test_clip_per_sample_bounds_each_norm_and_keeps_small_ones():
    v = torch.randn(6, 3, 4, 4) * torch.tensor([0.01, 1, 10, 100, 0.1, 5]).view(6, 1, 1, 1)
    out = clip_per_sample(v, 2.5)
    norms, orig = out.flatten(1).norm(dim=1), v.flatten(1).norm(dim=1)
    assert torch.all(norms <= 2.5 + 1e-5)
    small = orig <= 2.5
    assert torch.allclose(out[small], v[small])
    assert torch.allclose(out[~small] / norms[~small].view(-1, 1, 1, 1) * orig[~small].view(-1, 1, 1, 1), v[~small],
                          rtol=1e-5, atol=1e-6)


def test_drift_clipping_limits_each_step_without_noise():
    ebm = HatEBM(QuadHat(torch.full((4,), 100.0), 1.0), linear_gen(torch.eye(4), torch.zeros(4)), (4,),
                 temperature=1e-8)
    res = ebm.sample(torch.zeros(7, 4), "conditional", steps=3, eps_y=5e-4, max_drift_y=2.5, noise=False)
    # Each step moves every sample by exactly 2.5 along the gradient; three steps reach norm 7.5.
    assert torch.allclose(res.y.norm(dim=1), torch.full((7,), 7.5), atol=1e-4)
    assert res.drift_y == pytest.approx(2.5, rel=1e-5)


def test_no_parameter_gradients_and_flags_restored():
    hat, gen = QuadHat(torch.zeros(3), 1.0), linear_gen(torch.randn(3, 2), torch.zeros(3))
    ebm = HatEBM(hat, gen, (2,), z_prior=True)
    for mode in ("joint", "conditional"):
        ebm.sample(4, mode, steps=2, eps_y=0.1, eps_z=0.1)
    assert all(p.grad is None for p in ebm.parameters())
    assert all(p.requires_grad for p in ebm.parameters())


def test_conditional_computes_generator_once():
    calls = []
    gen = linear_gen(torch.randn(3, 2), torch.zeros(3))
    gen.register_forward_hook(lambda *a: calls.append(1))
    ebm = HatEBM(QuadHat(torch.zeros(3), 1.0), gen, (2,))
    ebm.sample(4, "conditional", steps=10, eps_y=0.1)
    assert len(calls) == 1


def test_path_recording_and_y0_scale():
    ebm = HatEBM(QuadHat(torch.zeros(3), 1.0), linear_gen(torch.randn(3, 2), torch.zeros(3)), (2,))
    res = ebm.sample(5, "joint", steps=10, eps_y=0.1, eps_z=0.1, record_every=4)
    assert [int(r["step"]) for r in res.path] == [0, 4, 8, 10]
    assert torch.equal(res.path[0]["y"], torch.zeros(5, 3))  # Y0 = 0 by default
    assert torch.allclose(res.path[-1]["x"], res.x)
    res = ebm.sample(5, "conditional", steps=0, y0_scale=1.0)
    assert res.y.abs().sum() > 0


def test_bad_settings_are_rejected():
    ebm = HatEBM(QuadHat(torch.zeros(3), 1.0), linear_gen(torch.randn(3, 2), torch.zeros(3)), (2,))
    with pytest.raises(ValueError, match="unknown sampler settings"):
        ebm.sample(2, steps=1, epsilon=0.1)
    with pytest.raises(ValueError, match="order"):
        ebm.sample(2, order="xy")
    with pytest.raises(ValueError, match="latents have shape"):
        ebm.sample(torch.randn(2, 5))
    with pytest.raises(ValueError, match="mode"):
        ebm.sample(2, "gibbs")


@pytest.mark.parametrize("mode", ["conditional", "joint"])
def test_states_stay_float32_under_bf16_autocast(mode):
    """Networks may run in bf16, but Y and Z keep fp32 so that steps of size ~1e-4 are not rounded away."""
    from hatebm.nets import sngan_generator, sngan_hat
    torch.manual_seed(0)
    ebm = HatEBM(sngan_hat(32, 8, 1), sngan_generator(32, 8, 1, latent_dim=4), (4,), temperature=1e-3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        r = ebm.sample(3, mode, LangevinConfig(steps=2, eps_y=1e-4, eps_z=1e-3))
    assert r.x.dtype == r.y.dtype == r.z.dtype == torch.float32
    assert r.y.abs().max() > 0


def test_randn_dense_keeps_layout_and_draws_in_memory_order():
    """Contiguous states get torch.randn_like's draws; channels_last ones the same fast draws laid out in memory
    order (not torch's strided path), standard normal either way."""
    from hatebm.sampling import randn_dense

    x = torch.zeros(64, 3, 16, 16)
    torch.manual_seed(3)
    expected = torch.randn_like(x)
    torch.manual_seed(3)
    assert torch.equal(randn_dense(x), expected)
    cl = x.contiguous(memory_format=torch.channels_last)
    torch.manual_seed(3)
    draw = randn_dense(cl)
    assert draw.is_contiguous(memory_format=torch.channels_last) and draw.shape == x.shape
    assert torch.equal(draw.permute(0, 2, 3, 1).flatten(), expected.flatten())  # memory order = a flat draw
    assert abs(draw.mean().item()) < 0.02 and abs(draw.std().item() - 1) < 0.02
    odd = x.permute(0, 2, 1, 3)  # neither layout: torch's own path
    torch.manual_seed(3)
    assert randn_dense(odd).stride() == torch.randn_like(odd).stride()


def test_seeded_sample_sets_do_not_depend_on_batch_size_or_split():
    """A Hat EBM's seeded set: image i from seed (s, i) alone, so batches and shares (start=) give the same images."""
    from hatebm.config import override, preset
    from hatebm.data import DataInfo
    from hatebm.model import hat_model
    from hatebm.nets import build_generator, build_hat

    cfg = override(preset("tiny"), ["amp=false"])  # fp32: bf16 kernels may round by batch size
    torch.manual_seed(0)
    ebm = cfg.energy(build_hat(cfg.model), build_generator(cfg.model), (cfg.model.latent_dim,)).eval()
    model = hat_model(ebm, cfg, DataInfo(28, 28, 1))
    whole = model.draw(7, steps=3, batch_size=7, progress=False, seed=2)
    assert np.array_equal(whole, model.draw(7, steps=3, batch_size=3, progress=False, seed=2))
    assert np.array_equal(whole[4:], model.draw(3, steps=3, batch_size=2, progress=False, seed=2, start=4))
    assert not np.array_equal(whole, model.draw(7, steps=3, batch_size=7, progress=False, seed=3))


def test_a_seeded_sampling_batch_costs_the_same_operations_at_any_batch_size():
    """Per-image noise at the cost of one batch draw: the torch operations of one seeded batch (latents, K joint
    steps) for 128 images are at most 1.15x those for 8 (they are equal)."""
    from torch.profiler import ProfilerActivity, profile

    from hatebm.config import override, preset
    from hatebm.data import DataInfo
    from hatebm.model import hat_model
    from hatebm.nets import build_generator, build_hat

    cfg = override(preset("joint_tiny"), ["model.gen_width=8", "model.latent_dim=16"])
    ebm = cfg.energy(build_hat(cfg.model), build_generator(cfg.model), (cfg.model.latent_dim,)).eval()
    model = hat_model(ebm, cfg, DataInfo(28, 28, 1))

    def count(n: int) -> int:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            next(model.results(n, steps=2, batch_size=n, progress=False, seed=1))
        return sum(e.count for e in prof.key_averages())

    small, large = count(8), count(128)
    assert large <= 1.15 * small, (small, large)
