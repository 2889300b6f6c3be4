"""Proxy FID (classifier features): the shipped classifier, training, the distance, labelling, bad inputs, the CLI."""
from __future__ import annotations

import gzip
import json
import struct

import numpy as np
import pytest
import torch

from hatebm.cli import main
from hatebm.data import fashion_mnist, load_labeled
from hatebm.eval import metrics, proxy


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def fmnist_test():
    try:
        return load_labeled("fashion_mnist", "test")
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST not found (run `make data`, or set HATEBM_CACHE to the cache holding it)")


def two_classes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertical (class 0) or horizontal (class 1) bright bars at random positions, on black, 28×28 grey."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    images = np.zeros((n, 28, 28, 1), np.uint8)
    for image, label, at in zip(images, labels, rng.integers(2, 22, n)):
        if label:
            image[at : at + 4, 4:24] = 220
        else:
            image[4:24, at : at + 4] = 220
    return images, labels


def test_shipped_classifier_is_small_and_documented():
    net, meta, sha = proxy.load_classifier()
    assert proxy.WEIGHTS.stat().st_size < 400_000 and len(sha) == 64
    assert float(meta["test_accuracy"]) > 0.85 and meta["epochs"] == "2" and meta["network"] == proxy.NETWORK
    assert "fashion_mnist train (60000)" == meta["train_data"]
    x = torch.zeros(2, 1, 28, 28)
    assert net.features(x).shape == (2, proxy.FEATURE_DIM) and net(x).shape == (2, 10)


def test_shipped_classifier_accuracy_and_proxy_fid_on_fashion_mnist(fmnist_test):
    images, labels = fmnist_test
    meta = proxy.load_classifier()[1]
    assert proxy.accuracy(proxy.load_classifier()[0], images, labels) == pytest.approx(float(meta["test_accuracy"]),
                                                                                      abs=1e-4)
    half = proxy.proxy_fid(images[5000:], "fashion_mnist:test", n_ref=5000, seed=1)["proxy_fid"]
    noise = np.random.default_rng(0).integers(0, 256, (1000, 28, 28, 1), dtype=np.uint8)
    assert half < 2 and proxy.proxy_fid(noise, "fashion_mnist:test", n_ref=2000)["proxy_fid"] > 100 * half


