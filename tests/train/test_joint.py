"""Joint Hat EBM training (§3.2) on a frozen generator: frozen weights, CLI, resume, sampling mode, start-up errors."""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from hatebm.cli import main
from hatebm.config import override, preset, to_dict
from hatebm.config import JointConfig
from hatebm.model import load_model
from hatebm.train import train
from hatebm.train.joint import Joint
from hatebm.distributed import setup


@pytest.fixture
def gan_run(tiny_npz, tmp_path):
    """A (barely) pretrained SN-GAN run folder: the generator source of the joint runs below."""
    out = tmp_path / "gan"
    assert main(["pretrain", "gan", "gan_tiny", "data.name=npz", f"data.root={tiny_npz}", "iters=1", "eval_samples=0",
                 "--out", str(out), "--quiet"]) == 0
    return out


def joint(npz, source, *extra):
    return override(preset("joint_tiny"), ["data.name=npz", f"data.root={npz}", f"generator.source={source}",
                                           "eval_samples=10", *extra])


def test_training_never_touches_the_frozen_generator(tiny_npz, gan_run):
    run = Joint(joint(tiny_npz, gan_run), setup("cpu"))
    gen_before = {k: v.clone() for k, v in run.gen.state_dict().items()}
    hat_before = {k: v.clone() for k, v in run.hat.state_dict().items()}
    z0 = run.ebm.latent(8)
    res = run.ebm.sample(z0, "joint", run.cfg.sampler)
    for _ in range(3):
        run.train_step()
    assert all(torch.equal(v, gen_before[k]) for k, v in run.gen.state_dict().items())
    assert all(p.grad is None and not p.requires_grad for p in run.gen.parameters())
    assert any(not torch.equal(v, hat_before[k]) for k, v in run.hat.state_dict().items())  # the hat did learn
    assert not torch.equal(res.z, z0) and res.y.abs().max() > 0  # both Y and Z were sampled


