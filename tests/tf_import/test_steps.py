"""One Langevin step of each kind and one update of each network, computed by hatebm on the imported fixture networks,
equal what the authors' code computed (their ``ebm_utils`` with the noise supplied as tensors, their train steps'
gradients on the same batch): tests/fixtures/tf_reference/make_fixtures.py."""
import numpy as np
import pytest
import torch
from tfref import FIXTURES, nchw, outputs, rel_err

from hatebm import HatEBM, LangevinConfig, TandemConfig, sample_conditional, sample_joint
from hatebm.distributed import Dist
from hatebm.tf_import import network
from hatebm.tf_import.layout import SUFFIX, Family, convert
from hatebm.train.loss import generator_update, hat_update

TOL = 1e-5  # states and losses
# parameter gradients: sums over batch and pixels, each library accumulating them in its own order. Against a float64
# computation both float32 results are off by up to 4e-5 relative (measured), and hatebm's is within 5e-5 of
# TensorFlow's on this project's CPU; the bound leaves room for another CPU's kernels while a wrong formula would be
# off by far more.
TOL_GRAD = 2e-4


@pytest.fixture(scope="module")
def tf():
    return outputs()


@pytest.fixture(scope="module")
def nets():
    return network(FIXTURES / "hat32.ckpt", "hat", 32), network(FIXTURES / "gen32.ckpt", "generator", 32, 2.0)


def supplied(*draws: torch.Tensor):
    """A noise source that returns the given tensors in turn (Y0 first, then each step's draws)."""
    queue = list(draws)
    return lambda like: queue.pop(0).clone().to(like.dtype)


@pytest.mark.parametrize("kind", ["joint", "cond"])
def test_one_langevin_step(tf, nets, kind):
    """Joint: their order, Z then Y (sampler.order="zy"); conditional: Y alone. Y's drift clip acts on 2 of the 3
    samples in both (their clip_by_norm of the gradient at max_norm / (eps^2 / 2))."""
    hat, gen = nets
    p = {k: float(tf[f"{kind}/{k}"]) for k in ("epsilon", "epsilon_latent", "temp", "max_norm")}
    ebm = HatEBM(hat, gen, (16,), temperature=p["temp"])
    cfg = LangevinConfig(steps=1, eps_y=p["epsilon"], eps_z=p["epsilon_latent"], max_drift_y=p["max_norm"],
                         y0_scale=1.0, order="zy")
    z0, y0, noise_y = torch.from_numpy(tf[f"{kind}/z0"]), nchw(tf[f"{kind}/y0"]), nchw(tf[f"{kind}/noise_y"])
    if kind == "joint":
        res = sample_joint(ebm, z0, cfg, supplied(y0, torch.from_numpy(tf["joint/noise_z"]), noise_y))
    else:
        res = sample_conditional(ebm, z0, cfg, supplied(y0, noise_y))
    assert rel_err(res.z, tf[f"{kind}/z1"]) <= TOL
    assert rel_err(res.y, nchw(tf[f"{kind}/y1"])) <= TOL
    assert rel_err(res.x, nchw(tf[f"{kind}/x1"])) <= TOL
    assert res.drift_y == pytest.approx(float(tf[f"{kind}/grad_norm_res"]), rel=TOL)  # their mean clipped drift norm
    assert res.drift_z == pytest.approx(float(tf[f"{kind}/grad_norm_latent"]), rel=TOL, abs=1e-12)


def grads_of(net: torch.nn.Module, family: Family, tf: dict, prefix: str) -> list[tuple[str, torch.Tensor, np.ndarray]]:
    """(name, hatebm's gradient, theirs in hatebm's layout) for every parameter."""
    out = []
    for name, param in net.named_parameters():
        theirs = convert(name, tf[prefix + family.tf_key(name)[: -len(SUFFIX)]])
        out.append((name, param.grad, theirs))
    return out


@pytest.mark.parametrize("clip", [False, True])
def test_hat_update_gradients(tf, clip):
    """Their update_ebm: (mean H(X+) - mean H(X-)) / T; with clip_ebm_grad each gradient tensor is clipped to
    max_grad_norm on its own (hat_grad_clip_scope=tensor)."""
    hat = network(FIXTURES / "hat32.ckpt", "hat", 32)
    prefix = "update_clip/" if clip else "update/"
    cfg = TandemConfig(temperature=float(tf[prefix + "temp"]), amp=False, hat_grad_clip=None)
    if clip:
        cfg.hat_grad_clip, cfg.hat_grad_clip_scope = float(tf["update_clip/max_grad_norm"]), "tensor"
    opt = torch.optim.SGD(hat.parameters(), lr=0.0)  # keeps the weights; the gradients stay in .grad
    values = hat_update(hat, opt, nchw(tf["update/images_data"]), nchw(tf["update/images_samp"]), cfg, Dist())
    assert values["energy_diff"] / cfg.temperature == pytest.approx(float(tf[prefix + "loss"]), rel=TOL)
    for name, ours, theirs in grads_of(hat, Family("hat", 32), tf, prefix + "ebm_grad/"):
        assert rel_err(ours, theirs) <= TOL_GRAD, name


def test_hat_gradient_clip_over_all_tensors_differs(tf):
    """hatebm's default clip (one norm over all tensors) is not theirs: it scales every tensor, theirs only the 4
    tensors above the bound."""
    hat = network(FIXTURES / "hat32.ckpt", "hat", 32)
    cfg = TandemConfig(temperature=float(tf["update_clip/temp"]), amp=False,
                       hat_grad_clip=float(tf["update_clip/max_grad_norm"]))
    hat_update(hat, torch.optim.SGD(hat.parameters(), lr=0.0), nchw(tf["update/images_data"]),
               nchw(tf["update/images_samp"]), cfg, Dist())
    grads = grads_of(hat, Family("hat", 32), tf, "update_clip/ebm_grad/")
    worst = max(rel_err(ours, theirs) for _, ours, theirs in grads)
    assert worst > 0.1


def test_generator_update_gradients(tf):
    """Their update_gen: gen_loss_factor_coop * mean((G(Z') - X')^2) (eq 12), batch norm with stored statistics."""
    gen = network(FIXTURES / "gen32.ckpt", "generator", 32, 2.0)
    opt = torch.optim.SGD(gen.parameters(), lr=0.0)
    loss = generator_update(gen, opt, nchw(tf["update/images_update"]), torch.from_numpy(tf["update/z"]),
                            float(tf["update/gen_loss_factor_coop"]), Dist(), amp=False)
    assert loss == pytest.approx(float(tf["update/loss_gen"]), rel=TOL)
    for name, ours, theirs in grads_of(gen, Family("generator", 32), tf, "update/gen_grad/"):
        assert rel_err(ours, theirs) <= TOL_GRAD, name
