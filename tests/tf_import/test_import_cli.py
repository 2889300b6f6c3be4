"""`hatebm import-tf` end to end on the TF fixtures: the imported runs sample, score OOD, resume and serve as a joint
run's generator from the CLI; bad files end in one line naming the file and the key."""
import errno
import json

import numpy as np
import pytest
import torch
from tfref import FIXTURES
from tfwriter import write_checkpoint

from hatebm import checkpoint as ckpt
from hatebm import load_model, tensorfile
from hatebm.cli import main
from hatebm.tf_import import TFCheckpoint, import_tf
from hatebm.tf_import.layout import SUFFIX

TINY = ["batch_size=4", "iters=2", "sampler.steps=2", "eval_steps=2", "eval_samples=0", "log_every=1",
        "image_every=100", "ckpt_every=1", "data.workers=0"]


@pytest.fixture
def images(tmp_path):
    """Two small uint8 RGB sets at 32 px (the fixtures' resolution)."""
    rng = np.random.default_rng(0)
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    np.savez(a, images=rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8))
    np.savez(b, images=np.full((12, 32, 32, 3), 128, dtype=np.uint8))
    return a, b


def run(*argv: str) -> int:
    return main([str(a) for a in argv])


def test_synthesis_import_samples_scores_and_resumes(tmp_path, images, capsys):
    data, other = images
    out = tmp_path / "synth"
    assert run("import-tf", "cifar10_synth", "--out", out, "--ebm", FIXTURES / "hat32.ckpt", "--gen",
               FIXTURES / "gen32.ckpt", "--bank", FIXTURES / "persistent.npy", "--bank-z",
               FIXTURES / "persistent_z.npy",
               "data.name=npz", f"data.root={data}", *TINY) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["run"] == "tandem" and config["model"]["hat_width"] == 8 and config["bank_size"] == 4
    saved = ckpt.load(out)
    np.testing.assert_array_equal(saved.ranks[0].bank[0].numpy(),
                                  np.load(FIXTURES / "persistent.npy").transpose(0, 3, 1, 2))
    assert run("sample", out, "--n", 3, "--steps", 2, "--out", tmp_path / "s.npz", "--quiet") == 0
    assert np.load(tmp_path / "s.npz")["images"].shape == (3, 32, 32, 3)
    assert run("ood", out, "--in", data, "--ood", other, "--quiet", "--out", tmp_path / "scores.npz",
               "--metrics", tmp_path / "m.json") == 0
    assert "auroc" in (tmp_path / "m.json").read_text()
    assert run("train", out / "config.json", "--out", out, "--resume", "--quiet") == 0
    assert ckpt.load(out).step == 2


def test_synthesis_import_without_bank_resumes_with_a_fresh_bank(tmp_path, images, capsys):
    data, _ = images
    out = tmp_path / "synth"
    assert run("import-tf", "cifar10_synth", "--out", out, "--ebm",
               FIXTURES / "hat32.ckpt", "--gen", FIXTURES / "gen32.ckpt", "data.name=npz", f"data.root={data}",
               "bank_size=8", *TINY) == 0
    assert ckpt.load(out).ranks[0].bank is None
    assert run("figures", "path", out, "--out", tmp_path / "path.png") == 0
    with pytest.warns(UserWarning, match="the bank starts afresh from the generator"):
        assert run("train", out / "config.json", "--out", out, "--resume", "--quiet") == 0
    assert ckpt.load(out).ranks[0].bank[0].shape == (8, 3, 32, 32)


def test_joint_import_and_a_released_generator_refined(tmp_path, images, capsys):
    data, _ = images
    joint = tmp_path / "refine"
    assert run("import-tf", "cifar10_refine", "--out", joint, "--ebm", FIXTURES / "hat32.ckpt", "--gen",
               FIXTURES / "gen32.ckpt", "data.name=npz", f"data.root={data}", *TINY) == 0
    model = load_model(joint, "cpu")
    assert model.sampler.order == "zy" and model.sampler.steps == 2 and model.config.generator.source == str(
        (joint / "generator").resolve())
    assert run("train", joint / "config.json", "--out", joint, "--resume", "--quiet") == 0
    gan = tmp_path / "gan"
    assert run("import-tf", "cifar10_refine", "--out", gan, "--gen", FIXTURES / "gen32.ckpt") == 0
    assert run("sample", gan, "--method", "generator", "--n", 2, "--out", tmp_path / "g.npz", "--quiet") == 0
    assert run("sample", gan, "--method", "ddls", "--n", 2, "--out", tmp_path / "d.npz", "--quiet") == 2
    assert "holds a generator without its discriminator" in capsys.readouterr().err
    assert run("train", "cifar10_refine", f"generator.source={gan}", "model.hat_width=8", "data.name=npz",
               f"data.root={data}", *TINY, "--out", tmp_path / "hat", "--quiet") == 0
    assert ckpt.load(tmp_path / "hat").step == 2


