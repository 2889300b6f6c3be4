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

TF_DTYPES = {np.dtype(np.float32): 1, np.dtype(np.float64): 2, np.dtype(np.int32): 3, np.dtype(np.int64): 9,
             np.dtype(np.float16): 19, np.dtype(np.bool_): 10}
BFLOAT16 = 14  # numpy has no bfloat16: pass its bits as uint16 with bfloat16=True


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


def entry_proto(dtype: int, shape: tuple[int, ...], offset: int, size: int, crc: int, shard: int = 0) -> bytes:
    dims = b"".join(field(2, field(1, d % (1 << 64))) for d in shape)
    return (field(1, dtype) + field(2, dims) + (field(3, shard) if shard else b"") + field(4, offset % (1 << 64))
            + field(5, size) + field(6, crc, wire=5))


def _block(records: list[tuple[bytes, bytes]], restart_every: int = 4) -> bytes:
    """A table block: keys prefix-compressed against the previous one, a restart point every ``restart_every``."""
    body, restarts, previous = bytearray(), [], b""
    for i, (key, value) in enumerate(records):
        shared = 0
        if i % restart_every:
            while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
                shared += 1
        else:
            restarts.append(len(body))
        body += varint(shared) + varint(len(key) - shared) + varint(len(value)) + key[shared:] + value
        previous = key
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
                     suffix: str = SUFFIX, per_block: int = 16, extra: Iterable[tuple[bytes, bytes]] = (),
                     shards: int = 1, bfloat16: Iterable[str] = ()) -> None:
    """Write ``tensors`` (name -> array, or a function making it, so huge checkpoints never sit in memory) as the
    checkpoint ``prefix`` with keys ``name + suffix``, round-robin over ``shards`` data files, ``per_block`` records per
    index block; the uint16 arrays named in ``bfloat16`` are stored as bfloat16; ``extra`` adds raw (key, value)
    records to the index (e.g. a string entry)."""
    prefix, bf16 = str(prefix), set(bfloat16)
    records = [(b"", field(1, shards) + field(3, field(1, 1)))]
    files = [open(f"{prefix}.data-{s:05d}-of-{shards:05d}", "wb") for s in range(shards)]
    try:
        for i, name in enumerate(sorted(tensors)):
            value = tensors[name]
            array = np.ascontiguousarray(value() if callable(value) else value)
            raw = array.view(np.uint8).reshape(-1)
            data = files[i % shards]
            offset = data.tell()
            data.write(memoryview(raw))
            dtype = BFLOAT16 if name in bf16 else TF_DTYPES[array.dtype]
            records.append(((name + suffix).encode(), entry_proto(dtype, array.shape, offset, raw.size,
                                                                  masked_crc32c(raw), i % shards)))
            del array, raw
    finally:
        for f in files:
            f.close()
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


def optimizer_file(path: str | Path, hat_prefix: str | Path, resolution: int, step: int = 2, seed: int = 0) -> None:
    """A synthetic optimiser file of the hat checkpoint ``hat_prefix`` in the authors' layout (their
    ``np.savez(path, *optimizer.get_weights())``: the step counter, then average, m and v for every variable in
    trainable order), written one array at a time."""
    import zipfile

    import torch

    from hatebm.tf_import import TFCheckpoint
    from hatebm.tf_import.layout import Family

    hat = TFCheckpoint(hat_prefix)
    family = Family("hat", resolution)
    with torch.device("meta"):
        from hatebm.tf_import.importer import BUILDERS
        from hatebm.config import ModelConfig

        width = hat.entry(family.tf_key("fc.weight")).shape[0]
        channels = hat.entry(family.tf_key("blocks.0.conv1.weight")).shape[2]
        names = [n for n, _ in BUILDERS["hat"](ModelConfig(resolution=resolution, channels=channels,
                                                           hat_width=width)).named_parameters()]
    shapes = [hat.entry(family.tf_key(n)).shape for n in names]
    arrays = [lambda: np.array(step, np.int64)] + [
        (lambda shape=shape, i=i: np.random.default_rng([seed, i]).standard_normal(shape, dtype=np.float32) ** 2)
        for i, shape in enumerate(shapes * 3)]
    with zipfile.ZipFile(path, "w", allowZip64=True) as zf:
        for i, make in enumerate(arrays):
            with zf.open(f"arr_{i}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, make(), allow_pickle=False)