def test_cli_trains_samples_with_the_joint_sampler_and_resumes_exactly(tiny_npz, gan_run, tmp_path):
    out = tmp_path / "full"
    assert main(["train", "joint_tiny", "data.name=npz", f"data.root={tiny_npz}", f"generator.source={gan_run}",
                 "y_prior_std=0.1", "eval_samples=10", "--out", str(out), "--quiet"]) == 0
    stats = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats] == [1, 2, 3, 4]
    assert {"energy_diff", "y_norm", "z_norm", "drift_z", "it_per_s"} <= set(stats[-1])
    assert np.load(out / "samples.npz")["images"].shape == (10, 28, 28, 1)
    assert (out / "images" / "step_00000004_path.png").is_file()
    state = json.loads((out / "checkpoints" / "step_00000004" / "state.json").read_text())
    assert state["run"] == "joint" and state["generator"]["latent_shape"] == [16]

    model = load_model(out)  # rebuilt from the checkpoint alone, with the run's sampler and priors
    assert model.chains == model.config.chains and isinstance(model.config, JointConfig)
    assert model.ebm.y_prior_std == 0.1 and model.sampler.eps_z == 5e-3
    assert model.sampler.steps == 3 and model.latent_shape == (16,)
    npz = tmp_path / "s.npz"
    assert main(["sample", str(out), "--n", "3", "--steps", "2", "--out", str(npz)]) == 0
    assert np.load(npz)["images"].shape == (3, 28, 28, 1)

    part = tmp_path / "part"
    train(joint(tiny_npz, gan_run, "y_prior_std=0.1", "iters=2"), part, progress=False)
    train(joint(tiny_npz, gan_run, "y_prior_std=0.1"), part, resume=True, progress=False)
    a = load_file(str(out / "checkpoints" / "step_00000004" / "tensors.safetensors"))
    b = load_file(str(part / "checkpoints" / "step_00000004" / "tensors.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    strip = lambda p: [{k: v for k, v in json.loads(l).items() if k != "it_per_s"}  # noqa: E731
                       for l in (p / "stats.jsonl").read_text().splitlines()]
    assert strip(out) == strip(part)


def test_torchscript_generator_end_to_end(tiny_npz, gan_run, tmp_path):
    gen = load_model(gan_run, method="generator").generator
    path = tmp_path / "g.pt"
    torch.jit.save(torch.jit.trace(gen, torch.randn(2, 16)), str(path))
    out = tmp_path / "ts"
    train(joint(tiny_npz, path, "generator.latent_shape=16", "iters=2", "eval_samples=0"), out, progress=False)
    with pytest.raises(ValueError, match=f"only if you trust.*{path}"):
        load_model(out)  # the run records a TorchScript path: loaded only when named or trusted
    model = load_model(out, generator=str(path))
    assert isinstance(model.config, JointConfig) and model.latent_shape == (16,)
    assert torch.equal(load_model(out, trust_generator=True).generator(torch.ones(1, 16)), gen(torch.ones(1, 16)))
    z = torch.randn(2, 16)
    assert torch.allclose(model.generator(z), gen(z), atol=1e-6)


def test_start_up_errors_are_one_clear_line(tiny_npz, gan_run, tmp_path, capsys):
    args = ["train", "joint_tiny", "data.name=npz", f"data.root={tiny_npz}", "--out", str(tmp_path / "x")]
    assert main(args) == 2
    assert "needs a frozen generator: set generator.source" in capsys.readouterr().err
    assert main(args[:4] + [f"generator.source={gan_run}", "model.channels=3"] + args[4:]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "to images of shape (1, 32, 32), but the data are (3, 32, 32)" in err[0]
    assert main(["train", "tiny", f"generator.source={gan_run}", "--dry-run"]) == 2
    assert "joint runs only" in capsys.readouterr().err


def test_joint_presets_follow_the_reference_settings():
    r = preset("cifar10_refine")
    assert (r.KIND, r.iters, r.lr_hat, r.temperature, r.sampler.steps, r.eval_steps) == ("joint", 25_000, 1e-5,
                                                                                           1e-3, 250, 350)
    assert (r.sampler.eps_y, r.sampler.eps_z, r.sampler.max_drift_y, r.y_prior_std, r.z_prior) == (1e-4, 5e-3, 2.5,
                                                                                                   None, False)
    a = preset("cifar10_retrofit")
    assert (a.y_prior_std, a.data.noise, a.lr_hat, a.sampler.eps_y, a.sampler.eps_z, a.sampler.steps) == (
        0.1, 1e-2, 1e-4, 5e-4, 1e-3, 100)
    assert preset("celeba64_refine").temperature == 1e-6
    y0, y = to_dict(preset("fashion_mnist_refine_cpu")), to_dict(preset("fashion_mnist_refine_y_cpu"))
    assert (y0["sampler"].pop("eps_y"), y["sampler"].pop("eps_y")) == (0.0, 5e-4) and y0 == y  # only Y differs


def test_hat_init_starts_at_the_negated_discriminator_so_step_0_is_ddls(tiny_npz, gan_run):
    """Beyond the paper: with hat_init, H = -D + const, and the untrained model with Y held at 0, T = 1 and the Z
    prior samples as DDLS does from the same seeds."""
    ddls = load_model(gan_run, "cpu", "ddls")
    settings = ["temperature=1", "z_prior=true", "sampler.eps_y=0", "sampler.eps_z=0.1", "sampler.max_drift_y=none"]
    run = Joint(joint(tiny_npz, gan_run, f"hat_init={gan_run}", *settings), setup("cpu"))
    x = torch.randn(6, 1, 32, 32)
    critic = ddls.ebm.hat(x)  # -D(x)
    with torch.no_grad():
        shift = run.hat(x) - critic
    assert torch.allclose(shift, shift[0].expand(6), atol=1e-4) and shift.std() < 1e-4  # -D up to D's bias
    hat = run.model().draw(5, steps=4, progress=False, seed=3)
    base = ddls.draw(5, steps=4, progress=False, seed=3)
    assert np.abs(hat.astype(int) - base.astype(int)).max() <= 1  # the same chains, up to float rounding
    with pytest.raises(ValueError, match="hat_init=.* width 8 .* model.hat_width"):
        Joint(joint(tiny_npz, gan_run, f"hat_init={gan_run}", "model.hat_width=16"), setup("cpu"))


def test_joint_runs_train_and_sample_their_chains_in_one_precision(tiny_npz, gan_run):
    """The training negatives and the evaluation samples both run the hat in fp32 (joint runs default to amp=false)."""
    run = Joint(joint(tiny_npz, gan_run), setup("cpu"))
    seen = []
    run.hat.register_forward_hook(lambda m, inputs, out: seen.append(out.dtype))
    run.negatives()
    training = set(seen)
    seen.clear()
    run.model().draw(2, steps=2, progress=False, seed=0)
    assert training == set(seen) == {torch.float32}
    assert not preset("fashion_mnist_refine_cpu").amp and not preset("cifar10_refine").amp