def test_autoencoder_import_keeps_encoder_and_sphere(tmp_path):
    assert run("import-tf", "cifar10_ae", "--out", tmp_path / "ae", "--gen", FIXTURES / "dec32.ckpt", "--inf",
               FIXTURES / "enc32.ckpt") == 0
    saved = ckpt.load(tmp_path / "ae")
    assert saved.config.KIND == "autoencoder" and saved.generator.sphere and "encoder" in saved.nets
    assert saved.generator.latent_shape == (1, 16, 16)


def one_line_error(capsys, code: int) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_not_a_checkpoint(tmp_path, capsys):
    (tmp_path / "x.ckpt.index").write_text("hello")
    code = run("import-tf", "cifar10_synth", "--out", tmp_path / "r", "--ebm", tmp_path / "x.ckpt", "--gen",
               FIXTURES / "gen32.ckpt")
    assert "x.ckpt.index is not a readable TensorFlow checkpoint index" in one_line_error(capsys, code)
    assert not (tmp_path / "r").exists()


def test_missing_file(tmp_path, capsys):
    code = run("import-tf", "cifar10_synth", "--out", tmp_path / "r", "--ebm", tmp_path / "ebm_1000.ckpt", "--gen",
               FIXTURES / "gen32.ckpt")
    assert "--ebm: no TensorFlow checkpoint at" in one_line_error(capsys, code)


def test_network_of_another_experiment(tmp_path, capsys):
    code = run("import-tf", "cifar10_synth", "--out", tmp_path / "r", "--ebm", FIXTURES / "hat64.ckpt", "--gen",
               FIXTURES / "gen32.ckpt")
    err = one_line_error(capsys, code)
    assert "hat64.ckpt lacks 'lin_5/kernel/.ATTRIBUTES/VARIABLE_VALUE'" in err and "cifar10_synth (32 px)" in err


def test_variable_of_unexpected_shape_and_missing_variable(tmp_path, capsys):
    hat = TFCheckpoint(FIXTURES / "hat32.ckpt")
    arrays = {k[: -len(SUFFIX)]: hat.read(k) for k in hat.keys() if k.endswith(SUFFIX)}
    arrays["block3/conv_1/kernel"] = np.zeros((3, 3, 8, 9), np.float32)
    write_checkpoint(tmp_path / "bad.ckpt", arrays)
    code = run("import-tf", "cifar10_synth", "--out", tmp_path / "r", "--ebm", tmp_path / "bad.ckpt", "--gen",
               FIXTURES / "gen32.ckpt")
    err = one_line_error(capsys, code)
    assert "bad.ckpt: the variable 'block3/conv_1/kernel/.ATTRIBUTES/VARIABLE_VALUE' has shape [3, 3, 8, 9]" in err
    del arrays["block3/conv_1/kernel"]
    write_checkpoint(tmp_path / "short.ckpt", arrays)
    code = run("import-tf", "cifar10_synth", "--out", tmp_path / "r", "--ebm", tmp_path / "short.ckpt", "--gen",
               FIXTURES / "gen32.ckpt")
    assert "short.ckpt lacks the variable 'block3/conv_1/kernel/.ATTRIBUTES/VARIABLE_VALUE'" in one_line_error(
        capsys, code)


def copy_hat(tmp_path, damage=None):
    for suffix in (".index", ".data-00000-of-00001"):
        (tmp_path / f"hat.ckpt{suffix}").write_bytes((FIXTURES / f"hat32.ckpt{suffix}").read_bytes())
    data = tmp_path / "hat.ckpt.data-00000-of-00001"
    if damage == "flip":
        raw = bytearray(data.read_bytes())
        raw[100] ^= 1
        data.write_bytes(bytes(raw))
    elif damage == "missing":
        data.unlink()
    return tmp_path / "hat.ckpt"


@pytest.mark.parametrize("experiment", ["cifar10_synth", "cifar10_refine"])
@pytest.mark.parametrize("damage,message", [("flip", "fails its checksum"),
                                            ("missing", "hat.ckpt.data-00000-of-00001 is missing")])
def test_damaged_data_leaves_nothing_behind(tmp_path, capsys, experiment, damage, message):
    """A checksum found wrong while the checkpoint is written, or a data file missing (found before): one line, and
    neither the run folder nor a joint run's generator run is left."""
    hat = copy_hat(tmp_path, damage)
    code = run("import-tf", experiment, "--out", tmp_path / "r", "--ebm", hat, "--gen", FIXTURES / "gen32.ckpt")
    assert message in one_line_error(capsys, code)
    assert not (tmp_path / "r").exists()


def test_disk_full_while_importing(tmp_path, capsys, monkeypatch):
    def full(*args):
        raise OSError(errno.ENOSPC, "simulated")

    monkeypatch.setattr(tensorfile, "_stream", full)
    code = run("import-tf", "cifar10_synth", "--out", tmp_path / "r", "--ebm", FIXTURES / "hat32.ckpt", "--gen",
               FIXTURES / "gen32.ckpt")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "could not write checkpoint" in err[0] and "No space left" in err[0]
    assert not (tmp_path / "r").exists()


