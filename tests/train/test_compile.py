"""``compile=true``: the hat network compiled (inductor) for the chains and the updates agrees with eager; so do the
samples of ``hatebm sample --compile``."""
import numpy as np
import torch
from torch._dynamo.eval_frame import OptimizedModule

import hatebm
from hatebm.cli import main
from hatebm.config import override, preset
from hatebm.devices import compiled
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
    assert isinstance(run.ebm.hat, OptimizedModule) and run.ebm.hat._orig_mod is run.hat
    assert run.hat_train is run.ebm.hat  # one process: the update calls the same compiled module
    assert run.nets["hat"] is run.hat  # checkpoints hold the plain module's weights
    assert not isinstance(Tandem(override(cfg, ["compile=false"]), setup("cpu")).ebm.hat, OptimizedModule)


def test_sample_compile_draws_the_eager_samples(tiny_npz, tmp_path, capsys):
    run = tmp_path / "run"
    hatebm.train(override(preset("tiny"), ["data.name=npz", f"data.root={tiny_npz}", "eval_samples=0"]), run,
                 progress=False)
    model = load_model(run, "cpu", compile=True)
    assert isinstance(model.ebm.hat, OptimizedModule)
    assert not isinstance(load_model(run, "cpu").ebm.hat, OptimizedModule)
    sets = []
    for extra in ([], ["--compile"]):
        out = tmp_path / f"s{len(extra)}.npz"
        assert main(["sample", str(run), "-n", "4", "--steps", "3", "--quiet", "--out", str(out), *extra]) == 0
        sets.append(np.load(out)["images"].astype(int))
    assert np.abs(sets[0] - sets[1]).max() <= 1  # uint8 rounding of float32 states within tolerance of each other
    assert "step 4" in capsys.readouterr().out
