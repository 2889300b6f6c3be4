"""SN-GAN-family networks: shapes, batch independence of the hat net, fixed generator statistics."""
import pytest
import torch
import torch.nn.functional as F

from hatebm.nets import FixedBatchNorm2d, MLPGenerator, MLPHat, sngan_generator, sngan_hat


@pytest.mark.parametrize("res,width", [(32, 16), (64, 32), (128, 32)])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes(res, width, channels):
    gen = sngan_generator(res, width, channels, latent_dim=10, out_scale=2.0)
    hat = sngan_hat(res, width, channels)
    x = gen(torch.randn(2, 10))
    assert x.shape == (2, channels, res, res)
    assert x.abs().max() <= 2.0
    assert hat(x).shape == (2,)


def test_unsupported_resolution():
    with pytest.raises(ValueError, match="32, 64 and 128"):
        sngan_hat(48, 16, 3)
    with pytest.raises(ValueError, match="32, 64 and 128"):
        sngan_generator(16, 16, 3)


@pytest.mark.parametrize("res", [32, 64])
def test_hat_output_independent_of_batch(res):
    hat = sngan_hat(res, 32, 3).train()  # even in train mode
    x = torch.randn(8, 3, res, res)
    full = hat(x)
    for i in (0, 5):
        assert torch.allclose(hat(x[i:i + 1]), full[i:i + 1], atol=1e-5)
    other = torch.cat([x[:1], 10 * torch.randn(7, 3, res, res)])
    assert torch.allclose(hat(other)[0], full[0], atol=1e-5)


def test_hat_activation_option():
    """Same weights, SiLU in place of ReLU: matches a hand-written forward pass of the first block."""
    torch.manual_seed(0)
    relu, silu = sngan_hat(32, 8, 1), sngan_hat(32, 8, 1, act="silu")
    silu.load_state_dict(relu.state_dict())
    x = torch.randn(2, 1, 32, 32)
    assert not torch.allclose(relu(x), silu(x))
    b = silu.blocks[0]
    expected = F.avg_pool2d(b.conv2(F.silu(b.conv1(x))), 2) + b.sc(F.avg_pool2d(x, 2))
    assert torch.allclose(b(x), expected, atol=1e-6)
    with pytest.raises(ValueError, match="activation 'tanh'"):
        sngan_hat(32, 8, 1, act="tanh")


def test_hat_has_no_normalisation_or_spectral_norm():
    hat = sngan_hat(32, 16, 3)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._NormBase) for m in hat.modules())
    assert not any("weight_orig" in n for n, _ in hat.named_parameters())
    assert hat.fc.bias is None


def test_generator_batchnorm_statistics_never_change():
    gen = sngan_generator(32, 16, 1, latent_dim=8).train()
    bns = [m for m in gen.modules() if isinstance(m, FixedBatchNorm2d)]
    assert bns
    before = {k: v.clone() for k, v in gen.state_dict().items() if "running" in k or "num_batches" in k}
    opt = torch.optim.Adam(gen.parameters(), lr=1e-2)
    for _ in range(3):
        loss = gen(torch.randn(16, 8)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = {k: v for k, v in gen.state_dict().items() if k in before}
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(torch.all(b.running_mean == 0) and torch.all(b.running_var == 1) for b in bns)
    z = torch.randn(4, 8)  # output of one latent does not depend on the batch either
    assert torch.allclose(gen(z)[:1], gen(z[:1]), atol=1e-5)
    assert any(p.grad is not None for b in bns for p in b.parameters())  # affine parameters train


def test_mlps():
    hat, gen = MLPHat(2, 32, 2), MLPGenerator(3, 2, 32, 2)
    x = gen(torch.randn(5, 3))
    assert x.shape == (5, 2) and hat(x).shape == (5,)


def test_widths_too_small_for_the_resolution_are_one_clear_error():
    with pytest.raises(ValueError, match="model.hat_width must be at least 16 at 64 px"):
        sngan_hat(64, 8)
    with pytest.raises(ValueError, match="model.gen_width must be at least 16 at 128 px"):
        sngan_generator(128, 8)
    sngan_hat(32, 8), sngan_generator(64, 16)  # the smallest widths that build
