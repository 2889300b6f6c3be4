from __future__ import annotations

import numpy as np
import pytest

from hatebm.data import load_images

RNG = np.random.default_rng(3)
NHWC = RNG.integers(0, 256, (4, 5, 6, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "stored, expected",
    [
        (NHWC, NHWC),
        (NHWC.transpose(0, 3, 1, 2), NHWC),  # N×C×H×W
        (NHWC[..., 0], NHWC[..., :1]),  # N×H×W
        (NHWC[..., :1].transpose(0, 3, 1, 2), NHWC[..., :1]),
    ],
)
def test_layouts(tmp_path, stored, expected):
    np.savez(tmp_path / "x.npz", images=stored, labels=np.arange(4))
    got = load_images("npz", root=tmp_path / "x.npz")
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(got, expected)


def test_single_array_of_any_name_and_npy(tmp_path):
    np.savez_compressed(tmp_path / "x.npz", faces=NHWC)
    np.testing.assert_array_equal(load_images("npz", root=tmp_path / "x.npz"), NHWC)
    np.save(tmp_path / "x.npy", NHWC)
    np.testing.assert_array_equal(load_images("npz", root=tmp_path / "x.npy"), NHWC)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"images": NHWC.astype(np.float32)}, "must be uint8.*float32"),
        ({"images": NHWC[..., :2]}, r"C in \{1, 3\}.*\(4, 5, 6, 2\)"),
        ({"images": NHWC[0, 0]}, r"got shape \(6, 3\)"),
        ({"images": np.zeros((2, 3, 4, 3), np.uint8)}, "ambiguous"),
        ({"a": NHWC, "b": NHWC}, r"no array named 'images' among \['a', 'b'\]"),
    ],
)
def test_bad_arrays(tmp_path, arrays, message):
    np.savez(tmp_path / "x.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        load_images("npz", root=tmp_path / "x.npz")


def test_bad_files(tmp_path):
    with pytest.raises(ValueError, match=r"pass data.root= \(root= in Python\)"):
        load_images("npz")
    with pytest.raises(FileNotFoundError, match="no file"):
        load_images("npz", root=tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(ValueError, match="junk.npz: not a readable .npz"):
        load_images("npz", root=tmp_path / "junk.npz")
    np.savez(tmp_path / "obj.npz", images=np.array([None, 1], dtype=object))
    with pytest.raises(ValueError, match="obj.npz: not a readable .npz"):
        load_images("npz", root=tmp_path / "obj.npz")
