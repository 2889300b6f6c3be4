"""The precision policy (hatebm.precision): bf16 only where native (a simulated CUDA device of each generation), G(Z)
and the states in float32 under autocast, evaluation chains in their run's precision, TF32 set explicitly."""
import pytest
import torch

from hatebm import precision
from hatebm.config import override, preset
from hatebm.data import DataInfo
from hatebm.model import hat_model
from hatebm.nets import build_generator, build_hat
from hatebm.sampling import LangevinConfig, sample_conditional


@pytest.mark.parametrize("capability,native", [((7, 0), False), ((7, 5), False), ((8, 0), True), ((9, 0), True)])
def test_bf16_only_on_cuda_devices_that_have_it(monkeypatch, capability, native):
    """V100 (7.0) and T4 (7.5) would emulate bf16; A100 (8.0) and H100 (9.0) compute it."""
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert precision.native_bf16(torch.device("cuda")) is native
    monkeypatch.setattr(precision, "native_bf16", lambda device: native)
    assert precision.autocast(torch.device("cpu"), True)._enabled is native
    assert precision.autocast(torch.device("cpu"), False)._enabled is False


def test_tf32_is_set_explicitly_and_restored():
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    for allow in (False, True):
        with precision.tf32(allow):
            assert torch.backends.cuda.matmul.allow_tf32 is allow and torch.backends.cudnn.allow_tf32 is allow
        assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before


class Recorder(torch.nn.Module):
    """Wraps a network and records the dtype of its outputs."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net, self.dtypes = net, []

    def forward(self, x):
        out = self.net(x)
        self.dtypes.append(out.dtype)
        return out


def test_chains_keep_the_generator_in_float32_under_bf16_autocast(monkeypatch):
    cfg = preset("tiny")
    gen, hat = Recorder(build_generator(cfg.model)), Recorder(build_hat(cfg.model))
    ebm = cfg.energy(hat, gen, (cfg.model.latent_dim,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        res = sample_conditional(ebm, torch.randn(2, cfg.model.latent_dim), LangevinConfig(steps=2, eps_y=1e-3))
    assert gen.dtypes == [torch.float32] and set(hat.dtypes) == {torch.bfloat16}
    assert res.x.dtype == res.y.dtype == torch.float32


@pytest.mark.parametrize("amp", [True, False])
def test_a_trained_model_samples_in_its_runs_precision(monkeypatch, amp):
    monkeypatch.setattr(precision, "native_bf16", lambda device: True)
    cfg = override(preset("tiny"), [f"amp={str(amp).lower()}"])
    hat = Recorder(build_hat(cfg.model))
    model = hat_model(cfg.energy(hat, build_generator(cfg.model), (cfg.model.latent_dim,)), cfg, DataInfo(28, 28, 1))
    model.sample(2, steps=1)
    assert set(hat.dtypes) == {torch.bfloat16 if amp else torch.float32}
