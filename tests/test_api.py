"""The Python API: hatebm.train with a user's own hat network, generator and data; resume; load; sample."""
import json
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import hatebm
from hatebm.cli import main
from hatebm.config import override, preset

MODULE = '''
import torch
from torch import nn


class Hat(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.SiLU(), nn.Flatten(), nn.Linear(4 * 16 * 16, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)


class Gen(nn.Module):
    latent_dim = 8

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 32 * 32)

    def forward(self, z):
        return torch.tanh(self.fc(z)).view(-1, 1, 32, 32)


def hat():
    return Hat()


def gen():
    return Gen()
'''


@pytest.fixture
def nets(tmp_path, monkeypatch):
    """The module `my_nets` (a hat network and a generator of the user's own), importable for the CLI too."""
    (tmp_path / "my_nets.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    module = importlib.import_module("my_nets")
    yield module
    sys.modules.pop("my_nets", None)


def data() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(40, 1, 32, 32, generator=g) * 2 - 1


def cfg(*extra: str):
    return override(preset("tiny"), ["amp=false", "eval_samples=6", *extra])


def fresh(nets) -> dict[str, nn.Module]:
    """The user's networks, initialised from one seed (their initialisation happens before hatebm seeds the run)."""
    torch.manual_seed(0)
    return {"hat": nets.hat(), "generator": nets.gen()}


def test_own_networks_and_data_train_checkpoint_resume_exactly_and_sample(nets, tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    model = hatebm.train(cfg(), full, progress=False, data=data(), **fresh(nets))
    assert model.step == 4 and model.latent_shape == (8,) and isinstance(model.ebm.hat, nets.Hat)
    hatebm.train(cfg("iters=2"), part, progress=False, data=data(), **fresh(nets))
    hatebm.train(cfg(), part, resume=True, progress=False, hat=nets.hat(), generator=nets.gen(), data=data())
    a = load_file(str(full / "checkpoints" / "step_00000004" / "tensors.safetensors"))
    b = load_file(str(part / "checkpoints" / "step_00000004" / "tensors.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert np.array_equal(np.load(full / "samples.npz")["images"], np.load(part / "samples.npz")["images"])
    state = json.loads((full / "checkpoints" / "step_00000004" / "state.json").read_text())
    assert state["hat"] == {"type": "custom", "class": "my_nets.Hat"}
    assert state["generator"]["spec"] == {"type": "custom", "class": "my_nets.Gen"}

    loaded = hatebm.load_model(full, hat=nets.hat(), generator=nets.gen())
    torch.manual_seed(1)
    x = loaded.draw(5, progress=False)
    torch.manual_seed(1)
    assert x.shape == (5, 32, 32, 1) and np.array_equal(x, model.draw(5, progress=False))
    with pytest.raises(ValueError, match=r"user-defined hat network my_nets.Hat: pass it again"):
        hatebm.load_model(full, generator=nets.gen())
    with pytest.raises(ValueError, match=r"user-defined my_nets.Gen: pass it again"):
        hatebm.load_model(full, hat=nets.hat())
    with pytest.raises(ValueError, match="other networks than the run's"):
        hatebm.train(cfg("iters=6"), full, resume=True, progress=False, data=data())


def test_cli_samples_and_scores_a_run_of_own_networks_through_factories(nets, tmp_path, capsys):
    out = tmp_path / "run"
    hatebm.train(cfg("eval_samples=0"), out, progress=False, hat=nets.hat(), generator=nets.gen(), data=data())
    npz = tmp_path / "s.npz"
    assert main(["sample", str(out), "--n", "3", "--hat", "my_nets:hat", "--generator", "my_nets:gen",
                 "--out", str(npz), "--quiet"]) == 0
    assert np.load(npz)["images"].shape == (3, 32, 32, 1)
    assert main(["sample", str(out), "--n", "3", "--out", str(npz)]) == 2
    assert "--generator MODULE:FUNCTION" in capsys.readouterr().err


def test_joint_run_on_a_generator_module(nets, tmp_path):
    joint = override(preset("joint_tiny"), ["amp=false", "eval_samples=4"])
    model = hatebm.train(joint, tmp_path / "j", progress=False, generator=nets.gen(), data=data())
    assert isinstance(model.config, hatebm.JointConfig) and model.draw(2, progress=False).shape == (2, 32, 32, 1)
    assert all(not p.requires_grad for p in model.generator.parameters())  # frozen (§3.2)
    with pytest.raises(ValueError, match="needs a frozen generator"):
        hatebm.train(joint, tmp_path / "k", progress=False, data=data())


def test_bad_user_data_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"data tensors are \(3, 8, 8\)"):
        hatebm.train(cfg(), tmp_path / "x", progress=False, data=torch.zeros(20, 3, 8, 8))
    with pytest.raises(ValueError, match="data must be a float tensor"):
        hatebm.train(cfg(), tmp_path / "y", progress=False, data=[1, 2, 3])


def test_dataset_and_uint8_data_are_accepted(tmp_path):
    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return 24

        def __getitem__(self, i):
            return data()[i], i % 3

    model = hatebm.train(cfg("iters=1", "eval_samples=0"), tmp_path / "d", progress=False, data=Pairs())
    assert model.info.height == 32
    images = np.zeros((24, 28, 28, 1), np.uint8)
    model = hatebm.train(cfg("iters=1", "eval_samples=0"), tmp_path / "u", progress=False, data=images)
    assert (model.info.height, model.info.channels) == (28, 1)  # padded to 32 like Fashion-MNIST, cropped back


def test_hat_and_generator_need_a_hat_run(tmp_path):
    with pytest.raises(ValueError, match="apply to tandem and joint runs"):
        hatebm.train(preset("gan_tiny"), tmp_path / "g", progress=False, hat=nn.Linear(2, 1))
