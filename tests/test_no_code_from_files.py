"""No code from files: a checkpoint whose generator spec names a factory or a TorchScript file is loaded only when the
user names that generator or trusts the checkpoint (Python and CLI); hatebm-native specs always load."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from hatebm import checkpoint as ckpt
from hatebm.checkpoint import Checkpoint, GeneratorSpec
from hatebm.cli import main
from hatebm.config import GanConfig, ModelConfig
from hatebm.data import DataInfo
from hatebm.generators import generator_from_checkpoint, load_generator, native_spec
from hatebm.model import load_model
from hatebm.nets import build_generator

MODEL = ModelConfig(resolution=32, channels=1, gen_width=8, latent_dim=16, out_scale=1.0)


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """(run folder, marker path): a GAN checkpoint whose state.json records the factory `evil_gens:make`, a module
    that creates the marker file when imported and when called (and returns a fitting generator)."""
    marker = tmp_path / "marker"
    (tmp_path / "evil_gens.py").write_text(
        "from pathlib import Path\n"
        "from hatebm.config import ModelConfig\n"
        "from hatebm.nets import build_generator\n"
        f"MARKER = Path({str(marker)!r})\n"
        "MARKER.write_text('imported')\n"
        "def make():\n"
        "    MARKER.write_text('called')\n"
        "    return build_generator(ModelConfig(resolution=32, channels=1, gen_width=8, latent_dim=16, "
        "out_scale=1.0))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "evil_gens", raising=False)
    run = tmp_path / "run"
    g = build_generator(MODEL)
    ckpt.save(run, Checkpoint(3, GanConfig(model=MODEL), DataInfo(28, 28, 1), GeneratorSpec(native_spec(MODEL), (16,)),
                              None, {"generator": g.state_dict()}))
    (state_file,) = run.rglob(ckpt.STATE)  # plant the spec as a downloaded checkpoint would carry it
    state = json.loads(state_file.read_text())
    state["generator"]["spec"] = {"type": "factory", "factory": "evil_gens:make"}
    state_file.write_text(json.dumps(state))
    return run, marker


def test_factory_spec_is_refused_without_importing(planted):
    run, marker = planted
    for method in ("generator", "ddls"):
        with pytest.raises(ValueError) as err:
            load_model(run, "cpu", method)
        msg = str(err.value)
        assert "evil_gens:make" in msg and "trust_generator=True" in msg and "--trust-generator" in msg
        assert "generator='evil_gens:make'" in msg and "--generator evil_gens:make" in msg
    with pytest.raises(ValueError, match="evil_gens:make"):
        generator_from_checkpoint(ckpt.load(run), str(run))
    with pytest.raises(ValueError, match="pass trust=True to load_generator"):
        load_generator(str(run))
    assert not marker.exists()


def test_factory_spec_loads_when_trusted_or_named(planted):
    run, marker = planted
    model = load_model(run, "cpu", "generator", trust_generator=True)
    assert marker.read_text() == "called" and model.latent_shape == (16,)
    marker.unlink()
    assert load_model(run, "cpu", "generator", generator="evil_gens:make").step == 3
    assert marker.read_text() == "called"
    assert load_generator(str(run), trust=True).spec == {"type": "factory", "factory": "evil_gens:make"}


def test_factory_named_directly_as_a_joint_source_loads(planted, tmp_path):
    _, marker = planted
    save_file(build_generator(MODEL).state_dict(), str(tmp_path / "g.safetensors"))
    assert load_generator("evil_gens:make", weights=str(tmp_path / "g.safetensors")).latent_shape == (16,)
    assert marker.exists()  # the user named it: it runs


def test_cli_refuses_then_trusts(planted, tmp_path, capsys):
    run, marker = planted
    argv = ["sample", str(run), "--method", "generator", "--n", "2", "--device", "cpu", "--quiet",
            "--out", str(tmp_path / "s.npz")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "evil_gens:make" in err and "--trust-generator" in err and not marker.exists()
    assert not (tmp_path / "s.npz").exists()
    assert main([*argv, "--trust-generator"]) == 0
    assert (tmp_path / "s.npz").is_file() and marker.exists()


@pytest.fixture
def torchscript_run(tmp_path, monkeypatch):
    """(run folder, TorchScript path, calls): a checkpoint recording a TorchScript generator; torch.jit.load is
    spied on (calls lists the paths it was asked to load)."""
    g = build_generator(MODEL).eval()
    path = tmp_path / "planted.pt"
    torch.jit.save(torch.jit.trace(g, torch.randn(2, 16)), str(path))
    run = tmp_path / "ts_run"
    ckpt.save(run, Checkpoint(5, GanConfig(model=MODEL), DataInfo(28, 28, 1),
                              GeneratorSpec({"type": "torchscript", "path": str(path)}, (16,)), None,
                              {"generator": g.state_dict()}))
    calls, real = [], torch.jit.load

    def spy(f, *args, **kwargs):
        calls.append(str(f))
        return real(f, *args, **kwargs)

    monkeypatch.setattr(torch.jit, "load", spy)
    return run, path, calls


def test_torchscript_spec_is_refused_unless_named_or_trusted(torchscript_run):
    run, path, calls = torchscript_run
    with pytest.raises(ValueError) as err:
        load_model(run, "cpu", "generator")
    assert str(path) in str(err.value) and "--trust-generator" in str(err.value)
    with pytest.raises(ValueError, match=f"generator.source={path}"):
        load_generator(str(run))
    assert calls == []
    assert load_model(run, "cpu", "generator", generator=str(path)).step == 5
    assert load_model(run, "cpu", "generator", trust_generator=True).step == 5
    assert load_generator(str(run), trust=True).latent_shape == (16,)
    assert calls == [str(path)] * 3
    assert load_generator(str(path), latent_shape=[16]).spec["type"] == "torchscript"  # named as the source


def test_native_spec_always_loads(tmp_path):
    run = tmp_path / "native"
    ckpt.save(run, Checkpoint(1, GanConfig(model=MODEL), DataInfo(28, 28, 1), GeneratorSpec(native_spec(MODEL), (16,)),
                              None, {"generator": build_generator(MODEL).state_dict()}))
    assert load_model(run, "cpu", "generator").step == 1 and load_generator(str(run)).spec["type"] == "hatebm"


@pytest.mark.parametrize("command", [["sample", "r", "--out", "x.npz"], ["ood", "r", "--in", "a", "--ood", "b"],
                                     ["fid", "calc", "r", "--ref", "x"], ["proxy-fid", "calc", "r"],
                                     ["figures", "path", "r", "--out", "x.png"], ["compare", "g", "h"]])
def test_commands_that_load_runs_take_trust_generator(command):
    from hatebm.cli import build_parser

    assert build_parser().parse_args(command).trust_generator is False
    assert build_parser().parse_args([*command, "--trust-generator"]).trust_generator is True


def test_compare_threads_trust_to_every_load(monkeypatch):
    import hatebm.model
    from hatebm.eval.compare import paired_comparison

    seen = []

    def fake(path, device="auto", method="hat", hat=None, generator=None, trust_generator=False):
        seen.append((method, trust_generator))
        raise ValueError("stop")

    monkeypatch.setattr(hatebm.model, "load_model", fake)
    monkeypatch.setattr(ckpt, "resolve", Path)
    with pytest.raises(ValueError, match="stop"):
        paired_comparison("g", "h", device="cpu", trust_generator=True)
    assert seen == [("generator", True)]
