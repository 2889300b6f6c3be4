"""FID and KID of samples: compute_metrics against references, metrics.json, bad inputs, the CLI, sample loading."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hatebm.cli import main
from hatebm.eval import common, fid, inception, metrics, samples as sample_io
from hatebm.eval.reference import ReferenceStats

pytestmark = pytest.mark.usefixtures("needs_inception", "one_thread_env")


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)  # after tests/conftest.py's setting, for the network called directly here


# ---- metrics -----------------------------------------------------------------------------------------------

def test_compute_metrics_and_write_metrics(tmp_path, grey, grey_features, make_reference, brute_force_mmd2):
    ref = make_reference(grey_features[::-1])
    metrics = fid.compute_metrics(grey, ref.path, kid_subsets=2, progress=False)
    assert abs(metrics["fid"]) < 1e-4 * np.trace(ref.sigma)  # same images, other order
    brute = brute_force_mmd2(grey_features.astype(np.float64), ref.features.astype(np.float64))
    assert metrics["kid_mean"] == pytest.approx(brute, rel=1e-4)
    proto = metrics["protocol"]
    assert proto["reference"]["name"] == "ref" and proto["samples"]["n"] == 3 and proto["kid"]["subset_size"] == 3

    out = tmp_path / "run" / "metrics.json"
    out.parent.mkdir()
    out.write_text(json.dumps({"ood": {"auroc": 0.9}}))
    common.write_metrics(out, metrics)
    common.write_metrics(out, {**metrics, "fid": 1.0}, key="other")
    saved = json.loads(out.read_text())
    assert saved["ood"] == {"auroc": 0.9} and saved["other"]["fid"] == 1.0
    assert saved["fid/ref/n3"]["fid"] == metrics["fid"] and saved["fid/ref/n3"]["protocol"] == proto

def test_kid_spread_is_none_when_one_subset_is_all_images(monkeypatch, squares, make_reference, fake_features):
    def noisy_features(images: np.ndarray, *args, **kwargs) -> np.ndarray:  # distinct vectors, a real spread
        return fake_features(images) + np.random.default_rng(len(images)).normal(size=(len(images), 2048))

    monkeypatch.setattr(inception, "inception_features", noisy_features)
    ref = make_reference(noisy_features(squares(7, seed=1))[:6])
    whole = fid.compute_metrics(squares(6), ref, kid_subsets=4, progress=False)  # 6 vs 6 images, subsets of ≤ 1000
    assert whole["kid_std"] is None and whole["protocol"]["kid"]["subsets"] == 1
    assert whole["kid_mean"] == pytest.approx(metrics.kid(noisy_features(squares(6)), ref.features)[0])
    assert "no spread" in whole["protocol"]["kid"]["spread"]
    assert fid.describe(whole).endswith(f"KID {whole['kid_mean']:.6f} (one subset = all 6 images: no spread measured; "
                                        "pass --kid-subset-size below N for one)")
    subsets = fid.compute_metrics(squares(6), ref, kid_subsets=4, kid_subset_size=4, progress=False)
    assert subsets["kid_std"] > 0 and subsets["protocol"]["kid"]["subsets"] == 4
    assert f"± {subsets['kid_std']:.6f}" in fid.describe(subsets)


# ---- bad inputs ---------------------------------------------------------------------------------------------

def test_bad_inputs_to_statistics_and_metrics(tmp_path, grey_features, grey, make_reference):
    with pytest.raises(ValueError, match="at least 2"):
        metrics.feature_stats(grey_features[:1])
    with pytest.raises(ValueError, match="at least 2"):
        metrics.kid(grey_features[:1], grey_features)
    with pytest.raises(ValueError, match="mismatched"):
        metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    ref = make_reference(grey_features)
    with pytest.raises(ValueError, match="at least 2"):
        fid.compute_metrics(grey[:1], ref)
    with pytest.raises(ValueError, match="resolution"):
        fid.compute_metrics(np.zeros((2, 32, 32, 1), np.uint8), ref)
    other = ReferenceStats.from_features(grey_features, {**ref.protocol, "weights_sha256": "0" * 64})
    with pytest.raises(ValueError, match="same weights"):
        fid.compute_metrics(grey, other)
    with pytest.raises(ValueError, match="weights sha256"):
        ReferenceStats.from_features(grey_features, {"resize": "tf"})
    with pytest.raises(ValueError, match="resize mode"):
        inception.inception_features(grey, resize="bilinear")
    with pytest.raises(ValueError, match="between 2 and"):
        common.select_images(grey, 5)


# ---- CLI ----------------------------------------------------------------------------------------------------

def test_cli_ref_then_calc_end_to_end(tmp_path, capsys, npz_dataset):
    dataset = npz_dataset("dataset.npz", 3, seed=5)
    samples = npz_dataset("samples.npz", 4, seed=6)
    cache = tmp_path / "cache"
    assert main(["fid", "ref", "--ref", "npz", "--root", dataset, "--cache-dir", str(cache), "--quiet"]) == 0
    (ref_path,) = cache.glob("*.npz")
    assert str(ref_path) in capsys.readouterr().out

    out = tmp_path / "metrics.json"
    argv = ["fid", "calc", samples, "--ref", str(ref_path), "--n", "3", "--kid-subsets", "3", "--out", str(out),
            "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    (entry,) = json.loads(out.read_text()).values()
    assert f"FID {entry['fid']:.4f}" in printed and '"data_sha256"' in printed
    expected = fid.compute_metrics(np.load(samples)["images"][:3], ref_path, kid_subsets=3, progress=False,
                                   source={"path": samples, "n": 3})
    assert entry["protocol"] == json.loads(json.dumps(expected["protocol"]))
    numbers = ("fid", "kid_mean", "kid_std")
    assert [entry[k] for k in numbers] == pytest.approx([expected[k] for k in numbers])

    # a dataset spec with the same protocol finds the cached reference: same numbers, no second file
    spec = ["fid", "calc", samples, "--ref", "npz:test", "--root", dataset, "--cache-dir", str(cache), "--n", "3",
            "--kid-subsets", "3", "--quiet"]
    assert main(spec) == 0 and len(list(cache.glob("*.npz"))) == 1
    assert f"FID {entry['fid']:.4f}" in capsys.readouterr().out


def test_cli_reports_broken_checkpoints_and_bad_refs(tmp_path, capsys, npz_dataset):
    ckpt = tmp_path / "step_00000100"
    ckpt.mkdir()
    (ckpt / "tensors.safetensors").write_bytes(b"")  # no state.json: not a complete checkpoint
    assert main(["fid", "calc", str(ckpt), "--ref", "x.npz"]) == 2
    assert "no checkpoint at" in capsys.readouterr().err
    samples = npz_dataset("samples.npz", 2, seed=0)
    assert main(["fid", "calc", samples, "--ref", str(tmp_path / "missing.npz")]) == 2
    assert "hatebm fid ref" in capsys.readouterr().err


def test_cli_calc_samples_a_checkpoint_on_the_fly(tiny_run, tmp_path, monkeypatch, capsys, make_reference,
                                                   fake_features):
    seen = []
    monkeypatch.setattr(inception, "inception_features",
                        lambda images, *a, **k: seen.append(images) or fake_features(images))
    ref_images = np.random.default_rng(1).integers(0, 256, (5, 28, 28, 1), dtype=np.uint8)
    ref = make_reference(fake_features(ref_images))
    out = tmp_path / "metrics.json"
    argv = ["fid", "calc", str(tiny_run), "--ref", str(ref.path), "--n", "4", "--steps", "2", "--seed", "1",
            "--kid-subsets", "2", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    expected, source = sample_io.sample_checkpoint(tiny_run, 4, steps=2, seed=1, progress=False)
    np.testing.assert_array_equal(seen[0], expected)  # the same draw: seeded, at the data's 28×28
    assert expected.shape == (4, 28, 28, 1) and expected.dtype == np.uint8
    (entry,) = json.loads(out.read_text()).values()
    assert entry["protocol"]["samples"]["source"] == json.loads(json.dumps(source))
    assert source["step"] == 4 and source["steps"] == 2 and source["checkpoint"].endswith("step_00000004")
    images, again = sample_io.load_samples(tiny_run / "checkpoints" / "step_00000002", 3, steps=1, progress=False)
    assert images.shape == (3, 28, 28, 1) and again["step"] == 2


def test_samples_load_from_npz_or_png_folder(tmp_path):
    from PIL import Image

    images = np.random.default_rng(0).integers(0, 256, (3, 6, 5, 3), dtype=np.uint8)
    np.savez(tmp_path / "s.npz", images=images)
    (tmp_path / "pngs").mkdir()
    for i, img in enumerate(images):
        Image.fromarray(img).save(tmp_path / "pngs" / f"{i:03d}.png")
    np.testing.assert_array_equal(sample_io.load_samples(tmp_path / "s.npz")[0], images)
    got, source = sample_io.load_samples(tmp_path / "pngs", 2)
    np.testing.assert_array_equal(got, images[:2])
    assert source == {"path": str(tmp_path / "pngs"), "n": 2}
    with pytest.raises(ValueError, match="between 2 and the 3 samples"):
        sample_io.load_samples(tmp_path / "s.npz", 4)
    with pytest.raises(FileNotFoundError, match="no samples"):
        sample_io.load_samples(tmp_path / "missing.npz")


def test_samples_from_a_model_or_a_function(tiny_run):
    import hatebm

    model = hatebm.load_model(tiny_run)
    images, source = sample_io.load_samples(model, 6, seed=3, progress=False)
    again, _ = sample_io.load_samples(tiny_run, 6, seed=3, progress=False)
    assert images.shape == (6, 28, 28, 1) and np.array_equal(images, again) and source["n"] == 6

    def noise(n):
        return torch.rand(n, 1, 28, 28) * 2 - 1

    images, source = sample_io.load_samples(noise, 5)
    assert images.dtype == np.uint8 and images.shape == (5, 28, 28, 1) and source["callable"].endswith("noise")
    with pytest.raises(ValueError, match="must give 4 uint8"):
        sample_io.load_samples(lambda n: np.zeros((n, 28, 28, 1), np.float32), 4)
