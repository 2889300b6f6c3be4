"""The one-pass joint sampler (order="joint", beyond the paper) against a closed-form Gaussian, its hat-pass count, its
noise order, eps_y = 0, and the device-side drift statistics (no host sync per step)."""
import pytest
import torch

from hatebm import HatEBM, LangevinConfig
from hatebm.sampling import clip_per_sample, sample_joint
from test_sampling import QuadHat, joint_gaussian, linear_gen


def small_ebm(**kw) -> HatEBM:
    torch.manual_seed(3)
    return HatEBM(QuadHat(torch.tensor([0.5, -1.0, 2.0]), 0.8), linear_gen(torch.randn(3, 2), torch.randn(3)), (2,),
                  **kw)


def test_one_pass_joint_recovers_joint_gaussian():
    # As test_sampling's joint-Gaussian test: U = ||Az + y - mu||^2/(2 s2 T) + ||y||^2/(2 sy^2) + ||z||^2/2 is
    # Gaussian with precision P. One-pass Langevin with E = diag(eps_y^2, eps_z^2) is s <- B s + c + E^(1/2) xi,
    # B = I - E P / 2: its stationary mean is exact and its covariance S solves S = B S B^T + E (ULA's own bias).
    ebm, P, mean, cov = joint_gaussian()
    d, m, eps_y, eps_z = 2, 2, 0.15, 0.25
    E = torch.diag(torch.tensor([eps_y**2] * d + [eps_z**2] * m, dtype=torch.float64))
    B = torch.eye(d + m, dtype=torch.float64) - 0.5 * E @ P
    ula_cov = torch.linalg.solve(torch.eye((d + m) ** 2, dtype=torch.float64) - torch.kron(B, B),
                                 E.reshape(-1)).reshape(d + m, d + m)
    # 400 steps: the slowest mode of B contracts by 0.975 a step, so the start is forgotten to ~1e-4.
    res = ebm.sample(torch.randn(20000, m), "joint", steps=400, eps_y=eps_y, eps_z=eps_z, max_drift_y=None,
                     order="joint")
    s = torch.cat([res.y, res.z], 1).double()
    # Standard errors at 20000 chains: <= 0.006 (means), <= 0.007 (covariances).
    assert torch.allclose(s.mean(0), mean, atol=0.025)
    assert torch.allclose(torch.cov(s.T), ula_cov, atol=0.03)
    # The target itself, as in the alternating sampler's test; up to 0.016 of the gap is ULA's own bias (ula_cov - cov).
    assert torch.allclose(torch.cov(s.T), cov, atol=0.05)
    assert torch.allclose(res.x, res.y + ebm.generator(res.z), atol=1e-6)


def test_one_step_is_the_joint_gradient_step():
    """Without noise, one step is Y - clip(eps_y^2/2 grad_Y U), Z - eps_z^2/2 grad_Z U, both gradients at (Y0, Z0)."""
    ebm = small_ebm(temperature=0.5, y_prior_std=0.7, z_prior=True)
    z0, eps_y, eps_z, clip = torch.randn(6, 2), 0.4, 0.3, 0.2
    torch.manual_seed(5)
    res = ebm.sample(z0, "joint", steps=1, eps_y=eps_y, eps_z=eps_z, max_drift_y=clip, noise=False, order="joint",
                     y0_scale=1.0)
    torch.manual_seed(5)
    y0 = torch.randn(6, 3)  # Y0 = y0_scale * N(0, I), the chain's first draw
    y, z = y0.clone().requires_grad_(True), z0.clone().requires_grad_(True)
    gy, gz = torch.autograd.grad(ebm.energy(y, z).sum(), (y, z))
    drift_y = clip_per_sample(0.5 * eps_y**2 * gy, clip)
    assert (drift_y.norm(dim=1) < 0.5 * eps_y**2 * gy.norm(dim=1)).any()  # the clip is active
    assert torch.allclose(res.y, y0 - drift_y, atol=1e-6)
    assert torch.allclose(res.z, z0 - 0.5 * eps_z**2 * gz, atol=1e-6)
    assert res.drift_y == pytest.approx(drift_y.norm(dim=1).mean().item(), rel=1e-5)
    assert res.drift_z == pytest.approx((0.5 * eps_z**2 * gz).norm(dim=1).mean().item(), rel=1e-5)
    alt = ebm.sample(z0, "joint", steps=1, eps_y=eps_y, eps_z=eps_z, max_drift_y=clip, noise=False, y0_scale=0.0)
    assert not torch.allclose(alt.z, ebm.sample(z0, "joint", steps=1, eps_y=eps_y, eps_z=eps_z, max_drift_y=clip,
                                                noise=False, order="joint").z)  # Z's gradient at Y0, not Y1


