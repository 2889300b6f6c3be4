from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from hatebm.data import cache_dir, download_fashion_mnist, fashion_mnist, load_images, load_labeled

RNG = np.random.default_rng(0)
TRAIN = RNG.integers(0, 256, (7, 28, 28), dtype=np.uint8)
TRAIN_LABELS = RNG.integers(0, 10, 7, dtype=np.uint8)
TEST = RNG.integers(0, 256, (3, 28, 28), dtype=np.uint8)
TEST_LABELS = RNG.integers(0, 10, 3, dtype=np.uint8)


def idx_bytes(array: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_gz(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(payload)


def write_fashion(folder: Path) -> Path:
    for name, array in zip(fashion_mnist.FILES["train"] + fashion_mnist.FILES["test"],
                           (TRAIN, TRAIN_LABELS, TEST, TEST_LABELS)):
        write_gz(folder / name, idx_bytes(array))
    return folder


def test_loads_both_splits_from_root(isolated):
    root = write_fashion(isolated / "fm")
    train = load_images("fashion_mnist", "train", root=root)
    assert train.dtype == np.uint8 and train.shape == (7, 28, 28, 1)
    np.testing.assert_array_equal(train[..., 0], TRAIN)
    np.testing.assert_array_equal(load_images("fashion-mnist", "test", root=root)[..., 0], TEST)
    images, labels = load_labeled("fashion_mnist", "test", root=root)
    np.testing.assert_array_equal(images[..., 0], TEST)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, TEST_LABELS)


def test_root_may_be_the_parent_folder(isolated):
    write_fashion(isolated / "data" / "fashion-mnist")
    assert load_images("fashion_mnist", root=isolated / "data").shape == (7, 28, 28, 1)


def test_search_order_env_then_cache_then_system(isolated, monkeypatch):
    write_fashion(fashion_mnist.SYSTEM_DIR)
    assert len(load_images("fashion_mnist")) == 7
    write_gz(cache_dir() / "fashion-mnist" / "train-images-idx3-ubyte.gz", idx_bytes(TRAIN[:2]))
    assert len(load_images("fashion_mnist")) == 2  # the cache comes before the system folder
    write_gz(isolated / "env" / "fashion-mnist" / "train-images-idx3-ubyte.gz", idx_bytes(TRAIN[:1]))
    monkeypatch.setenv("HATEBM_DATA", str(isolated / "env"))
    assert len(load_images("fashion_mnist")) == 1
    # load_labeled needs the labels too, so it skips the folders without them
    assert len(load_labeled("fashion_mnist")[1]) == 7


def test_explicit_root_does_not_fall_back(isolated):
    write_fashion(fashion_mnist.SYSTEM_DIR)
    with pytest.raises(FileNotFoundError, match="looked in"):
        load_images("fashion_mnist", root=isolated / "elsewhere")


def test_missing_dataset_lists_every_place_and_remedy(isolated, monkeypatch):
    monkeypatch.setenv("HATEBM_DATA", str(isolated / "env"))
    with pytest.raises(FileNotFoundError) as err:
        load_images("fashion_mnist", "test")
    msg = str(err.value)
    for place in (isolated / "env" / "fashion-mnist", cache_dir() / "fashion-mnist", fashion_mnist.SYSTEM_DIR):
        assert str(place) in msg
    for remedy in ("t10k-images-idx3-ubyte.gz", "make data", "apt-get download dataset-fashion-mnist", "dpkg-deb -x",
                   "root=", "download=True"):
        assert remedy in msg


def test_unknown_split(isolated):
    with pytest.raises(ValueError, match="split 'valid'"):
        load_images("fashion_mnist", "valid", root=write_fashion(isolated / "fm"))


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"\x00\x00\x08\x01" + struct.pack(">I", 7) + bytes(7), "magic 00000801"),  # a labels file as images
        (b"PK\x03\x04" + bytes(100), "not an IDX file"),
        (idx_bytes(TRAIN)[:-5], r"5483 data bytes but its header's shape \(7, 28, 28\) needs 5488"),
        (idx_bytes(TRAIN)[:10], "truncated IDX header"),
        (idx_bytes(TRAIN) + b"\x00", "5489 data bytes but"),
    ],
)
def test_corrupt_idx_names_the_file(isolated, payload, message):
    root = isolated / "fm"
    write_gz(root / "train-images-idx3-ubyte.gz", payload)
    with pytest.raises(ValueError, match=message) as err:
        load_images("fashion_mnist", root=root)
    assert "train-images-idx3-ubyte.gz" in str(err.value)


