"""``compile=true``: the hat network compiled (inductor) for the chains and the updates agrees with eager; so do the
samples of ``hatebm sample --compile``; a run compiles one graph per use of the hat, whatever the batch sizes, and sets
no process-wide compiler option."""
import importlib

import numpy as np
import torch
import torch._dynamo
from torch._dynamo.utils import counters

import hatebm
from hatebm.cli import main
from hatebm.config import override, preset
from hatebm import devices
from hatebm.devices import Compiled, compiled
from hatebm.distributed import setup
from hatebm.model import load_model
from hatebm.nets import sngan_hat
from hatebm.train.tandem import Tandem


def test_compiled_hat_gives_eager_energies_and_gradients():
    torch.manual_seed(0)
    hat = sngan_hat(32, 8, 1)
    fast = compiled(hat)
    x = torch.randn(4, 1, 32, 32, requires_grad=True)
    grads = []
    for net in (hat, fast):
        energy = net(x)
        grads.append((energy, *torch.autograd.grad(energy.sum(), (x, *hat.parameters()))))
    for eager, comp in zip(*grads):
        assert torch.allclose(eager, comp, rtol=1e-4, atol=1e-6 * eager.abs().max().item())


def test_compile_puts_the_compiled_hat_where_chains_and_updates_call_it(tiny_npz):
    cfg = override(preset("tiny"), ["data.name=npz", f"data.root={tiny_npz}", "compile=true"])
    run = Tandem(cfg, setup("cpu"))
    assert isinstance(run.ebm.hat, Compiled) and run.ebm.hat.net is run.hat
    assert run.hat_train is run.ebm.hat  # one process: the update calls the same compiled module
    assert run.nets["hat"] is run.hat  # checkpoints hold the plain module's weights
    assert not isinstance(Tandem(override(cfg, ["compile=false"]), setup("cpu")).ebm.hat, Compiled)


def test_sample_compile_draws_the_eager_samples(tiny_npz, tmp_path, capsys):
    run = tmp_path / "run"
    hatebm.train(override(preset("tiny"), ["data.name=npz", f"data.root={tiny_npz}", "eval_samples=0", "amp=false"]),
                 run, progress=False)  # fp32 chains: bf16 kernels of eager and inductor round differently
    model = load_model(run, "cpu", compile=True)
    assert isinstance(model.ebm.hat, Compiled)
    assert not isinstance(load_model(run, "cpu").ebm.hat, Compiled)
    sets = []
    for extra in ([], ["--compile"]):
        out = tmp_path / f"s{len(extra)}.npz"
        assert main(["sample", str(run), "-n", "4", "--steps", "3", "--quiet", "--out", str(out), *extra]) == 0
        sets.append(np.load(out)["images"].astype(int))
    assert np.abs(sets[0] - sets[1]).max() <= 1  # uint8 rounding of float32 states within tolerance of each other
    assert "step 4" in capsys.readouterr().out


def test_one_graph_per_use_whatever_the_batch_sizes(tiny_npz, tmp_path, monkeypatch):
    """Chains (input gradients), updates (parameter gradients) and sampling each compile once (dynamo's counters,
    with the eager backend for speed): figures of 64 images, samples of 10 and the draws below at three more batch
    sizes add no graph. Compiler options stay as they were outside the compiled calls."""
    monkeypatch.setattr(devices, "compiled", lambda net: Compiled(net, backend="eager"))
    monkeypatch.setattr(importlib.import_module("hatebm.train.hatrun"), "compiled",
                        lambda net: Compiled(net, backend="eager"))
    torch._dynamo.reset()
    counters.clear()
    cfg = override(preset("tiny"), ["data.name=npz", f"data.root={tiny_npz}", "compile=true", "iters=3",
                                    "eval_samples=10", "image_every=2", "amp=false"])
    model = hatebm.train(cfg, tmp_path / "run", progress=False)
    graphs = counters["stats"]["unique_graphs"]
    assert graphs <= 3
    for batch in (3, 5, 7):
        model.draw(batch, steps=2, batch_size=batch, progress=False)
    assert counters["stats"]["unique_graphs"] == graphs
    assert torch._dynamo.config.suppress_errors is False