def test_eps_y_zero_holds_y_at_y0_and_draws_no_y_noise():
    ebm = small_ebm(z_prior=True)
    z0 = torch.randn(5, 2)
    torch.manual_seed(1)
    res = ebm.sample(z0, "joint", steps=8, eps_y=0.0, eps_z=0.2, y0_scale=1.0, order="joint", record_every=1)
    y0 = res.path[0]["y"]
    assert y0.abs().sum() > 0
    assert all(torch.equal(p["y"], y0) for p in res.path) and torch.equal(res.y, y0)
    assert not torch.allclose(res.z, z0) and res.drift_y == 0.0 and res.drift_z > 0
    # No Y noise drawn: the noise stream, hence Z, is exactly that of the alternating sampler (which runs eq 7 alone).
    for order in ("yz", "zy"):
        torch.manual_seed(1)
        alt = ebm.sample(z0, "joint", steps=8, eps_y=0.0, eps_z=0.2, y0_scale=1.0, order=order)
        assert torch.equal(alt.z, res.z) and torch.equal(alt.y, res.y) and alt.drift_z == res.drift_z


@pytest.mark.parametrize("order, passes", [("joint", 1), ("yz", 2), ("zy", 2)])
def test_hat_passes_per_step(order, passes):
    ebm = small_ebm()
    calls = []
    ebm.hat.register_forward_hook(lambda *a: calls.append(1))
    gen_calls = []
    ebm.generator.register_forward_hook(lambda *a: gen_calls.append(1))
    ebm.sample(4, "joint", steps=7, eps_y=0.1, eps_z=0.1, order=order)
    assert len(calls) == passes * 7
    assert len(gen_calls) == 1 + 7  # G(Z0), then once per step


def test_noise_is_drawn_y_then_z():
    ebm = small_ebm()
    shapes = []

    def noise(x):
        shapes.append(tuple(x.shape[1:]))
        return torch.randn_like(x)

    sample_joint(ebm, torch.randn(4, 2), LangevinConfig(steps=3, eps_y=0.1, eps_z=0.1, order="joint"), noise)
    assert shapes == [(3,)] + [(3,), (2,)] * 3  # Y0's draw, then per step Y's noise before Z's


@pytest.mark.parametrize("order", ["yz", "zy", "joint"])
@pytest.mark.parametrize("mode", ["joint", "conditional"])
def test_no_host_sync_per_step(monkeypatch, order, mode):
    """Drift statistics stay on the device: the number of host reads does not grow with the number of steps."""
    ebm = small_ebm()
    reads = []
    for name in ("item", "tolist", "__bool__", "__float__"):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda self, *a, _f=original, **k: reads.append(1) or _f(self, *a, **k))
    counts = []
    for steps in (2, 9):
        reads.clear()
        res = ebm.sample(4, mode, steps=steps, eps_y=0.1, eps_z=0.1, order=order)
        counts.append(len(reads))
    assert counts[0] == counts[1] <= 1
    assert isinstance(res.drift_y, float) and isinstance(res.drift_z, float) and res.drift_y > 0


def test_order_joint_is_a_valid_setting_and_bad_orders_name_it():
    from hatebm.config import override, preset

    assert LangevinConfig(order="joint").order == "joint"
    cfg = override(preset("tiny"), ["sampler.order=joint"])
    assert cfg.sampler.order == "joint"
    with pytest.raises(ValueError, match=r"^order must be one of \['yz', 'zy', 'joint'\], got 'xy'"):
        LangevinConfig(order="xy")
