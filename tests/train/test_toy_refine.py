"""The 2-D Table 1 pieces (benchmarks/toy_table1.py): an MLP SN-GAN pretrains on a toy truth, a joint Hat EBM on its
generator can start at its negated critic (step 0 is then DDLS's chains), and every method of the paired comparison
starts image i from the same Z0_i, so K = 0 gives the base points exactly."""
import json

import numpy as np
import pytest
import torch

from hatebm.config import override, preset
from hatebm.distributed import setup
from hatebm.model import load_model
from hatebm.train import train
from hatebm.train.joint import Joint


@pytest.fixture(scope="module")
def toy_gan(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy") / "gan"
    train(override(preset("gan_toy_cpu"), ["iters=40", "eval_samples=50", "log_every=10"]), out, progress=False)
    return out


def test_toy_gan_pretrains_its_critic_and_samples_points(toy_gan):
    stats = [json.loads(line) for line in (toy_gan / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats] == [10, 20, 30, 40]
    assert stats[-1]["d_real"] > stats[-1]["d_fake"]  # the critic separates real from generated points
    assert np.load(toy_gan / "samples.npz")["points"].shape == (50, 2)
    assert (toy_gan / "images" / "step_00000040_samples.png").exists()


def refine(gan, *extra):
    return override(preset("toy_refine_cpu"), [f"generator.source={gan}", "iters=2", "eval_samples=0", *extra])


def test_hat_init_on_a_toy_gan_is_minus_d_and_step_0_is_ddls(toy_gan):
    ddls = load_model(toy_gan, "cpu", "ddls")
    settings = ["temperature=1", "z_prior=true", "sampler.eps_y=0", "sampler.eps_z=0.1"]
    run = Joint(refine(toy_gan, f"hat_init={toy_gan}", *settings), setup("cpu"))
    x = torch.randn(100, 2) * 2
    with torch.no_grad():
        torch.testing.assert_close(run.hat(x), ddls.ebm.hat(x), rtol=1e-5, atol=1e-5)  # -D exactly (biases too)
    hat = run.model().draw(20, steps=10, progress=False, seed=3)
    base = ddls.draw(20, steps=10, progress=False, seed=3)
    np.testing.assert_allclose(hat, base, atol=2e-3)  # the same chains, up to float rounding through ReLU kinks
    with pytest.raises(ValueError, match="hat_init=.* mlp_act relu.* model.mlp_act to match"):
        Joint(refine(toy_gan, f"hat_init={toy_gan}", "model.mlp_act=silu"), setup("cpu"))


def test_paired_methods_start_from_the_same_latents_so_k0_is_the_base(toy_gan, tmp_path):
    hat_run = tmp_path / "hat"
    train(refine(toy_gan), hat_run, progress=False)
    base = load_model(toy_gan, "cpu", "generator").draw(30, progress=False, seed=5)
    for model in (load_model(toy_gan, "cpu", "ddls"), load_model(hat_run, "cpu")):
        np.testing.assert_array_equal(model.draw(30, steps=0, progress=False, seed=5), base)
        assert not np.array_equal(model.draw(30, steps=3, progress=False, seed=5), base)
