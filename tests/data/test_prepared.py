from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from torch.utils.data import DataLoader

from hatebm.data import FolderImages, PreparedImages, load_images, load_labeled, prepare, read_manifest
from hatebm.data.images import centre_square, hflip, read_image, short_side
from hatebm.data.prepared import verify
from hatebm.data.registry import parse_spec


@pytest.fixture
def short(image_folder, tmp_path):
    """(prepared folder of layout short_side at size 16, the source's image files in order)."""
    folder, _ = image_folder
    out = prepare(str(folder), tmp_path / "short", 16, layout="short_side", progress=False)
    return out, FolderImages(folder, 16).files


def test_centre_crop_of_short_side_layout(short):
    out, files = short
    data = PreparedImages(out)
    assert (len(data), data.size, data.channels, data.labels) == (4, 16, 3, None)
    for i, file in enumerate(files):
        item = data[i]
        assert type(item) is np.ndarray and item.shape == (16, 16, 3) and item.flags.writeable
        np.testing.assert_array_equal(item, centre_square(short_side(read_image(file, 3), 16), 16))
        np.testing.assert_array_equal(data[(7, i)], item)  # nothing random: the epoch does not matter
    np.testing.assert_array_equal(data[-1], data[3])
    with pytest.raises(IndexError):
        data[4]


def test_random_crop_is_a_function_of_seed_epoch_index(short):
    out, _ = short
    data = PreparedImages(out, crop="random", seed=1)
    wide = 3  # sub/d.png, 16×64: 49 crop positions
    crops = [data[(epoch, wide)] for epoch in range(8)]
    assert len({c.tobytes() for c in crops}) > 3  # differs across epochs
    again = PreparedImages(out, crop="random", seed=1)
    for epoch, crop in enumerate(crops):
        np.testing.assert_array_equal(again[(epoch, wide)], crop)
    np.testing.assert_array_equal(data[wide], crops[0])  # an int key is epoch 0
    other = PreparedImages(out, crop="random", seed=2)
    assert any(not np.array_equal(other[(e, wide)], crops[e]) for e in range(8))


def test_flip_half_of_the_time(short):
    out, _ = short
    plain, flipped = PreparedImages(out), PreparedImages(out, flip=True)
    seen = set()
    for epoch in range(16):
        item = flipped[(epoch, 0)]
        seen.add(np.array_equal(item, hflip(plain[0])))
        assert np.array_equal(item, plain[0]) or np.array_equal(item, hflip(plain[0]))
    assert seen == {True, False}


def test_folder_images_match_prepared_ones(image_folder, short, tmp_path):
    folder, _ = image_folder
    out, _ = short
    square = prepare(str(folder), tmp_path / "square", 16, progress=False)
    for prepared, kwargs in ((square, {"flip": True}), (out, {"crop": "random", "flip": True, "seed": 3})):
        lazy, stored = FolderImages(folder, 16, **kwargs), PreparedImages(prepared, **kwargs)
        for key in [(0, 0), (1, 2), (5, 3), (2, 1)]:
            np.testing.assert_array_equal(lazy[key], stored[key])
    np.testing.assert_array_equal(np.stack([FolderImages(folder, 16)[i] for i in range(4)]),
                                  load_images("prepared", root=square))
    assert FolderImages(folder, 8, channels=1)[0].shape == (8, 8, 1)


def test_pickles_without_its_open_file_and_reads_alike_in_workers(short):
    out, _ = short
    data = PreparedImages(out, crop="random", flip=True, seed=5)
    keys = [(epoch, i) for epoch in range(3) for i in range(4)]
    expected = [data[k] for k in keys]  # opens the file in this process
    assert len(pickle.dumps(data)) < 5000 and pickle.loads(pickle.dumps(data))._file is None
    loader = DataLoader(data, sampler=keys, batch_size=None, num_workers=2)
    for got, want in zip(loader, expected, strict=True):
        np.testing.assert_array_equal(got.numpy(), want)


def test_items_are_copies(tmp_path):
    np.savez(tmp_path / "x.npz", images=np.full((2, 4, 4, 1), 9, np.uint8))
    data = PreparedImages(prepare(str(tmp_path / "x.npz"), tmp_path / "p", 4, progress=False))
    item = data[0]
    item[:] = 0
    assert data[0].min() == 9


