"""TensorFlow checkpoints (the tensor-bundle format of ``tf.train.Checkpoint`` and Keras ``save_weights``) read with
numpy alone: no TensorFlow, no protobuf library, no pickles, nothing from the files is run.

A checkpoint ``PREFIX`` is two files:

- ``PREFIX.index``: a LevelDB-style sorted table (uncompressed blocks of prefix-compressed keys, each block followed by
  a type byte and a masked CRC32C, then a 48-byte footer). The entry under the empty key is a ``BundleHeaderProto``
  (number of shards, endianness); every other key is a variable's name mapping to a ``BundleEntryProto`` (dtype,
  shape, shard, offset, size, masked CRC32C of its bytes).
- ``PREFIX.data-00000-of-0000N``: the variables' raw bytes, little-endian, C order.

Every block's and every variable's checksum is verified; a file that is not such a checkpoint, is truncated or
corrupt, or lacks a variable is one ValueError naming the file and the key.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hatebm.tf_import.crc32c import masked_crc32c

MAGIC = 0xDB4775248B80FB57
FOOTER = 48
# TF DataType enum values of the numeric types a checkpoint of network weights holds
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64, 10: np.bool_,
          14: "bfloat16", 19: np.float16}
STRING = 7


class Corrupt(Exception):
    """A structural fault inside a file, turned into one ValueError naming the file by :class:`TFCheckpoint`."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise Corrupt("a varint runs past its record")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes, numeric: tuple[int, ...] = (), nested: tuple[int, ...] = ()) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of a protobuf message: ints for varint and fixed fields, bytes otherwise.
    Fields numbered in ``numeric`` must be ints and those in ``nested`` bytes, else :class:`Corrupt`."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if pos + width > len(buf):
                raise Corrupt("a fixed-width field runs past its record")
            value, pos = int.from_bytes(buf[pos:pos + width], "little"), pos + width
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise Corrupt("a length-delimited field runs past its record")
            value, pos = buf[pos:pos + size], pos + size
        else:
            raise Corrupt(f"protobuf wire type {wire} is not one a checkpoint uses")
        if (number in numeric and not isinstance(value, int)) or (number in nested and isinstance(value, int)):
            raise Corrupt(f"field {number} of a record has the wrong wire type")
        out.append((number, value))
    return out


def _int64(value: int) -> int:
    """A varint-encoded int64 (negative ones are ten-byte varints)."""
    return value - (1 << 64) if value >= 1 << 63 else value


@dataclass(frozen=True)
class Entry:
    """Where one variable lies in the data shards, and what it holds."""

    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc: int  # masked CRC32C of the bytes
    sliced: bool  # saved as slices (partitioned variables): not read here


def _entry(value: bytes) -> Entry:
    """A BundleEntryProto: dtype 1, shape 2 (a TensorShapeProto: dims 2, each with size 1), shard 3, offset 4, size 5,
    crc32c 6, slices 7."""
    fields = dict(_fields(value, numeric=(1, 3, 4, 5, 6), nested=(2, 7)))
    dims = [dict(_fields(d, numeric=(1,))).get(1, 0) for n, d in _fields(fields.get(2, b""), nested=(2,)) if n == 2]
    shape = tuple(_int64(int(d)) for d in dims)
    numbers = [_int64(int(fields.get(k, 0))) for k in (3, 4, 5)]
    if min((*shape, *numbers), default=0) < 0:
        raise Corrupt("a record holds a negative size, offset or dimension")
    return Entry(int(fields.get(1, 0)), shape, *numbers, int(fields.get(6, 0)), 7 in fields)


def _block(data: bytes, handle: bytes) -> bytes:
    """The contents of the block a BlockHandle (varint offset, varint size) points at, checksum verified."""
    offset, pos = _varint(handle, 0)
    size, _ = _varint(handle, pos)
    end = offset + size
    if end + 5 > len(data):
        raise Corrupt(f"a block at byte {offset} runs past the end of the index (truncated?)")
    kind, stored = data[end], int.from_bytes(data[end + 1:end + 5], "little")
    if kind != 0:
        raise Corrupt(f"a block is compressed (type {kind}); TensorFlow writes checkpoint indexes uncompressed")
    if masked_crc32c(np.frombuffer(data, np.uint8, size + 1, offset)) != stored:
        raise Corrupt(f"the block at byte {offset} fails its checksum")
    return data[offset:end]


def _records(block: bytes) -> list[tuple[bytes, bytes]]:
    """The (key, value) records of a table block, prefix compression undone."""
    if len(block) < 4:
        raise Corrupt("a block is shorter than its restart count")
    restarts = int.from_bytes(block[-4:], "little")
    limit = len(block) - 4 * (restarts + 1)
    if limit < 0:
        raise Corrupt("a block's restart array is larger than the block")
    out, pos, key = [], 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        size, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + size > limit:
            raise Corrupt("a record runs past its block")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        out.append((key, block[pos:pos + size]))
        pos += size
    return out


