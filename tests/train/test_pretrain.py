"""Pretraining the base generators: SN-GAN with hinge loss (+ DDLS sampling from it) and the autoencoder."""
import json

import numpy as np
import torch
from safetensors.torch import load_file

from hatebm.cli import main
from hatebm.config import AutoencoderConfig, GanConfig, load_config, override, preset, preset_names, to_dict
from hatebm.train import train
from hatebm.train.autoencoder import AutoencoderRun
from hatebm.distributed import setup


def data(npz):
    return ["data.name=npz", f"data.root={npz}"]


def test_gan_cli_run_and_every_sampling_method(tiny_npz, tmp_path, capsys):
    out = tmp_path / "gan"
    assert main(["pretrain", "gan", "gan_tiny", *data(tiny_npz), "--out", str(out), "--quiet"]) == 0
    stats = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats] == [1, 2, 3, 4] and {"d_loss", "g_loss", "d_real", "d_fake"} <= set(stats[-1])
    tensors = load_file(str(out / "checkpoints" / "step_00000004" / "tensors.safetensors"))
    assert any(k.startswith("discriminator.") and k.endswith("_u") for k in tensors)  # spectral-norm state saved
    assert np.load(out / "samples.npz")["images"].shape == (16, 28, 28, 1)
    for method in ("ddls", "generator"):
        npz = tmp_path / f"{method}.npz"
        assert main(["sample", str(out), "--method", method, "--n", "3", "--steps", "2", "--out", str(npz)]) == 0
        assert np.load(npz)["images"].shape == (3, 28, 28, 1)
    capsys.readouterr()
    assert main(["sample", str(out), "--out", str(tmp_path / "h.npz")]) == 2
    assert "not a Hat EBM: sample it with method 'generator' or 'ddls'" in capsys.readouterr().err


def test_gan_resume_equals_uninterrupted_run(tiny_npz, tmp_path):
    def cfg(*extra):
        return override(preset("gan_tiny"), [*data(tiny_npz), "eval_samples=0", *extra])

    full, part = tmp_path / "full", tmp_path / "part"
    train(cfg(), full, progress=False)
    train(cfg("iters=2"), part, progress=False)
    train(cfg(), part, resume=True, progress=False)
    a = load_file(str(full / "checkpoints" / "step_00000004" / "tensors.safetensors"))
    b = load_file(str(part / "checkpoints" / "step_00000004" / "tensors.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_autoencoder_loss_goes_down_on_a_tiny_dataset(tiny_npz):
    cfg = override(preset("ae_tiny"), [*data(tiny_npz), "lr_gen=1e-3", "lr_enc=1e-3"])
    run = AutoencoderRun(cfg, setup("cpu"))
    losses = [run.train_step()["mse"] for _ in range(30)]
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses


def test_autoencoder_cli_writes_sphere_decodes_and_kind_must_match(tiny_npz, tmp_path, capsys):
    out = tmp_path / "ae"
    assert main(["pretrain", "ae", "ae_tiny", *data(tiny_npz), "--out", str(out), "--quiet"]) == 0
    assert np.load(out / "samples.npz")["images"].shape == (16, 28, 28, 1)
    assert (out / "images" / "step_00000004_recon.png").is_file()
    assert main(["pretrain", "gan", "ae_tiny", "--dry-run"]) == 2
    assert "run it with `hatebm pretrain ae`" in capsys.readouterr().err


def test_pretrain_presets_round_trip_and_paper_values(tmp_path):
    for name in preset_names((GanConfig, AutoencoderConfig)):
        cfg = preset(name)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(to_dict(cfg)))
        assert load_config(path) == cfg
    ae = preset("ae_cifar10")
    assert (ae.KIND, ae.model.latent_shape, ae.latent_noise, ae.loss_weight, ae.iters) == ("autoencoder", [1, 16, 16], 2e-2,
                                                                                          1000.0, 50_000)
    gan = preset("gan_cifar10")
    assert (gan.n_dis, gan.lr_gen, gan.betas, gan.model.out_scale, gan.batch_size) == (5, 2e-4, [0.0, 0.9], 1.0, 64)
