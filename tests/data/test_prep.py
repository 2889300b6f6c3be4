from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from hatebm.data import PreparedImages, fashion_mnist, load_images, prepare, read_manifest, write_prepared
from hatebm.data.images import centre_square, read_image, short_side

RNG = np.random.default_rng(8)


def sha256(*paths) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_folder_square_centre_crops_and_resizes(image_folder, tmp_path):
    folder, arrays = image_folder
    out = prepare(str(folder), tmp_path / "out", 16, progress=False)
    assert out == tmp_path / "out" and sorted(p.name for p in out.iterdir()) == ["images.u8", "manifest.json"]
    manifest = read_manifest(out)
    assert manifest == json.loads((out / "manifest.json").read_text())
    assert {k: manifest[k] for k in ("format", "version", "count", "channels", "layout", "size", "height", "width",
                                      "source", "bytes", "labels")} == {
        "format": "hatebm-prepared", "version": 1, "count": 4, "channels": 3, "layout": "square", "size": 16,
        "height": 16, "width": 16, "source": str(folder), "bytes": 4 * 16 * 16 * 3, "labels": False}
    assert manifest["images_sha256"] == sha256(out / "images.u8")
    lines = "".join(f"{name}\0{sha256(folder / name)}\n" for name in sorted(arrays))
    assert manifest["source_sha256"] == hashlib.sha256(lines.encode()).hexdigest()
    stored = load_images("prepared", root=out)
    for i, name in enumerate(sorted(arrays)):
        np.testing.assert_array_equal(stored[i], centre_square(arrays[name], 16))
    np.testing.assert_array_equal(stored[1], arrays["b.png"])  # already 16×16: exact
    assert not list(tmp_path.glob(".out.*"))  # no temporary folder left


def test_folder_short_side_in_workers(image_folder, tmp_path):
    folder, arrays = image_folder
    out = prepare(str(folder), tmp_path / "w", 16, layout="short_side", workers=2, channels=1, progress=False)
    alone = prepare(str(folder), tmp_path / "a", 16, layout="short_side", channels=1, progress=False)
    assert (out / "images.u8").read_bytes() == (alone / "images.u8").read_bytes()
    manifest = read_manifest(out)
    assert (manifest["layout"], manifest["height"], manifest["width"], manifest["channels"]) == ("short_side", None,
                                                                                                 None, 1)
    index = np.load(out / "index.npy")
    assert index[:, 1:].tolist() == [[16, 24], [16, 16], [27, 16], [16, 64]]
    pixels = np.fromfile(out / "images.u8", np.uint8)
    for (offset, h, w), name in zip(index, sorted(arrays)):
        expected = short_side(read_image(folder / name, 1), 16)
        np.testing.assert_array_equal(pixels[offset:offset + h * w].reshape(h, w, 1), expected)


def test_npz_round_trip_and_channels(tmp_path):
    images = RNG.integers(0, 256, (6, 8, 8, 1), dtype=np.uint8)
    np.savez(tmp_path / "x.npz", images=images)
    out = prepare(str(tmp_path / "x.npz"), tmp_path / "p", 8, progress=False)
    np.testing.assert_array_equal(load_images("prepared", root=out), images)
    assert read_manifest(out)["source_sha256"] == sha256(tmp_path / "x.npz")
    rgb = prepare(str(tmp_path / "x.npz"), tmp_path / "rgb", 4, channels=3, progress=False)
    expected = np.stack([centre_square(np.repeat(img, 3, axis=2), 4) for img in images])
    np.testing.assert_array_equal(load_images("prepared", root=rgb), expected)


def test_cifar_is_bit_identical_with_labels(cifar10_root, tmp_path):
    root, images, labels = cifar10_root
    out = prepare("cifar10", tmp_path / "c", 32, root=str(root), progress=False)
    assert (out / "images.u8").read_bytes() == images.tobytes()
    np.testing.assert_array_equal(np.load(out / "labels.npy"), labels)
    manifest = read_manifest(out)
    assert manifest["labels"] is True and manifest["source"] == "cifar10:train"
    batches = [root / "cifar-10-batches-py" / f"data_batch_{i}" for i in range(1, 6)]
    assert manifest["source_sha256"] == sha256(*batches)
    test = PreparedImages(prepare("cifar-10:test", tmp_path / "t", 32, root=str(root), progress=False))
    assert len(test) == 1 and test.labels.shape == (1,) and test.manifest["source"] == "cifar-10:test"