def test_truncated_or_not_gzip(isolated):
    root = write_fashion(isolated / "fm")
    path = root / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz.*corrupt"):
        load_images("fashion_mnist", root=root)
    good = gzip.compress(idx_bytes(TRAIN))
    path.write_bytes(good[:-8] + bytes(4) + good[-4:])  # wrong CRC
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz.*corrupt"):
        load_images("fashion_mnist", root=root)
    path.write_bytes(idx_bytes(TRAIN))  # not gzipped
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz.*corrupt"):
        load_images("fashion_mnist", root=root)


def test_label_count_mismatch(isolated):
    root = write_fashion(isolated / "fm")
    write_gz(root / "train-labels-idx1-ubyte.gz", idx_bytes(TRAIN_LABELS[:5]))
    with pytest.raises(ValueError, match="7 images but 5 labels"):
        load_labeled("fashion_mnist", root=root)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(isolated):
    """An http server on 127.0.0.1 serving the tiny Fashion-MNIST files; yields (base URL, their MD5s)."""
    served = write_fashion(isolated / "served")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in served.iterdir()}
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", md5
    httpd.shutdown()
    httpd.server_close()


def test_download_verifies_and_loads(server, monkeypatch):
    url, md5 = server
    monkeypatch.setattr(fashion_mnist, "MD5", md5)
    monkeypatch.setenv(fashion_mnist.URL_ENV, url)
    images, labels = load_labeled("fashion_mnist", "test", download=True)
    np.testing.assert_array_equal(images[..., 0], TEST)
    np.testing.assert_array_equal(labels, TEST_LABELS)
    folder = cache_dir() / "fashion-mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(fashion_mnist.FILES["test"])  # no temp files
    # the files are now found without downloading
    monkeypatch.setenv(fashion_mnist.URL_ENV, url + "gone/")
    np.testing.assert_array_equal(load_images("fashion_mnist", "test")[..., 0], TEST)


def test_download_into_root_by_parameter(server, monkeypatch, isolated):
    url, md5 = server
    monkeypatch.setattr(fashion_mnist, "MD5", md5)
    dest = download_fashion_mnist(isolated / "mine", base_url=url)
    assert sorted(p.name for p in dest.iterdir()) == sorted(md5)
    np.testing.assert_array_equal(load_images("fashion_mnist", "train", root=dest)[..., 0], TRAIN)


def test_download_checksum_mismatch_leaves_nothing(server, monkeypatch):
    url, md5 = server
    monkeypatch.setattr(fashion_mnist, "MD5", {**md5, "t10k-images-idx3-ubyte.gz": "0" * 32})
    monkeypatch.setenv(fashion_mnist.URL_ENV, url)
    with pytest.raises(ValueError, match="checksum mismatch for t10k-images-idx3-ubyte.gz"):
        load_images("fashion_mnist", "test", download=True)
    folder = cache_dir() / "fashion-mnist"
    assert not (folder / "t10k-images-idx3-ubyte.gz").exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no partial download


def test_download_missing_file_on_server(server, monkeypatch):
    url, _ = server
    monkeypatch.setenv(fashion_mnist.URL_ENV, url + "nothing-here/")
    with pytest.raises(FileNotFoundError, match="could not download .*404"):
        load_images("fashion_mnist", download=True)
    assert not list((cache_dir() / "fashion-mnist").iterdir())


def test_real_fashion_mnist_test_split():
    try:
        images, labels = load_labeled("fashion_mnist", "test")
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST not installed ($HATEBM_DATA, cache or /usr/share/datasets); see `make data`")
    assert images.shape == (10000, 28, 28, 1) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [1000] * 10
    assert images.min() == 0 and images.max() == 255
