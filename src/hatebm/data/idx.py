"""The IDX format of (Fashion-)MNIST, gzipped: magic 0x0000 08 ndim (uint8 data), big-endian int32 sizes, raw bytes."""
from __future__ import annotations

import gzip
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
            data = np.empty(shape, dtype=np.uint8)
            buf, got = memoryview(data).cast("B"), 0
            while got < data.nbytes and (n := f.readinto(buf[got:])):
                got += n
            if got != data.nbytes:
                raise ValueError(f"{path}: truncated, {got} of {data.nbytes} data bytes for shape {shape}; fetch it again")
            if f.read(1):
                raise ValueError(f"{path}: more bytes than its header's shape {shape} allows; fetch it again")
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"{path}: unreadable gzip data ({err}); the file is corrupt, fetch it again") from err
    return data
