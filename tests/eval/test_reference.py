"""Reference statistics: cache keys, cached references, and foreign mu/sigma files (pytorch-fid, clean-fid, edm)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from hatebm.cli import main
from hatebm.eval import fid, inception, metrics, reference

pytestmark = pytest.mark.usefixtures("needs_inception")  # the weights' sha256 is part of every protocol
D = inception.FEATURE_DIM


# ---- cache keys and cached references -----------------------------------------------------------------------

def test_cache_name_changes_with_every_protocol_choice():
    base = {"dataset": "fashion_mnist", "split": "test", "n": 1000, "subset": "random", "seed": 0, "n_split": 10000,
            "size": 32, "fit": "pad", "image_shape": [32, 32, 1], "resize": "tf", "network": inception.NETWORK,
            "weights_sha256": "a" * 64, "data_sha256": "b" * 64}
    changes = {"dataset": "cifar10", "split": "train", "n": 999, "subset": "first", "seed": 1, "n_split": 60000,
               "size": 28, "fit": "resize", "image_shape": [32, 32, 3], "resize": "clean", "network": "other",
               "weights_sha256": "c" * 64, "data_sha256": "d" * 64}
    assert set(changes) == set(base)
    names = {reference.reference_name(base)} | {reference.reference_name({**base, k: v}) for k, v in changes.items()}
    assert len(names) == len(changes) + 1
    assert reference.reference_name(base).startswith("fashion_mnist_test_random1000-seed0_32x32x1_tf_")


def test_reference_stats_are_cached_under_their_protocol(tmp_path, monkeypatch, npz_dataset, fake_features):
    root = npz_dataset("data.npz", 6, seed=3)
    seen = []
    monkeypatch.setattr(inception, "inception_features",
                        lambda images, *a, **k: seen.append(images) or fake_features(images))
    ref = reference.reference_stats("npz", n=4, root=root, size=10, cache_dir=tmp_path / "cache", progress=False)
    assert ref.path.parent == tmp_path / "cache" and ref.path.is_file()
    index = np.sort(np.random.default_rng(0).choice(6, 4, replace=False))  # the seeded subset, in dataset order
    padded = np.pad(np.load(root)["images"][index], ((0, 0), (1, 1), (1, 1), (0, 0)))  # "pad" to 10×10 with black
    np.testing.assert_array_equal(seen[0], padded)
    np.testing.assert_array_equal(ref.features, fake_features(padded))
    np.testing.assert_allclose(ref.mu, ref.features.mean(0), rtol=1e-6)
    assert ref.protocol["image_shape"] == [10, 10, 1] and ref.protocol["subset"] == "random" and ref.protocol["n"] == 4

    again = reference.reference_stats("npz", n=4, root=root, size=10, cache_dir=tmp_path / "cache")
    assert len(seen) == 1 and again.path == ref.path and again.protocol == ref.protocol  # read back, not recomputed
    np.testing.assert_array_equal(again.sigma, ref.sigma)
    other = reference.reference_stats("npz", n=4, root=root, subset="first", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(seen[1], np.load(root)["images"][:4])
    assert other.path != ref.path and len(list((tmp_path / "cache").iterdir())) == 2


def test_reference_cache_defaults_to_hatebm_cache(tmp_path, monkeypatch, npz_dataset, fake_features):
    monkeypatch.setenv("HATEBM_CACHE", str(tmp_path / "hc"))
    monkeypatch.setattr(inception, "inception_features", fake_features)
    root = npz_dataset("d.npz", 3, seed=0)
    ref = reference.reference_stats("npz", root=root)
    assert ref.path.parent == tmp_path / "hc" / "fid" and ref.protocol["subset"] == "all"
    assert reference.reference_stats("npz", root=root, size=8, fit="resize").path == ref.path  # 8 px is the native size


# ---- foreign statistics: mu and sigma written by another tool -------------------------------------------------

def foreign_moments(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(D, 8)) / 4
    return rng.normal(size=D), a @ a.T + 0.5 * np.eye(D)


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])  # pytorch-fid and edm: savez; clean-fid: compressed
def test_foreign_statistics_give_fid_without_kid(tmp_path, monkeypatch, save, squares, fake_features):
    mu, sigma = foreign_moments()
    save(tmp_path / "other_tool.npz", mu=mu, sigma=sigma.astype(np.float32))
    ref = reference.ReferenceStats.load(tmp_path / "other_tool.npz")
    assert ref.foreign and ref.features is None and ref.name == "other_tool"
    assert ref.protocol["statistics"] == reference.FOREIGN and "resize" not in ref.protocol
    assert "weights_sha256" not in ref.protocol and reference.is_statistics_file(tmp_path / "other_tool.npz")

    seen = []
    monkeypatch.setattr(inception, "inception_features",
                        lambda images, *a, **k: seen.append((images, a, k)) or fake_features(images))
    samples = squares(5)[:, :20, :20]  # any resolution: nothing to check it against
    got = fid.compute_metrics(samples, tmp_path / "other_tool.npz", progress=False, source={"path": "s.npz"})
    features = fake_features(samples)
    expected = metrics.frechet_distance(*metrics.feature_stats(features), mu, sigma.astype(np.float32),
                                        features1=features)  # equal to the sqrtm form (test_metrics), faster
    assert got["fid"] == pytest.approx(expected, rel=1e-6)
    assert got["kid_mean"] is None and got["kid_std"] is None
    assert seen[0][1][3] == "tf"  # args (batch_size, weights, progress, resize, ...): the original TF FID's resize
    protocol = got["protocol"]
    assert protocol["kid"]["available"] is False and "foreign" in protocol["kid"]["note"]
    assert protocol["reference"]["foreign"] is True and protocol["reference"]["name"] == "other_tool"
    assert protocol["samples"]["resize"] == "tf" and "cannot check" in protocol["samples"]["note"]
    assert "KID not available" in fid.describe(got)


def test_foreign_statistics_in_python_and_their_bad_shapes(tmp_path):
    mu, sigma = foreign_moments(1)
    ref = reference.ReferenceStats.from_moments(mu, sigma, source="my stats")
    assert ref.foreign and ref.protocol["source"] == "my stats" and ref.name == "in-memory"
    with pytest.raises(ValueError, match="read, not rewritten"):
        ref.save(tmp_path / "again.npz")
    for name, arrays in {"mu64": {"mu": mu[:64], "sigma": sigma[:64, :64]}, "flat": {"mu": mu, "sigma": mu},
                         "text": {"mu": np.array(["a"] * D), "sigma": sigma}}.items():
        np.savez(tmp_path / f"{name}.npz", **arrays)
        with pytest.raises(ValueError, match=r"shapes \(2048,\) and \(2048, 2048\)"):
            reference.ReferenceStats.load(tmp_path / f"{name}.npz")


def test_unreadable_statistics_files_give_one_clear_error(tmp_path):
    mu, sigma = foreign_moments(2)
    np.savez(tmp_path / "pickled.npz", mu=np.array([{"mu": mu}], dtype=object), sigma=sigma)
    np.savez(tmp_path / "no_sigma.npz", mu=mu)
    np.save(tmp_path / "bare.npy", mu)
    (tmp_path / "text.npz").write_text("not an archive")
    cases = {"pickled.npz": "need pickles", "no_sigma.npz": "holds mu", "bare.npy": "one bare array",
             "text.npz": "not an .npz of plain arrays"}
    for name, message in cases.items():
        with pytest.raises(ValueError, match=message):
            reference.ReferenceStats.load(tmp_path / name)
    np.savez(tmp_path / "images.npz", images=np.zeros((2, 8, 8, 1), np.uint8))
    assert not reference.is_statistics_file(tmp_path / "images.npz")  # a dataset, not statistics
    assert reference.is_statistics_file(tmp_path / "text.npz")  # so that loading it says what is wrong


def test_cli_calc_against_foreign_statistics(tmp_path, monkeypatch, capsys, npz_dataset, fake_features):
    mu, sigma = foreign_moments(3)
    np.savez(tmp_path / "fid_stats.npz", mu=mu, sigma=sigma)
    monkeypatch.setattr(inception, "inception_features", fake_features)
    out = tmp_path / "metrics.json"
    argv = ["fid", "calc", npz_dataset("s.npz", 4, seed=1), "--ref", str(tmp_path / "fid_stats.npz"), "--out",
            str(out), "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert reference.FOREIGN in printed and "KID not available" in printed
    (key, entry), = json.loads(out.read_text()).items()
    assert key == "fid/fid_stats/n4" and entry["kid_mean"] is None and f"FID {entry['fid']:.4f}" in printed
