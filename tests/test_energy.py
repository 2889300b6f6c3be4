"""HatEBM energy: definition (eqs 4, 5, 9) and gradients against finite differences."""
import pytest
import torch

from hatebm import HatEBM
from hatebm.nets import sngan_generator, sngan_hat


@pytest.fixture
def ebm():
    torch.manual_seed(0)
    hat = sngan_hat(32, 8, 1).double()
    gen = sngan_generator(32, 8, 1, latent_dim=6).double()
    return HatEBM(hat, gen, (6,), temperature=0.5, y_prior_std=0.3, z_prior=True)


def test_energy_matches_definition(ebm):
    y, z = 0.1 * torch.randn(3, 1, 32, 32, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    expected = (ebm.hat(ebm.generator(z) + y) / 0.5 + y.flatten(1).pow(2).sum(1) / (2 * 0.3**2)
                + 0.5 * z.pow(2).sum(1))
    assert torch.allclose(ebm.energy(y, z), expected)
    assert ebm.hat_energy(ebm.generator(z) + y).shape == (3,)


@pytest.mark.parametrize("wrt", ["y", "z"])
def test_gradients_match_finite_differences(ebm, wrt):
    y = (0.1 * torch.randn(2, 1, 32, 32, dtype=torch.float64)).requires_grad_(True)
    z = torch.randn(2, 6, dtype=torch.float64).requires_grad_(True)
    state = y if wrt == "y" else z
    (grad,) = torch.autograd.grad(ebm.energy(y, z).sum(), state)
    h = 1e-6
    for _ in range(3):
        d = torch.randn_like(state)
        with torch.no_grad():
            args = lambda s: (s, z) if wrt == "y" else (y, s)  # noqa: E731
            fd = (ebm.energy(*args(state + h * d)).sum() - ebm.energy(*args(state - h * d)).sum()) / (2 * h)
        assert torch.allclose((grad * d).sum(), fd, rtol=1e-5, atol=1e-8)


def test_invalid_arguments():
    hat, gen = sngan_hat(32, 8, 1), sngan_generator(32, 8, 1, latent_dim=4)
    with pytest.raises(ValueError, match="temperature"):
        HatEBM(hat, gen, (4,), temperature=0)
    with pytest.raises(ValueError, match="y_prior_std"):
        HatEBM(hat, gen, (4,), y_prior_std=-1.0)


def test_the_module_called_is_the_energy():
    """HatEBM behaves like any module: ebm(y, z) is U(Y, Z), the same as ebm.energy(y, z), hooks included."""
    import torch
    from torch import nn

    from hatebm import HatEBM

    torch.manual_seed(0)
    hat, gen = nn.Sequential(nn.Flatten(), nn.Linear(4, 1)), nn.Sequential(nn.Linear(2, 4), nn.Unflatten(1, (1, 2, 2)))
    ebm = HatEBM(hat, gen, (2,), temperature=0.5, y_prior_std=2.0, z_prior=True)
    y, z = torch.randn(3, 1, 2, 2), torch.randn(3, 2)
    seen = []
    ebm.register_forward_hook(lambda module, inputs, output: seen.append(output))
    u = ebm(y, z)
    expected = hat(gen(z) + y).squeeze(1) / 0.5 + y.flatten(1).pow(2).sum(1) / 8 + 0.5 * z.pow(2).sum(1)
    assert torch.allclose(u, expected) and torch.equal(ebm.energy(y, z), u) and len(seen) == 2