def test_load_images_load_labeled_and_parse_spec(cifar10_root, tmp_path):
    root, images, labels = cifar10_root
    out = prepare("cifar10", tmp_path / "c", 32, root=str(root), progress=False)
    assert parse_spec(str(out)) == ("prepared", "test", str(out))
    np.testing.assert_array_equal(load_images("prepared", root=out), images)
    got, got_labels = load_labeled("prepared", root=out)
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(got_labels, labels)
    np.testing.assert_array_equal(PreparedImages(out).labels, labels)
    folder = tmp_path / "f"
    folder.mkdir()
    np.savez(tmp_path / "x.npz", images=images)
    plain = prepare(str(tmp_path / "x.npz"), tmp_path / "n", 32, progress=False)
    with pytest.raises(ValueError, match="which has no labels; use load_images"):
        load_labeled("prepared", root=plain)
    with pytest.raises(ValueError, match=r"pass data.root= \(root= in Python\)"):
        load_images("prepared")
    assert parse_spec(str(folder))[0] == "folder"


def test_bad_arguments(short, tmp_path):
    out, _ = short
    with pytest.raises(ValueError, match="crop must be one of centre, random"):
        PreparedImages(out, crop="middle")
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        PreparedImages(out, seed=-1)
    with pytest.raises(TypeError, match=r"index or \(epoch, index\)"):
        PreparedImages(out)[(0, 1, 2)]
    with pytest.raises(FileNotFoundError, match="not a folder"):
        FolderImages(tmp_path / "nowhere", 8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no png/jpg"):
        FolderImages(tmp_path / "empty", 8)
    with pytest.raises(ValueError, match="size must be a positive int"):
        FolderImages(out, 0)


def _manifest(out, **changes):
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, **changes}))


def _drop_key(out):
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["images_sha256"]
    (out / "manifest.json").write_text(json.dumps(manifest))


BROKEN = {
    "truncated images": (lambda out: (out / "images.u8").write_bytes((out / "images.u8").read_bytes()[:-1]),
                         r"images.u8 holds \d+ bytes, the manifest says \d+"),
    "no images": (lambda out: (out / "images.u8").unlink(), "images.u8 is missing"),
    "not json": (lambda out: (out / "manifest.json").write_text("{format: hatebm"), "manifest.json is not valid JSON"),
    "no manifest": (lambda out: (out / "manifest.json").unlink(), "no manifest.json, so not a prepared folder"),
    "wrong format": (lambda out: _manifest(out, format="edm"), "not a hatebm-prepared manifest .format 'edm'"),
    "wrong version": (lambda out: _manifest(out, version=2), "version 2; this hatebm reads version 1"),
    "missing key": (_drop_key, "manifest.json lacks images_sha256"),
    "bad field": (lambda out: _manifest(out, channels=4), "invalid fields"),
    "no index": (lambda out: (out / "index.npy").unlink(), "index.npy is missing"),
    "index shape": (lambda out: np.save(out / "index.npy", np.zeros((3, 3), np.int64)), r"expected int64 \(4, 3\)"),
    "index offsets": (lambda out: np.save(out / "index.npy", np.load(out / "index.npy") + 1),
                      "index.npy does not match"),
    "index pickle": (lambda out: np.save(out / "index.npy", np.array([None]), allow_pickle=True), "not a readable"),
    "labels gone": (lambda out: _manifest(out, labels=True), "labels.npy is missing"),
}


@pytest.mark.parametrize("breakage", BROKEN, ids=list(BROKEN))
def test_broken_folders_give_one_clear_error(short, breakage):
    out, _ = short
    damage, message = BROKEN[breakage]
    damage(out)
    for opener in (read_manifest, PreparedImages, lambda root: load_images("prepared", root=root)):
        with pytest.raises((ValueError, FileNotFoundError), match=message) as err:
            opener(out)
        assert str(out) in str(err.value) and "run `hatebm data prep SRC --out" in str(err.value)
        assert "\n" not in str(err.value)


def test_verify_recomputes_the_checksum(short, tmp_path):
    out, _ = short
    assert verify(out) == read_manifest(out)
    pixels = bytearray((out / "images.u8").read_bytes())
    pixels[100] ^= 1
    (out / "images.u8").write_bytes(bytes(pixels))
    read_manifest(out)  # same size: only verify notices
    with pytest.raises(ValueError, match="images.u8 has SHA-256 .* the manifest says"):
        verify(out)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        read_manifest(tmp_path / "missing")
