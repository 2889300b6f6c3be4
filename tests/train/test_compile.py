"""``compile=true``: the hat network compiled (inductor) for the chains and the updates agrees with eager."""
import torch
from torch._dynamo.eval_frame import OptimizedModule

from hatebm.config import override, preset
from hatebm.distributed import setup
from hatebm.nets import sngan_hat
from hatebm.train.runtime import compiled
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
