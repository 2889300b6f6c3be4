"""Every family of the authors' networks, imported, computes what their TensorFlow code computes on the same weights
(random weights and batch-norm statistics, tests/fixtures/tf_reference/make_fixtures.py): fp32, CPU, relative error
at most 1e-5."""
import pytest
import torch
from tfref import FIXTURES, manifest, nchw, outputs, rel_err

from hatebm.tf_import import network

TOL = 1e-5


@pytest.fixture(scope="module")
def tf():
    return outputs()


@pytest.mark.parametrize("name,resolution", [("hat32", 32), ("hat64", 64), ("hat128", 128)])
def test_hat_energy_and_input_gradient(tf, name, resolution):
    hat = network(FIXTURES / f"{name}.ckpt", "hat", resolution)
    x = nchw(tf[f"{name}/x"]).requires_grad_(True)
    h = hat(x)
    (grad,) = torch.autograd.grad(h.sum(), x)
    assert rel_err(h, tf[f"{name}/h"].reshape(-1)) <= TOL
    assert rel_err(grad, nchw(tf[f"{name}/grad"])) <= TOL


@pytest.mark.parametrize("name,kind,resolution", [("gen32", "generator", 32), ("gen64", "generator", 64),
                                                  ("gen128", "generator", 128), ("dec32", "decoder", 32)])
def test_generators(tf, name, kind, resolution):
    factor = manifest()["families"][name]["out_factor"]
    gen = network(FIXTURES / f"{name}.ckpt", kind, resolution, out_scale=factor)
    z = torch.from_numpy(tf[f"{name}/z"])
    if kind == "decoder":
        z = nchw(tf[f"{name}/z"])
    with torch.no_grad():
        assert rel_err(gen(z), nchw(tf[f"{name}/g"])) <= TOL


def test_encoder(tf):
    enc = network(FIXTURES / "enc32.ckpt", "encoder", 32)
    x = nchw(tf["enc32/x"])
    with torch.no_grad():
        assert rel_err(enc(x, project=False), nchw(tf["enc32/code_raw"])) <= TOL
        assert rel_err(enc(x), nchw(tf["enc32/code"])) <= TOL  # their projection adds 1e-6 to the norm (~1e-7 here)