class TFCheckpoint:
    """A TensorFlow checkpoint opened by its prefix (``.../ebm_25000.ckpt``; the ``.index`` file's path works too).
    Only the index is read on opening; :meth:`read` reads one variable from its shard."""

    def __init__(self, prefix: str | Path) -> None:
        prefix = str(prefix)
        self.prefix = prefix[: -len(".index")] if prefix.endswith(".index") else prefix
        self.index = Path(self.prefix + ".index")
        if not self.index.is_file():
            near = sorted(p.name for p in self.index.parent.glob("*.index")) if self.index.parent.is_dir() else []
            raise FileNotFoundError(f"no TensorFlow checkpoint at {self.prefix}: {self.index} does not exist (pass the "
                                    "prefix, e.g. checkpoints/ebm_25000.ckpt, beside which PREFIX.index and "
                                    "PREFIX.data-00000-of-00001 lie)" + (f"; found {', '.join(near[:5])}" if near
                                                                        else ""))
        data = self.index.read_bytes()
        try:
            self.shards, self.entries = self._parse(data)
        except Corrupt as err:
            raise ValueError(f"{self.index} is not a readable TensorFlow checkpoint index: {err}") from None

    @staticmethod
    def _parse(data: bytes) -> tuple[int, dict[str, Entry]]:
        if len(data) < FOOTER or int.from_bytes(data[-8:], "little") != MAGIC:
            raise Corrupt("it lacks the table footer's magic number (not a checkpoint index, or truncated)")
        footer = data[-FOOTER:]
        _, pos = _varint(footer, 0)  # metaindex offset
        _, pos = _varint(footer, pos)  # metaindex size
        records = [r for _, handle in _records(_block(data, footer[pos:])) for r in _records(_block(data, handle))]
        header = dict(records).get(b"")
        if header is None:
            raise Corrupt("it has no bundle header")
        head = dict(_fields(header, numeric=(1, 2), nested=(3,)))
        if head.get(2, 0) != 0:
            raise Corrupt("its tensors are big-endian; only little-endian checkpoints are read")
        shards = int(head.get(1, 1))
        if not 1 <= shards < 1 << 31:
            raise Corrupt(f"its header records {shards} data shards")
        entries = {key.decode("utf-8", "replace"): _entry(value) for key, value in records if key}
        return shards, entries

    def keys(self) -> list[str]:
        return list(self.entries)

    def shard_path(self, shard: int) -> Path:
        return Path(f"{self.prefix}.data-{shard:05d}-of-{self.shards:05d}")

    def entry(self, key: str) -> Entry:
        """The index entry of ``key``, checked against its data shard (present, long enough): FileNotFoundError or
        ValueError naming the file and the key when it is absent, unreadable or out of the shard's bounds."""
        entry = self.entries.get(key)
        if entry is None:
            raise ValueError(f"{self.prefix} lacks the variable {key!r}; is it a checkpoint of this network (see "
                             "`hatebm import-tf --help` for which file each experiment expects)?")
        if entry.dtype not in DTYPES or entry.sliced:
            what = "a string" if entry.dtype == STRING else "sliced" if entry.sliced else f"of TF dtype {entry.dtype}"
            raise ValueError(f"{self.prefix}: the variable {key!r} is {what}, not a dense numeric tensor")
        itemsize = 2 if DTYPES[entry.dtype] == "bfloat16" else np.dtype(DTYPES[entry.dtype]).itemsize
        expected = math.prod(entry.shape) * itemsize
        if entry.size != expected:
            raise ValueError(f"{self.prefix}: the variable {key!r} records {entry.size} bytes for shape "
                             f"{list(entry.shape)}, not {expected}; the index is corrupt")
        if entry.shard >= self.shards:
            raise ValueError(f"{self.index}: the variable {key!r} lies in shard {entry.shard} of {self.shards}; the "
                             "index is corrupt")
        path = self.shard_path(entry.shard)
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: a TensorFlow checkpoint needs its data files beside "
                                    f"{self.index}")
        if entry.offset + entry.size > path.stat().st_size:
            raise ValueError(f"{path} ends before the variable {key!r} (truncated?): copy the checkpoint again")
        return entry

    def read(self, key: str) -> np.ndarray:
        """The variable ``key`` as a numpy array of its dtype and shape (bfloat16 as float32), checksum verified."""
        entry = self.entry(key)
        dtype = np.dtype(np.uint16 if DTYPES[entry.dtype] == "bfloat16" else DTYPES[entry.dtype])
        path = self.shard_path(entry.shard)
        raw = np.empty(entry.size, np.uint8)
        try:
            with open(path, "rb") as fh:
                fh.seek(entry.offset)
                got = fh.readinto(memoryview(raw))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path} is missing: a TensorFlow checkpoint needs its data file beside "
                                    f"{self.index}") from None
        if got != entry.size:
            raise ValueError(f"{path} ends before the variable {key!r} (truncated?): copy the checkpoint again")
        if masked_crc32c(raw) != entry.crc:
            raise ValueError(f"{path}: the variable {key!r} fails its checksum (the file is corrupt): copy the "
                             "checkpoint again")
        array = raw.view(dtype.newbyteorder("<")).reshape(entry.shape)
        if DTYPES[entry.dtype] == "bfloat16":
            return (array.astype(np.uint32) << 16).view(np.float32)
        return array.astype(dtype.newbyteorder("="), copy=False)
