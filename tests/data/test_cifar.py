from __future__ import annotations

import io
import os
import pickle
import pickletools
import struct
from pathlib import Path

import numpy as np
import pytest

from hatebm.data import load_images, load_labeled

RNG = np.random.default_rng(1)


def write_batch(path: Path, images: np.ndarray, labels: list[int], label_key: bytes) -> None:
    """A batch as CIFAR ships it: rows of 1024 red, 1024 green, 1024 blue bytes, keys as bytes (Python 2 pickle)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    with open(path, "wb") as f:
        pickle.dump({b"data": data, label_key: labels, b"batch_label": b"tiny"}, f, protocol=2)


def write_cifar10(root: Path) -> tuple[np.ndarray, np.ndarray]:
    images = RNG.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    labels = RNG.integers(0, 10, 12)
    folder = root / "cifar-10-batches-py"
    for i in range(5):
        part = slice(2 * i, 2 * i + 2)
        write_batch(folder / f"data_batch_{i + 1}", images[part], labels[part].tolist(), b"labels")
    write_batch(folder / "test_batch", images[10:], labels[10:].tolist(), b"labels")
    return images, labels


def test_cifar10_train_and_test(isolated):
    images, labels = write_cifar10(isolated)
    for root in (isolated, isolated / "cifar-10-batches-py"):
        train, train_labels = load_labeled("cifar10", "train", root=root)
        assert train.shape == (10, 32, 32, 3) and train.dtype == np.uint8 and train.flags.c_contiguous
        np.testing.assert_array_equal(train, images[:10])
        np.testing.assert_array_equal(train_labels, labels[:10])
    np.testing.assert_array_equal(load_images("cifar-10", "test", root=isolated), images[10:])


def test_channel_layout_is_rgb_planes(isolated):
    red = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    red[..., 0] = 255
    folder = isolated / "cifar-10-batches-py"
    write_batch(folder / "test_batch", red, [3], b"labels")
    raw = pickle.loads((folder / "test_batch").read_bytes())[b"data"]
    assert raw[0, :1024].min() == 255 and raw[0, 1024:].max() == 0  # the first plane is red
    assert load_images("cifar10", "test", root=isolated)[0, 5, 7].tolist() == [255, 0, 0]


def test_cifar100_fine_labels_via_env(isolated, monkeypatch):
    images = RNG.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    write_batch(isolated / "env" / "cifar-100-python" / "test", images, [99, 0, 5, 42], b"fine_labels")
    monkeypatch.setenv("HATEBM_DATA", str(isolated / "env"))
    got, labels = load_labeled("cifar100", "test")
    np.testing.assert_array_equal(got, images)
    assert labels.tolist() == [99, 0, 5, 42]


def test_missing_cifar_lists_places_and_url(isolated):
    with pytest.raises(FileNotFoundError) as err:
        load_images("cifar10", root=isolated / "nowhere", download=True)
    msg = str(err.value)
    assert str(isolated / "nowhere" / "cifar-10-batches-py") in msg and "data_batch_5" in msg
    assert "cifar-10-python.tar.gz" in msg and "download is not offered" in msg


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a pickle at all", "not a CIFAR batch"),
        (pickle.dumps({b"labels": [1]}), "not a CIFAR batch"),
        (pickle.dumps({b"data": np.zeros((1, 100), np.uint8), b"labels": [1]}), r"expected uint8 data \[N, 3072\]"),
    ],
)
def test_corrupt_batch_names_the_file(isolated, content, message):
    folder = isolated / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(content)
    with pytest.raises(ValueError, match=message) as err:
        load_images("cifar10", "test", root=isolated)
    assert "test_batch" in str(err.value)


class _Python2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 strings (BINSTRING), as the official CIFAR batches hold them."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_bytes(self, obj: bytes) -> None:
        n = len(obj)
        head = pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)
        self.write(head + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def python2_batch(images: np.ndarray, labels: list[int]) -> bytes:
    """A batch byte for byte in the official files' shape: protocol 2, Python 2 strings, numpy 1's module name."""
    buf = io.BytesIO()
    data = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    _Python2Pickler(buf, protocol=2).dump({b"batch_label": b"testing batch 1 of 1", b"labels": labels, b"data": data,
                                           b"filenames": [b"a.png"] * len(images)})
    return buf.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")


def pickle_globals(content: bytes) -> set[str]:
    return {arg for op, arg, _ in pickletools.genops(content) if op.name == "GLOBAL"}


def test_batches_of_both_pickle_flavours_need_only_numpy_reconstruction(isolated):
    images = RNG.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    content = python2_batch(images, [1, 2, 3])
    assert pickle_globals(content) == {"numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"}
    folder = isolated / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(content)
    np.testing.assert_array_equal(load_images("cifar10", "test", root=isolated), images)
    write_batch(folder / "test_batch", images, [1, 2, 3], b"labels")  # Python 3, protocol 2: bytes by _codecs.encode
    assert pickle_globals((folder / "test_batch").read_bytes()) <= {
        "numpy._core.multiarray _reconstruct", "numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype",
        "_codecs encode"}
    np.testing.assert_array_equal(load_images("cifar10", "test", root=isolated), images)


class _System:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Open:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


class _Touch:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


@pytest.mark.parametrize("planted", [_System, _Open, _Touch])
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_planted_pickle_is_refused_and_runs_nothing(isolated, planted, protocol):
    marker = isolated / "marker"
    folder = isolated / "cifar-10-batches-py"
    folder.mkdir()
    batch = {b"data": planted(marker), b"labels": [1]}
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=protocol))
    with pytest.raises(ValueError, match="refused to unpickle the global") as err:
        load_images("cifar10", "test", root=isolated)
    msg = str(err.value)
    assert str(folder / "test_batch") in msg
    refused = {_System: ("system",), _Open: ("open",), _Touch: ("touch", "getattr")}[planted]  # protocol 2: getattr
    assert any(f".{name}, which" in msg for name in refused), msg
    assert not marker.exists()
