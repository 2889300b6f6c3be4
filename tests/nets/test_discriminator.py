"""SN-GAN discriminator: spectral norm is active on every layer (unlike the hat net)."""
import torch
from torch import nn
from torch.nn.utils import parametrize

from hatebm.nets import sngan_discriminator


def layers(d):
    return [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def test_every_conv_and_linear_is_spectrally_normalised():
    d = sngan_discriminator(32, width=16, in_channels=1)
    assert len(layers(d)) == 11  # 4 blocks x 2 convs, the shortcut convs of the 2 downsampling blocks, 1 linear
    assert all(parametrize.is_parametrized(m, "weight") for m in layers(d))
    with torch.no_grad():
        for m in layers(d):
            m.parametrizations.weight.original.mul_(3.0)
    x = torch.randn(2, 1, 32, 32)
    for _ in range(20):  # each forward pass in training mode is one power iteration
        d(x)
    for m in layers(d):
        sigma = torch.linalg.matrix_norm(m.weight.detach().reshape(m.weight.shape[0], -1), ord=2)
        assert abs(sigma.item() - 1) < 0.03, (m, sigma)  # the effective weight W / sigma(W) has norm 1


def test_output_invariant_to_weight_scale_and_batch():
    d = sngan_discriminator(32, width=16, in_channels=3)
    x = torch.randn(5, 3, 32, 32)
    for _ in range(5):
        d(x)
    d.eval()
    before = d(x)
    assert torch.allclose(d(x[:2]), before[:2], atol=1e-5)
    with torch.no_grad():
        for m in layers(d):
            m.parametrizations.weight.original.mul_(10.0)
    assert torch.allclose(d(x), before, rtol=1e-4, atol=1e-5)  # W / sigma(W) does not see the scale