def test_fashion_mnist_with_labels(fashion_root, tmp_path):
    folder, images, labels = fashion_root
    out = prepare("fashion_mnist", tmp_path / "f", 28, root=str(folder), progress=False)
    data = PreparedImages(out)
    np.testing.assert_array_equal(np.stack([data[i] for i in range(len(data))]), images)
    np.testing.assert_array_equal(data.labels, labels)
    assert data.manifest["source_sha256"] == sha256(*(folder / f for f in fashion_mnist.FILES["train"]))
    small = PreparedImages(prepare("fashion_mnist", tmp_path / "s", 14, root=str(folder), progress=False))
    np.testing.assert_array_equal(small[2], centre_square(images[2], 14))


def test_existing_output(image_folder, tmp_path):
    folder, _ = image_folder
    out = prepare(str(folder), tmp_path / "p", 8, progress=False)
    with pytest.raises(ValueError, match="already exists; pass overwrite=True"):
        prepare(str(folder), out, 4, progress=False)
    prepare(str(folder), out, 4, overwrite=True, progress=False)
    assert read_manifest(out)["size"] == 4 and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="is not empty and is not a prepared folder"):
        prepare(str(folder), other, 8, overwrite=True, progress=False)
    (tmp_path / "empty").mkdir()
    assert read_manifest(prepare(str(folder), tmp_path / "empty", 8, progress=False))["count"] == 4


def test_a_failure_leaves_nothing(image_folder, tmp_path):
    folder, _ = image_folder
    (folder / "sub" / "zz.png").write_bytes(b"broken")
    with pytest.raises(ValueError, match=r"zz\.png: not a readable image"):
        prepare(str(folder), tmp_path / "p", 8, workers=1, progress=False)
    assert not (tmp_path / "p").exists() and not list(tmp_path.glob(".p.*"))


@pytest.mark.parametrize("src, kwargs, message", [
    ("folder", {"size": 0}, "size must be a positive int"),
    ("folder", {"size": 8, "layout": "wide"}, "layout must be one of square, short_side"),
    ("folder", {"size": 8, "channels": 2}, "channels must be 1"),
    ("folder", {"size": 8, "workers": -1}, "workers must be an int >= 0"),
    ("svhn", {"size": 8}, "'svhn' is no folder, .npz/.npy file or dataset name"),
    ("prepared", {"size": 8}, "is a prepared folder already"),
])
def test_bad_arguments(image_folder, tmp_path, src, kwargs, message):
    folder, _ = image_folder
    if src == "prepared":
        src = str(prepare(str(folder), tmp_path / "done", 8, progress=False))
    elif src == "folder":
        src = str(folder)
    with pytest.raises(ValueError, match=message):
        prepare(src, tmp_path / "out", **kwargs)


def test_empty_npz_is_refused(tmp_path):
    np.savez(tmp_path / "x.npz", images=np.zeros((0, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="holds no images"):
        prepare(str(tmp_path / "x.npz"), tmp_path / "p", 4, progress=False)


def test_write_prepared_streams_images_and_refuses_wrong_ones(tmp_path):
    images = [np.full((4, 4, 3), i, np.uint8) for i in range(5)]
    out = write_prepared(tmp_path / "p", iter(images), 5, 3, 4, source="test")
    data = PreparedImages(out)
    assert len(data) == 5 and data.manifest["source"] == "test"
    np.testing.assert_array_equal(data[3], images[3])
    with pytest.raises(ValueError, match="image 1 is uint8 \\(4, 5, 3\\)"):
        write_prepared(tmp_path / "q", iter([images[0], np.zeros((4, 5, 3), np.uint8)]), 2, 3, 4)
    with pytest.raises(ValueError, match="2 images were given, 3 announced"):
        write_prepared(tmp_path / "q", iter(images[:2]), 3, 3, 4)
    assert not (tmp_path / "q").exists() and not list(tmp_path.glob(".q.tmp-*"))  # nothing half-written is left
