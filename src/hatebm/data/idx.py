"""The IDX format of (Fashion-)MNIST, gzipped: magic 0x0000 08 ndim (uint8 data), big-endian int32 sizes, raw bytes."""
from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """The uint8 array of a gzipped IDX file with `ndim` dimensions; ValueError naming the file if it is corrupt."""
    try:
        with gzip.open(path, "rb") as f:
            magic = f.read(4)
            if len(magic) != 4 or magic[:3] != b"\x00\x00\x08" or magic[3] != ndim:
                raise ValueError(
                    f"{path}: not an IDX file of uint8 with {ndim} dimensions (magic {magic.hex() or 'missing'}, "
                    f"expected 000008{ndim:02x}); the file is corrupt or of another kind, fetch it again"
                )
            header = f.read(4 * ndim)
            if len(header) != 4 * ndim:
                raise ValueError(f"{path}: truncated IDX header; fetch the file again")
            shape = tuple(int(s) for s in np.frombuffer(header, dtype=">u4"))
            body = f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: unreadable gzip data ({err}); the file is corrupt, fetch it again") from err
    if len(body) != math.prod(shape):
        raise ValueError(
            f"{path}: {len(body)} data bytes but its header's shape {shape} needs {math.prod(shape)}; "
            "the file is truncated or corrupt, fetch it again"
        )
    return np.frombuffer(bytearray(body), dtype=np.uint8).reshape(shape)  # bytearray: a writable array
