"""A TensorFlow checkpoint writer in numpy, for tests and benchmarks: synthetic checkpoints of any size (the authors'
large nets), and damaged ones, without TensorFlow. It writes the tensor-bundle format as TF does (a LevelDB-style
table of ``BundleEntryProto`` records, uncompressed blocks with masked CRC32C trailers, raw little-endian data),
read back by :class:`hatebm.tf_import.TFCheckpoint`; the real TF files under tests/fixtures/tf_reference check the
reader against TensorFlow itself."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np

from hatebm.tf_import.bundle import MAGIC
from hatebm.tf_import.crc32c import masked_crc32c
from hatebm.tf_import.layout import SUFFIX

TF_DTYPES = {np.dtype(np.float32): 1, np.dtype(np.float64): 2, np.dtype(np.int32): 3, np.dtype(np.int64): 9}


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, value: int | bytes, wire: int | None = None) -> bytes:
    if isinstance(value, bytes):
        return varint(number << 3 | 2) + varint(len(value)) + value
    if wire == 5:
        return varint(number << 3 | 5) + value.to_bytes(4, "little")
    return varint(number << 3) + varint(value)


def entry_proto(dtype: int, shape: tuple[int, ...], offset: int, size: int, crc: int) -> bytes:
    dims = b"".join(field(2, field(1, d)) for d in shape)
    return field(1, dtype) + field(2, dims) + field(4, offset) + field(5, size) + field(6, crc, wire=5)


def _block(records: list[tuple[bytes, bytes]]) -> bytes:
    body, restarts = bytearray(), []
    for key, value in records:  # a restart point at every record: no prefix sharing
        restarts.append(len(body))
        body += varint(0) + varint(len(key)) + varint(len(value)) + key + value
    restarts = restarts or [0]
    return bytes(body) + b"".join(r.to_bytes(4, "little") for r in restarts) + len(restarts).to_bytes(4, "little")


def _put(out: bytearray, contents: bytes) -> bytes:
    """Append a block and its trailer; return its BlockHandle."""
    handle = varint(len(out)) + varint(len(contents))
    trailer = bytes([0])
    crc = masked_crc32c(np.frombuffer(contents + trailer, np.uint8))
    out += contents + trailer + crc.to_bytes(4, "little")
    return handle


def write_checkpoint(prefix: str | Path, tensors: Mapping[str, np.ndarray | Callable[[], np.ndarray]],
                     suffix: str = SUFFIX, per_block: int = 16, extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """Write ``tensors`` (name -> array, or a function making it, so huge checkpoints never sit in memory) as the
    checkpoint ``prefix`` with keys ``name + suffix``, ``per_block`` records per index block; ``extra`` adds raw
    (key, value) records to the index (e.g. a string entry)."""
    prefix = str(prefix)
    records, offset = [(b"", field(1, 1) + field(3, field(1, 1)))], 0
    with open(f"{prefix}.data-00000-of-00001", "wb") as data:
        for name in sorted(tensors):
            value = tensors[name]
            array = np.ascontiguousarray(value() if callable(value) else value)
            raw = array.view(np.uint8).reshape(-1)
            data.write(memoryview(raw))
            records.append(((name + suffix).encode(), entry_proto(TF_DTYPES[array.dtype], array.shape, offset,
                                                                  raw.size, masked_crc32c(raw))))
            offset += raw.size
            del array, raw
    records += list(extra)
    records.sort()
    index, out = [], bytearray()
    for i in range(0, len(records), per_block):
        chunk = records[i:i + per_block]
        index.append((chunk[-1][0], _put(out, _block(chunk))))
    meta = _put(out, _block([]))
    top = _put(out, _block(index))
    footer = meta + top
    out += footer + bytes(40 - len(footer)) + MAGIC.to_bytes(8, "little")
    Path(f"{prefix}.index").write_bytes(bytes(out))


def family_checkpoint(prefix: str | Path, kind: str, resolution: int, width: int, channels: int = 3,
                      latent_dim: int = 128, seed: int = 0) -> int:
    """A synthetic checkpoint of one of the authors' networks (``kind`` as :func:`hatebm.tf_import.network` takes it)
    in their layout, random values made one variable at a time; returns its number of float32 values."""
    import torch

    from hatebm.config import ModelConfig
    from hatebm.tf_import.importer import BUILDERS
    from hatebm.tf_import.layout import Family

    model = ModelConfig(resolution=resolution, channels=channels, hat_width=width, gen_width=width,
                        latent_dim=latent_dim, latent_shape=[1, resolution // 2, resolution // 2]
                        if kind in ("encoder", "decoder") else [])
    with torch.device("meta"):
        net = BUILDERS[kind](model)
    family, tensors, total = Family(kind, resolution), {}, 0
    for i, (key, value) in enumerate(net.state_dict().items()):
        if key.endswith("num_batches_tracked"):
            continue
        shape = tuple(value.shape)
        shape = shape[::-1] if len(shape) == 2 else (*shape[2:], shape[1], shape[0]) if len(shape) == 4 else shape
        scale = 1.0 / np.sqrt(max(1, int(np.prod(shape[:-1])))) if len(shape) > 1 else 0.1
        positive = key.endswith("running_var")

        def make(shape=shape, scale=scale, positive=positive, i=i) -> np.ndarray:
            values = np.random.default_rng([seed, i]).standard_normal(shape, dtype=np.float32) * np.float32(scale)
            return np.abs(values) + np.float32(0.5) if positive else values

        tensors[family.tf_key(key)[: -len(SUFFIX)]] = make
        total += int(np.prod(shape))
    write_checkpoint(prefix, tensors)
    return total