def test_training_learns_a_separable_task_deterministically():
    images, labels = two_classes(256, seed=0)
    test_images, test_labels = two_classes(64, seed=1)
    net, acc = proxy.train_classifier(images, labels, test_images, test_labels, epochs=4, batch_size=32, lr=3e-3,
                                      progress=False)
    assert acc == proxy.accuracy(net, test_images, test_labels) and acc > 0.95
    again, _ = proxy.train_classifier(images, labels, test_images, test_labels, epochs=4, batch_size=32, lr=3e-3,
                                      progress=False)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))
    with pytest.raises(ValueError, match="differ in number"):
        proxy.train_classifier(images, labels[:3], test_images, test_labels)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Quickly trained weights (the tests check the plumbing, not the shipped network)."""
    torch.set_num_threads(1)
    images, labels = two_classes(64, seed=2)
    net, acc = proxy.train_classifier(images, labels, images, labels, epochs=1, batch_size=32, progress=False)
    return proxy.save_classifier(net, tmp_path_factory.mktemp("proxy") / "w.safetensors", {"test_accuracy": acc})


def test_weights_round_trip_with_metadata_and_hash(weights):
    import hashlib

    net, meta, sha = proxy.load_classifier(weights)
    assert sha == hashlib.sha256(weights.read_bytes()).hexdigest() and float(meta["test_accuracy"]) >= 0
    images = two_classes(5, seed=3)[0]
    expected = net.features(torch.from_numpy(images).permute(0, 3, 1, 2).float() * (2 / 255) - 1).detach().numpy()
    np.testing.assert_allclose(proxy.proxy_features(images, weights, batch_size=2), expected, rtol=1e-5, atol=1e-6)


def test_proxy_fid_is_the_frechet_distance_of_classifier_features(tmp_path, weights):
    ref_images, samples = two_classes(40, seed=4)[0], two_classes(30, seed=5)[0]
    np.savez(tmp_path / "ref.npz", images=ref_images)
    same = proxy.proxy_fid(ref_images[::-1].copy(), str(tmp_path / "ref.npz"), weights=weights)
    assert abs(same["proxy_fid"]) < 1e-6
    got = proxy.proxy_fid(samples, str(tmp_path / "ref.npz"), weights=weights, source={"path": "s.npz"})
    f1, f2 = proxy.proxy_features(samples, weights), proxy.proxy_features(ref_images, weights)
    expected = metrics.frechet_distance(*metrics.feature_stats(f1), *metrics.feature_stats(f2))
    assert got["proxy_fid"] == pytest.approx(expected, rel=1e-6)
    protocol = got["protocol"]
    assert protocol["metric"] == "proxy FID (classifier features)" and protocol["note"].startswith("not FID")
    assert protocol["weights_sha256"] == proxy.load_classifier(weights)[2] and protocol["reference"]["n"] == 40
    assert protocol["samples"] == {"n": 30, "image_shape": [28, 28, 1], "source": {"path": "s.npz"}}
    out = proxy.write_proxy_metrics(tmp_path / "metrics.json", got)
    (key,) = json.loads(out.read_text())
    assert key.startswith("proxy_fid/") and key.endswith("/n30")  # never under "fid/"


def test_bad_inputs(tmp_path, weights):
    np.savez(tmp_path / "ref.npz", images=two_classes(10, seed=6)[0])
    ref = str(tmp_path / "ref.npz")
    small = np.zeros((4, 32, 32, 1), np.uint8)
    with pytest.raises(ValueError, match="32×32 images, but the model was trained on 28×28 images: pass --fit"):
        proxy.proxy_fid(small, ref, weights=weights)
    assert proxy.proxy_fid(small, ref, fit="crop", weights=weights)["protocol"]["adaptation"]["fit"] == "crop"
    with pytest.raises(ValueError, match="--convert-channels"):
        proxy.proxy_fid(np.zeros((4, 28, 28, 3), np.uint8), ref, weights=weights)
    with pytest.raises(ValueError, match="at least 2"):
        proxy.proxy_fid(np.zeros((1, 28, 28, 1), np.uint8), ref, weights=weights)
    with pytest.raises(ValueError, match="uint8"):
        proxy.proxy_fid(np.zeros((3, 28, 28, 1), np.float32), ref, weights=weights)
    with pytest.raises(FileNotFoundError, match="hatebm proxy-fid train"):
        proxy.proxy_features(small, tmp_path / "none.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"junk")
    with pytest.raises(ValueError, match="does not hold ProxyNet weights"):
        proxy.proxy_features(small, tmp_path / "bad.safetensors")


def write_idx_gz(path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def test_cli_train_then_calc(tmp_path, capsys):
    for split, seed in (("train", 7), ("test", 8)):
        images, labels = two_classes(48, seed)
        image_file, label_file = fashion_mnist.FILES[split]
        write_idx_gz(tmp_path / image_file, images[..., 0])
        write_idx_gz(tmp_path / label_file, labels.astype(np.uint8))
    weights = tmp_path / "w.safetensors"
    assert main(["proxy-fid", "train", "--root", str(tmp_path), "--out", str(weights), "--epochs", "1", "--quiet"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    meta = proxy.load_classifier(weights)[1]
    assert meta["train_data"] == "fashion_mnist train (48)" and meta["epochs"] == "1"

    np.savez(tmp_path / "samples.npz", images=two_classes(20, seed=9)[0])
    out = tmp_path / "metrics.json"
    argv = ["proxy-fid", "calc", str(tmp_path / "samples.npz"), "--ref", f"{tmp_path}/ref.npz", "--weights",
            str(weights), "--out", str(out), "--n", "10", "--quiet"]
    np.savez(tmp_path / "ref.npz", images=two_classes(30, seed=10)[0])
    assert main(argv) == 0
    printed = capsys.readouterr().out
    (entry,) = json.loads(out.read_text()).values()
    assert f"proxy FID (classifier features): {entry['proxy_fid']:.4f}" in printed
    assert entry["protocol"]["samples"]["source"]["n"] == 10


def test_cli_calc_samples_a_checkpoint(tiny_run, weights, capsys):
    argv = ["proxy-fid", "calc", str(tiny_run), "--ref", str(tiny_run.parent / "squares.npz"), "--n", "6",
            "--steps", "2", "--seed", "3", "--weights", str(weights), "--quiet"]
    assert main(argv) == 0
    protocol = json.loads(capsys.readouterr().out.split("protocol:", 1)[1])
    assert protocol["samples"]["n"] == 6
    source = protocol["samples"]["source"]
    assert source.pop("checkpoint").endswith("step_00000004")
    assert source == {"step": 4, "steps": 2, "seed": 3, "n": 6}


def write_fashion(folder) -> None:
    for split, seed in (("train", 7), ("test", 8)):
        images, labels = two_classes(48, seed)
        image_file, label_file = fashion_mnist.FILES[split]
        write_idx_gz(folder / image_file, images[..., 0])
        write_idx_gz(folder / label_file, labels.astype(np.uint8))


def test_cli_train_writes_to_the_cache_never_into_the_package(tmp_path, monkeypatch, capsys):
    write_fashion(tmp_path)
    monkeypatch.setenv("HATEBM_CACHE", str(tmp_path / "cache"))
    shipped = proxy.WEIGHTS.read_bytes()
    stamp = proxy.WEIGHTS.stat().st_mtime_ns
    assert main(["proxy-fid", "train", "--root", str(tmp_path), "--epochs", "1", "--quiet"]) == 0
    default = tmp_path / "cache" / "proxy" / proxy.WEIGHTS.name
    assert default == proxy.trained_weights_path() and not proxy.inside_package(default)
    assert str(default) in capsys.readouterr().out and proxy.load_classifier(default)[1]["epochs"] == "1"
    for out in (proxy.WEIGHTS, proxy.PACKAGE / "eval" / "other.safetensors"):  # refused before training
        assert main(["proxy-fid", "train", "--root", str(tmp_path), "--out", str(out), "--quiet"]) == 2
        assert "--overwrite-package" in capsys.readouterr().err
    assert not (proxy.PACKAGE / "eval" / "other.safetensors").exists()
    assert proxy.WEIGHTS.read_bytes() == shipped and proxy.WEIGHTS.stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="inside the installed hatebm package"):
        proxy.save_classifier(proxy.ProxyNet(), proxy.WEIGHTS, {})
    monkeypatch.setattr(proxy, "PACKAGE", tmp_path / "pkg")  # a stand-in package: the flag allows writing into it
    argv = ["proxy-fid", "train", "--root", str(tmp_path), "--out", str(tmp_path / "pkg" / "w.safetensors"),
            "--epochs", "1", "--quiet"]
    assert main(argv) == 2
    assert main([*argv, "--overwrite-package"]) == 0 and (tmp_path / "pkg" / "w.safetensors").is_file()
    assert proxy.WEIGHTS.read_bytes() == shipped
