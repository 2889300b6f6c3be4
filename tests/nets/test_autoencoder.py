"""Autoencoder of the retrofit experiment (§4.2): sphere projection, shapes, and the layout of the decoder."""
import math

import pytest
import torch

from hatebm.config import ModelConfig
from hatebm.nets import Decoder, build_encoder, build_generator, latent_shape, project_sphere


def test_projection_onto_sphere_of_radius_sqrt_m():
    z = torch.randn(6, 1, 8, 8) * torch.logspace(-3, 3, 6).view(6, 1, 1, 1)
    p = project_sphere(z)
    assert torch.allclose(p.flatten(1).norm(dim=1), torch.full((6,), 8.0), rtol=1e-5)  # sqrt(64)
    cos = torch.nn.functional.cosine_similarity(p.flatten(1), z.flatten(1))
    assert torch.allclose(cos, torch.ones(6), atol=1e-5)  # direction kept
    assert torch.allclose(project_sphere(torch.randn(3, 128)).norm(dim=1), torch.full((3,), math.sqrt(128)))


@pytest.mark.parametrize("shape,res,channels", [([1, 16, 16], 32, 3), ([1, 8, 8], 32, 1), ([2, 8, 8], 64, 3)])
def test_encoder_codes_lie_on_the_sphere_and_decoder_maps_them_back_to_images(shape, res, channels):
    cfg = ModelConfig(resolution=res, channels=channels, hat_width=8, gen_width=8, latent_shape=shape, out_scale=2.0)
    enc, dec = build_encoder(cfg), build_generator(cfg)
    assert isinstance(dec, Decoder) and latent_shape(cfg) == tuple(shape)
    code = enc(torch.rand(3, channels, res, res) * 2 - 1)
    assert code.shape == (3, *shape)
    assert torch.allclose(code.flatten(1).norm(dim=1), torch.full((3,), math.sqrt(math.prod(shape))), rtol=1e-5)
    x = dec(code)
    assert x.shape == (3, channels, res, res) and x.abs().max() <= 2.0


def test_decoder_output_independent_of_batch():
    dec = build_generator(ModelConfig(resolution=32, channels=1, gen_width=8, latent_shape=[1, 8, 8])).eval()
    z = torch.randn(5, 1, 8, 8)
    assert torch.allclose(dec(z)[:2], dec(z[:2]), atol=1e-6)


def test_latent_size_must_divide_resolution_by_a_power_of_two():
    with pytest.raises(ValueError, match="power of 2"):
        Decoder([1, 12, 12], 3, 32, 8)
