"""safetensors files written one tensor at a time, for tensors too many to hold twice in memory.

``safetensors.torch.save_file`` serialises every tensor to bytes before writing, so saving W bytes of weights holds
2W. :func:`save` writes the same format (an 8-byte header length, a JSON header of dtypes, shapes and offsets padded
to 8 bytes, then the raw little-endian data, largest dtypes first so that every tensor is aligned to its item size)
from :class:`Lazy` tensors, each made only when its turn comes and dropped after it is written; plain tensors go to
``save_file`` as before. Files are read with safetensors as usual.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import torch
from safetensors.torch import save_file
from torch import Tensor

CODES = {torch.float64: "F64", torch.int64: "I64", torch.float32: "F32", torch.int32: "I32", torch.float16: "F16",
         torch.bfloat16: "BF16", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


@dataclass(frozen=True)
class Lazy:
    """A tensor of known ``dtype`` and ``shape`` that ``make()`` produces (a Tensor, or a numpy array or scalar) when
    written."""

    dtype: torch.dtype
    shape: tuple[int, ...]
    make: Callable[[], Tensor | np.ndarray]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * torch.empty((), dtype=self.dtype).element_size()


def _lazy(key: str, value: Tensor | Lazy) -> Lazy:
    entry = value if isinstance(value, Lazy) else Lazy(value.dtype, tuple(value.shape), lambda: value)
    if entry.dtype not in CODES:
        raise ValueError(f"{key}: safetensors files hold {', '.join(str(d) for d in CODES)}, not {entry.dtype}")
    return entry


def _stream(meta: dict[str, Lazy], order: list[str], path: str | Path) -> None:
    """Write the file: header, then each tensor made in turn."""
    header, offset = {}, 0
    for key in order:
        entry = meta[key]
        header[key] = {"dtype": CODES[entry.dtype], "shape": list(entry.shape),
                       "data_offsets": [offset, offset + entry.nbytes]}
        offset += entry.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as fh:
        fh.write(len(text).to_bytes(8, "little"))
        fh.write(text)
        for key in order:
            entry = meta[key]
            value = entry.make()
            tensor = value if isinstance(value, Tensor) else torch.from_numpy(np.require(np.asarray(value),
                                                                                            requirements="C"))
            tensor = tensor.detach().to("cpu", entry.dtype).contiguous()
            if tuple(tensor.shape) != tuple(entry.shape):
                raise ValueError(f"{key}: made a tensor of shape {list(tensor.shape)}, announced {list(entry.shape)}")
            fh.write(memoryview(tensor.reshape(-1).view(torch.uint8).numpy()) if tensor.numel() else b"")
            del value, tensor


def save(tensors: Mapping[str, Tensor | Lazy], path: str | Path) -> None:
    """Write ``tensors`` as a safetensors file at ``path``; lazy ones are made one at a time."""
    if not any(isinstance(v, Lazy) for v in tensors.values()):
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(path))
        return
    meta = {k: _lazy(k, v) for k, v in tensors.items()}
    size = {dtype: i for i, dtype in enumerate(CODES)}  # CODES lists dtypes from the widest item down
    _stream(meta, sorted(meta, key=lambda k: (size[meta[k].dtype], k)), path)
