"""The authors' optimiser (tfa MovingAverage over Keras Adam): what an imported optimiser file becomes, and two of
their hat updates replayed with hatebm's Adam and weight average (make_fixtures.py: lr 1e-3, decay 0.9)."""
import copy
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tfref import FIXTURES, nchw, outputs, rel_err

from hatebm import checkpoint as ckpt
from hatebm import TandemConfig
from hatebm.distributed import Dist
from hatebm.tf_import import import_tf, network
from hatebm.tf_import.experiments import ema_halflife
from hatebm.tf_import.layout import SUFFIX, Family, convert
from hatebm.train.hatrun import HatRun
from hatebm.train.loss import hat_update


@pytest.fixture(scope="module")
def tf():
    return outputs()


def theirs(slot: str) -> dict[str, np.ndarray]:
    """The optimiser file's arrays of one slot, by checkpoint path (optim_layout.json says which is which)."""
    layout = json.loads((FIXTURES / "optim_layout.json").read_text())
    with np.load(FIXTURES / "ebm_optim.npz") as npz:
        return {e["name"]: npz[f"arr_{i}"] for i, e in enumerate(layout) if e["slot"] == slot}


def test_import_brings_moments_step_and_average(tmp_path):
    import_tf("cifar10_synth", tmp_path / "run", ebm=FIXTURES / "hat32_trained.ckpt", gen=FIXTURES / "gen32.ckpt",
              optim=FIXTURES / "ebm_optim.npz", load=False)
    saved = ckpt.load(tmp_path / "run")
    assert saved.config.ema_halflife == pytest.approx(math.log(0.5) / math.log(0.9999))
    family, average, m, v = Family("hat", 32), theirs("average"), theirs("m"), theirs("v")
    flat, _ = saved.optimizers["hat"]
    for i, (name, _) in enumerate(network(FIXTURES / "hat32.ckpt", "hat", 32).named_parameters()):
        path = family.tf_key(name)[: -len(SUFFIX)]
        np.testing.assert_array_equal(saved.nets["hat_ema"][name].numpy(), convert(name, average[path]))
        np.testing.assert_array_equal(flat[f"{i}.exp_avg"].numpy(), convert(name, m[path]))
        np.testing.assert_array_equal(flat[f"{i}.exp_avg_sq"].numpy(), convert(name, v[path]))
        assert flat[f"{i}.step"].item() == 2
    assert len(saved.nets["hat_ema"]) == len(saved.nets["hat"]) == 21


def replay(tf, keras_adam: bool) -> tuple[torch.nn.Module, dict, dict, dict]:
    """Their two hat updates from hat32 with hatebm's gradients (hat_update) and weight average (HatRun.update_ema
    with the half-life of their decay); the step is torch's Adam, or Keras's formula
    ``w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + 1e-7)``. Returns the hat, the average, m and v."""
    hat = network(FIXTURES / "hat32.ckpt", "hat", 32)
    lr, decay = float(tf["optim/lr"]), float(tf["optim/decay"])
    run = SimpleNamespace(hat=hat, hat_ema=copy.deepcopy(hat), cfg=SimpleNamespace(ema_halflife=ema_halflife(decay)))
    opt = torch.optim.Adam(hat.parameters(), lr=0.0 if keras_adam else lr, betas=(0.9, 0.999))
    cfg = TandemConfig(temperature=float(tf["optim/temp"]), amp=False)
    m = {n: torch.zeros_like(p) for n, p in hat.named_parameters()}
    v = {n: torch.zeros_like(p) for n, p in hat.named_parameters()}
    batches = [("update/images_data", "update/images_samp"), ("optim/images_data_2", "optim/images_samp_2")]
    for t, ((pos, neg), loss) in enumerate(zip(batches, tf["optim/loss"]), start=1):
        values = hat_update(hat, opt, nchw(tf[pos]), nchw(tf[neg]), cfg, Dist())
        if t == 1:  # from the same weights: the same loss
            assert values["energy_diff"] / cfg.temperature == pytest.approx(float(loss), rel=1e-5)
        with torch.no_grad():
            for name, p in hat.named_parameters():
                m[name].mul_(0.9).add_(0.1 * p.grad)
                v[name].mul_(0.999).add_(0.001 * p.grad**2)
                if keras_adam:
                    p.sub_(lr * math.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m[name] / (v[name].sqrt() + 1e-7))
        HatRun.update_ema(run)
    return hat, dict(run.hat_ema.named_parameters()), m, v


def test_two_updates_replayed(tf):
    """hatebm's gradients and weight average, stepped with Keras's Adam, land on their weights, moments and
    average after two updates."""
    hat, avg, m, v = replay(tf, keras_adam=True)
    trained = network(FIXTURES / "hat32_trained.ckpt", "hat", 32).state_dict()
    family, average, their_m, their_v = Family("hat", 32), theirs("average"), theirs("m"), theirs("v")
    for name, p in hat.named_parameters():
        path = family.tf_key(name)[: -len(SUFFIX)]
        assert rel_err(p, trained[name]) <= 1e-5, name
        assert rel_err(avg[name], convert(name, average[path])) <= 1e-5, name
        # the moments are sums of gradients, as exact as those are (test_steps.TOL_GRAD; 1.3e-5 and 1.9e-5 here)
        assert rel_err(m[name], convert(name, their_m[path])) <= 2e-4, name
        assert rel_err(v[name], convert(name, their_v[path])) <= 2e-4, name


def test_torch_adam_differs_only_where_gradients_are_tiny(tf):
    """PyTorch's Adam adds its epsilon after the bias correction: in Keras's form its epsilon is 1e-8, Keras's
    1e-7 / sqrt(1 - b2^t) (3e-6 at step 1). Updates differ where |gradient| is not far above that: in this replay
    (T = 1e-2) 19 of 4,424 weights move by more than 1 % of their tensor's largest update after two updates, the
    worst by 42 %; the rest agree to 1e-3 of it. At the authors' temperatures (1e-3 to 1e-8) the loss's gradients
    are 10 to 10^6 times larger, and the epsilons matter less still."""
    hat, _, _, _ = replay(tf, keras_adam=False)
    keras, _, _, _ = replay(tf, keras_adam=True)
    start = network(FIXTURES / "hat32.ckpt", "hat", 32).state_dict()
    moved = [((p - q).abs() / (q - start[n]).abs().max()).flatten()
             for (n, p), q in zip(hat.named_parameters(), keras.parameters())]
    moved = torch.cat(moved)
    assert (moved > 0.01).sum().item() < 0.01 * moved.numel()
    assert 1e-3 < moved.max().item() < 0.5
