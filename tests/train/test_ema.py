"""The average of the hat's weights (``ema_halflife``, beyond the paper): its recursion, checkpoint and sampling."""
import types

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from hatebm.config import override, preset
from hatebm.model import load_model
from hatebm.train import train
from hatebm.train.hatrun import HatRun


def stub(halflife: float) -> HatRun:
    run = HatRun.__new__(HatRun)
    run.cfg = types.SimpleNamespace(ema_halflife=halflife, compile=False)
    run.hat, run.nets = nn.Linear(3, 1, bias=False), {}
    return run


def test_average_follows_its_closed_form_and_halves_each_halflife():
    run = stub(2.0)
    with torch.no_grad():
        run.hat.weight.fill_(0.0)
    run.ready()
    assert run.nets["hat_ema"] is run.hat_ema and not run.hat_ema.weight.requires_grad
    beta, values = 0.5 ** 0.5, [1.0, 3.0, -2.0, 5.0]
    for v in values:
        with torch.no_grad():
            run.hat.weight.fill_(v)
        run.update_ema()
    n = len(values)
    expected = sum((1 - beta) * beta ** (n - 1 - k) * v for k, v in enumerate(values))  # w0 = 0
    assert run.hat_ema.weight[0, 0].item() == pytest.approx(expected, rel=1e-6)
    far = stub(4.0)
    far.ready()
    start = far.hat_ema.weight.clone()
    with torch.no_grad():
        far.hat.weight.copy_(start + 1.0)
    for _ in range(4):
        far.update_ema()
    assert torch.allclose(far.hat_ema.weight - start, torch.full_like(start, 0.5))  # half the way in one half-life


def test_off_by_default_and_sampling_uses_the_average(tiny_npz, tmp_path):
    assert stub(0.0).ready() is None and stub(0.0).nets == {}
    out = tmp_path / "run"
    cfg = override(preset("tiny"), ["data.name=npz", f"data.root={tiny_npz}", "eval_samples=0", "ema_halflife=1"])
    train(cfg, out, progress=False)
    tensors = load_file(str(out / "checkpoints" / "step_00000004" / "tensors.safetensors"))
    avg = {k[len("hat_ema."):]: v for k, v in tensors.items() if k.startswith("hat_ema.")}
    now = {k[len("hat."):]: v for k, v in tensors.items() if k.startswith("hat.")}
    assert avg.keys() == now.keys() and any(not torch.equal(avg[k], now[k]) for k in avg)
    for ema, weights in ((True, avg), (False, now)):
        hat = load_model(out, "cpu", ema=ema).ebm.hat
        assert all(torch.equal(v, weights[k]) for k, v in hat.state_dict().items())