def test_ranks_share_the_bank(tmp_path):
    import_tf("cifar10_synth", tmp_path / "r", ebm=FIXTURES / "hat32.ckpt", gen=FIXTURES / "gen32.ckpt",
              bank=FIXTURES / "persistent.npy", bank_z=FIXTURES / "persistent_z.npy", ranks=2,
              overrides=["batch_size=4"], load=False)
    saved = ckpt.load(tmp_path / "r")
    x, z = np.load(FIXTURES / "persistent.npy").transpose(0, 3, 1, 2), np.load(FIXTURES / "persistent_z.npy")
    assert saved.world == 2 and saved.config.bank_size == 4 and saved.origin == "import-tf"
    folder = ckpt.resolve(tmp_path / "r")
    assert {p.name for p in folder.glob("rank*")} == {"rank0.safetensors", "rank1.safetensors"}  # each rank's own
    for r, rank in saved.ranks.items():
        np.testing.assert_array_equal(rank.bank[0].numpy(), x[2 * r:2 * r + 2])
        np.testing.assert_array_equal(rank.bank[1].numpy(), z[2 * r:2 * r + 2])
    assert not torch.equal(saved.ranks[0].rng["rng.torch"], saved.ranks[1].rng["rng.torch"])
    with pytest.raises(ValueError, match="4 pairs, which 3 ranks cannot share evenly"):
        import_tf("cifar10_synth", tmp_path / "r3", ebm=FIXTURES / "hat32.ckpt", gen=FIXTURES / "gen32.ckpt",
                  bank=FIXTURES / "persistent.npy", bank_z=FIXTURES / "persistent_z.npy", ranks=3,
                  overrides=["batch_size=3"], load=False)


def test_a_trained_tandem_checkpoint_without_bank_is_still_refused(tmp_path, images):
    from hatebm.checkpoint import write_files

    import_tf("cifar10_synth", tmp_path / "r", ebm=FIXTURES / "hat32.ckpt", gen=FIXTURES / "gen32.ckpt",
              overrides=["data.name=npz", f"data.root={images[0]}", "bank_size=8", *TINY], load=False)
    tensors, state = ckpt.read_files(tmp_path / "r")
    del state["origin"]  # as if training had written it without its bank
    write_files(tmp_path / "t", 0, tensors, state, {0: ckpt.read_rank(ckpt.resolve(tmp_path / "r"), 0)})
    with pytest.raises(ValueError, match="lacks the tandem bank"):
        import hatebm

        hatebm.train(ckpt.load(tmp_path / "t").config, tmp_path / "t", resume=True, progress=False)


@pytest.mark.parametrize("args,message", [
    (["--ebm", "E"], "--gen is needed"),
    (["--gen", "G", "--ebm", "E", "--optim", "O", "--protocol", "fid"], "--protocol fid samples as their FID scripts"),
    (["--gen", "G", "--ebm", "E", "--ranks", "0"], "--ranks must be a positive int"),
    (["--gen", "G", "--optim", "O"], "--optim, --bank and --bank-z belong to a hat network's run"),
    (["--gen", "G", "--ebm", "E", "--bank", "B"], "--bank and --bank-z go together"),
    (["--gen", "G", "--inf", "I"], "--inf is the retrofit autoencoder's encoder"),
    (["--gen", "G", "--inf", "I", "--ebm", "E"], "--inf is the retrofit autoencoder's encoder"),
])
def test_flags_that_do_not_fit(tmp_path, capsys, args, message):
    code = run("import-tf", "cifar10_synth", "--out", tmp_path / "r", *args)
    assert message in one_line_error(capsys, code)


def test_bad_optimizer_file(tmp_path, capsys):
    np.savez(tmp_path / "o.npz", np.zeros(3))
    code = run("import-tf", "cifar10_synth", "--out", tmp_path / "r", "--ebm", FIXTURES / "hat32.ckpt", "--gen",
               FIXTURES / "gen32.ckpt", "--optim", tmp_path / "o.npz")
    assert "o.npz holds 1 arrays; the optimiser of this hat network" in one_line_error(capsys, code)


def test_compare_an_imported_refinement_without_ddls(tmp_path, images, capsys):
    """The authors' released SN-GAN has no discriminator: `hatebm compare` of an imported joint run against its
    generator run draws base and Hat EBM, paired, and says DDLS was skipped."""
    data, _ = images
    joint = tmp_path / "refine"
    assert run("import-tf", "cifar10_refine", "--out", joint, "--ebm", FIXTURES / "hat32.ckpt", "--gen",
               FIXTURES / "gen32.ckpt", "data.name=npz", f"data.root={data}", *TINY) == 0
    capsys.readouterr()
    assert run("compare", joint / "generator", joint, "-n", 4, "--steps", 0, "--ref", data, "--device", "cpu",
               "--quiet", "--out", tmp_path / "cmp") == 0
    out = capsys.readouterr().out
    assert "ddls: skipped" in out and "hat_K0" in out
    metrics = json.loads((tmp_path / "cmp" / "metrics.json").read_text())
    assert "ddls" not in metrics and "skipped" in metrics["protocol"]["ddls"]
    np.testing.assert_array_equal(np.load(tmp_path / "cmp" / "base.npz")["images"],
                                  np.load(tmp_path / "cmp" / "hat_K0.npz")["images"])  # K = 0 is the base exactly
