"""Generator sources of joint runs (hatebm checkpoints, TorchScript files, factories + safetensors) and the start-up
check of latent shape, output shape and output range."""
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from hatebm import checkpoint as ckpt
from hatebm.checkpoint import Checkpoint, GeneratorSpec
from hatebm.config import GanConfig, ModelConfig
from hatebm.data import DataInfo
from hatebm.generators import build_from_spec, check_generator, load_generator, native_spec
from hatebm.nets import build_generator

MODEL = ModelConfig(resolution=32, channels=1, gen_width=8, latent_dim=16, out_scale=1.0)


def trained_like() -> nn.Module:
    """A small SN-GAN generator whose weights differ from a fresh initialisation."""
    g = build_generator(MODEL)
    with torch.no_grad():
        for p in g.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return g.eval()


def same_function(a: nn.Module, b: nn.Module, shape=(16,)) -> bool:
    z = torch.randn(4, *shape)
    with torch.no_grad():
        return torch.allclose(a(z), b(z), atol=1e-6)


def test_hatebm_checkpoint_source(tmp_path):
    g = trained_like()
    ckpt.save(tmp_path / "run", Checkpoint(7, GanConfig(model=MODEL), DataInfo(28, 28, 1),
                                           GeneratorSpec(native_spec(MODEL), (16,)), None, {"generator": g.state_dict()}))
    loaded = load_generator(str(tmp_path / "run"))
    assert loaded.latent_shape == (16,) and loaded.spec["type"] == "hatebm" and not loaded.sphere
    assert same_function(loaded.module, g)
    rebuilt = build_from_spec(loaded.spec)  # the spec rebuilds the architecture, weights come separately
    rebuilt.load_state_dict(g.state_dict())
    assert same_function(rebuilt.eval(), g)
    with pytest.raises(ValueError, match="latent_shape"):
        load_generator(str(tmp_path / "run"), latent_shape=[8])


def save_traced(g: nn.Module, path) -> str:
    torch.jit.save(torch.jit.trace(g, torch.randn(2, 16)), str(path))
    return str(path)


def test_torchscript_source_needs_its_latent_shape(tmp_path):
    g = trained_like()
    path = save_traced(g, tmp_path / "g.pt")
    with pytest.raises(ValueError, match="set generator.latent_shape"):
        load_generator(path)  # a traced module keeps no latent_dim attribute
    loaded = load_generator(path, latent_shape=[16])
    assert loaded.latent_shape == (16,) and loaded.spec == {"type": "torchscript", "path": str(Path(path).resolve())}
    assert same_function(loaded.module, g)


def test_pickled_module_is_refused(tmp_path):
    path = tmp_path / "pickled.pt"
    torch.save(trained_like(), path)
    with pytest.raises(ValueError, match="not a TorchScript file"):
        load_generator(str(path))


def test_factory_source_with_safetensors_weights(tmp_path, monkeypatch):
    (tmp_path / "my_gens.py").write_text(
        "from hatebm.nets import sngan_generator\n"
        "def small():\n    return sngan_generator(32, width=8, out_channels=1, latent_dim=16, out_scale=1.0)\n"
        "def wide():\n    return sngan_generator(32, width=16, out_channels=1, latent_dim=16)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    g = trained_like()
    save_file(g.state_dict(), str(tmp_path / "g.safetensors"))
    loaded = load_generator("my_gens:small", weights=str(tmp_path / "g.safetensors"))
    assert loaded.latent_shape == (16,) and loaded.spec == {"type": "factory", "factory": "my_gens:small"}
    assert same_function(loaded.module, g)
    with pytest.raises(ValueError, match="do not fit the generator"):
        load_generator("my_gens:wide", weights=str(tmp_path / "g.safetensors"))
    with pytest.raises(ValueError, match="needs its weights"):
        load_generator("my_gens:small")
    with pytest.raises(ValueError, match="cannot import"):
        load_generator("my_gens:nope", weights=str(tmp_path / "g.safetensors"))
    with pytest.raises(FileNotFoundError, match="not found"):
        load_generator("no/such/dir")


def test_start_up_check_names_each_mismatch(tmp_path):
    path = save_traced(trained_like(), tmp_path / "g.pt")
    check_generator(load_generator(path, latent_shape=[16]), (1, 32, 32))  # fits
    with pytest.raises(ValueError, match=r"fails on latents of shape \[8\]"):
        check_generator(load_generator(path, latent_shape=[8]), (1, 32, 32))
    with pytest.raises(ValueError, match=r"images of shape \(1, 32, 32\), but the data are \(3, 32, 32\)"):
        check_generator(load_generator(path, latent_shape=[16]), (3, 32, 32))

    class ZeroOne(nn.Module):  # a generator of [0, 1] images: the wrong convention
        def __init__(self):
            super().__init__()
            self.g = trained_like()

        def forward(self, z):
            return (self.g(z) + 1) / 2

    path = save_traced(ZeroOne(), tmp_path / "g01.pt")
    with pytest.raises(ValueError, match=r"outputs values in \[0"):
        check_generator(load_generator(path, latent_shape=[16]), (1, 32, 32))
