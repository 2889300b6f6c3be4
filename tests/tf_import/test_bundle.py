"""The tensor-bundle reader: against TensorFlow's own files (tests/fixtures/tf_reference), against the test writer at
sizes and layouts TF's small files do not reach, and on damaged files."""
from pathlib import Path

import numpy as np
import pytest
from tfref import FIXTURES
from tfwriter import field, write_checkpoint

from hatebm.tf_import import TFCheckpoint
from hatebm.tf_import.layout import SUFFIX


def test_reads_every_variable_tensorflow_wrote():
    ckpt = TFCheckpoint(FIXTURES / "gen32.ckpt")
    keys = [k for k in ckpt.keys() if k.endswith(SUFFIX)]
    assert len(keys) == 50 and "_CHECKPOINTABLE_OBJECT_GRAPH" in ckpt.keys()
    kernel = ckpt.read("lin_1/kernel" + SUFFIX)
    assert kernel.dtype == np.float32 and kernel.shape == (16, 128)
    variance = ckpt.read("bn_5/moving_variance" + SUFFIX)
    assert (variance >= 0.5).all() and (variance <= 1.5).all()  # as make_fixtures.py drew them
    assert TFCheckpoint(FIXTURES / "gen32.ckpt.index").keys() == ckpt.keys()  # the .index path works too


def test_writer_round_trip_over_many_blocks(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {f"net/v{i:02d}": rng.standard_normal((i + 1, 3)).astype(np.float32) for i in range(40)}
    tensors["net/counts"] = np.arange(5, dtype=np.int64)
    write_checkpoint(tmp_path / "x.ckpt", tensors, per_block=3)
    ckpt = TFCheckpoint(tmp_path / "x.ckpt")
    assert sorted(ckpt.keys()) == sorted(k + SUFFIX for k in tensors)
    for name, value in tensors.items():
        np.testing.assert_array_equal(ckpt.read(name + SUFFIX), value)


@pytest.fixture
def small(tmp_path):
    write_checkpoint(tmp_path / "s.ckpt", {"a": np.ones((4, 4), np.float32), "b": np.zeros(3, np.float32)},
                     extra=[(b"names", field(1, 7) + field(2, b""))])
    return tmp_path / "s.ckpt"


def flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_missing_checkpoint_names_the_index(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no TensorFlow checkpoint at .*nope\.ckpt.*nope\.ckpt\.index"):
        TFCheckpoint(tmp_path / "nope.ckpt")


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "x.ckpt.index").write_bytes(b"PK\x03\x04 a zip file, not an index" * 4)
    with pytest.raises(ValueError, match=r"x\.ckpt\.index is not a readable TensorFlow checkpoint index: .*magic"):
        TFCheckpoint(tmp_path / "x.ckpt")


def test_truncated_index(small):
    index = Path(f"{small}.index")
    index.write_bytes(index.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"s\.ckpt\.index is not a readable"):
        TFCheckpoint(small)


def test_corrupt_index_block_fails_its_checksum(small):
    flip(Path(f"{small}.index"), 3)
    with pytest.raises(ValueError, match=r"fails its checksum"):
        TFCheckpoint(small)


def test_corrupt_data_names_file_and_variable(small):
    flip(Path(f"{small}.data-00000-of-00001"), 5)
    ckpt = TFCheckpoint(small)
    ckpt.read("b" + SUFFIX)  # the other variable is intact
    with pytest.raises(ValueError, match=r"s\.ckpt\.data-00000-of-00001: the variable 'a/\.ATTRIBUTES.*checksum"):
        ckpt.read("a" + SUFFIX)


def test_truncated_data(small):
    data = Path(f"{small}.data-00000-of-00001")
    data.write_bytes(data.read_bytes()[:70])
    with pytest.raises(ValueError, match=r"ends before the variable 'b/.*truncated"):
        TFCheckpoint(small).read("b" + SUFFIX)


def test_missing_data_file(small):
    Path(f"{small}.data-00000-of-00001").unlink()
    with pytest.raises(FileNotFoundError, match=r"data-00000-of-00001 is missing"):
        TFCheckpoint(small).read("a" + SUFFIX)


def test_missing_and_non_numeric_variables(small):
    ckpt = TFCheckpoint(small)
    with pytest.raises(ValueError, match=r"s\.ckpt lacks the variable 'c'"):
        ckpt.read("c")
    with pytest.raises(ValueError, match=r"'names' is a string, not a dense numeric tensor"):
        ckpt.read("names")


def test_shards_dtypes_and_prefix_compression(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {"net/block2/conv_1/kernel": rng.standard_normal((3, 3, 2, 2)).astype(np.float32),
               "net/block2/conv_1/bias": rng.standard_normal(2).astype(np.float64),
               "net/block2/conv_2/kernel": rng.standard_normal((3, 3, 2, 2)).astype(np.float16),
               "net/flags": np.array([True, False, True]),
               "net/half": np.array([0x3F80, 0xC000], np.uint16)}  # bfloat16 bits of 1.0 and -2.0
    write_checkpoint(tmp_path / "x.ckpt", tensors, shards=3, bfloat16=["net/half"], per_block=2)
    ckpt = TFCheckpoint(tmp_path / "x.ckpt")
    assert ckpt.shards == 3 and {e.shard for e in ckpt.entries.values()} == {0, 1, 2}
    for name, value in tensors.items():
        got = ckpt.read(name + SUFFIX)
        if name == "net/half":
            np.testing.assert_array_equal(got, np.array([1.0, -2.0], np.float32))
        else:
            assert got.dtype == value.dtype
            np.testing.assert_array_equal(got, value)
    Path(f"{tmp_path / 'x.ckpt'}.data-00002-of-00003").unlink()
    with pytest.raises(FileNotFoundError, match=r"x\.ckpt\.data-00002-of-00003 is missing"):
        ckpt.read("net/block2/conv_2/kernel" + SUFFIX)


def entry(**fields) -> bytes:
    """A BundleEntryProto with the given fields (raw field(...) bytes) in place of a sound one's."""
    sound = {1: field(1, 1), 2: field(2, field(2, field(1, 2))), 4: field(4, 0), 5: field(5, 8),
             6: field(6, 0, wire=5)}
    sound.update({int(k[1:]): v for k, v in fields.items()})
    return b"".join(v for v in sound.values() if v is not None)


@pytest.mark.parametrize("fields,message", [
    ({"f1": field(1, b"\x01")}, "field 1 of a record has the wrong wire type"),
    ({"f2": field(2, 7)}, "field 2 of a record has the wrong wire type"),
    ({"f2": field(2, field(2, 9))}, "field 2 of a record has the wrong wire type"),
    ({"f4": field(4, (1 << 64) - 4)}, "negative size, offset or dimension"),
    ({"f2": field(2, field(2, field(1, 1 << 40))), "f5": field(5, 4 << 40)}, "ends before the variable"),
    ({"f4": field(4, 1 << 62)}, "ends before the variable"),
    ({"f5": field(5, 12)}, r"records 12 bytes for shape \[2\], not 8"),
    ({"f3": field(3, 5)}, "lies in shard 5 of 1"),
])
def test_malformed_entries_with_sound_checksums(tmp_path, fields, message):
    """Records whose block checksums are right but whose contents are not: one ValueError naming the file, before any
    allocation."""
    write_checkpoint(tmp_path / "m.ckpt", {"a": np.zeros(2, np.float32)}, extra=[(b"bad", entry(**fields))])
    with pytest.raises(ValueError, match=message) as err:
        TFCheckpoint(tmp_path / "m.ckpt").read("bad")
    assert "m.ckpt" in str(err.value)
