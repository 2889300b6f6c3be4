"""CRC32C (Castagnoli), as TensorFlow checks its checkpoints, in numpy: fast enough for gigabyte tensors.

A CRC register is linear over GF(2) in its bytes, so the buffer is cut into rows that are checksummed side by side
(one numpy operation per byte column, over all rows at once), and the rows' registers are combined pairwise in a tree
with the linear map "advance through n zero bytes", applied through four 256-entry tables. Leading zero bytes leave a
zero register unchanged, which lets the buffer be padded in front to whole rows.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

POLY = 0x82F63B78  # reflected Castagnoli polynomial
MASK_DELTA = 0xA282EAD8


def _byte_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(POLY), table >> 1).astype(np.uint32)
    return table


TABLE = _byte_table()
_TABLE = [int(t) for t in TABLE]


def _zero_byte(v: int) -> int:
    return _TABLE[v & 0xFF] ^ (v >> 8)


def _apply(columns: tuple[int, ...], v: int) -> int:
    out, bit = 0, 0
    while v:
        if v & 1:
            out ^= columns[bit]
        v >>= 1
        bit += 1
    return out


@lru_cache(maxsize=None)
def _advance(nbytes: int) -> tuple[int, ...]:
    """The images of the 32 register bits after ``nbytes`` zero bytes (the columns of that linear map)."""
    if nbytes == 1:
        return tuple(_zero_byte(1 << b) for b in range(32))
    half = _advance(nbytes // 2)
    cols = tuple(_apply(half, c) for c in half)
    if nbytes % 2:
        cols = tuple(_zero_byte(c) for c in cols)
    return cols


@lru_cache(maxsize=64)
def _advance_tables(nbytes: int) -> np.ndarray:
    """``_advance(nbytes)`` as four 256-entry tables, one per byte of the register."""
    cols = _advance(nbytes)
    tables = np.zeros((4, 256), np.uint32)
    for k in range(4):
        for value in range(256):
            tables[k, value] = _apply(cols, value << (8 * k))
    return tables


def _raw(data: np.ndarray, row: int = 1024) -> int:
    """The CRC register after ``data`` from a zero register (no initial or final inversion)."""
    n = data.size
    rows = max(1, -(-n // row))
    rows = 1 << (rows - 1).bit_length()  # a power of two, for the pairwise tree
    padded = np.zeros(rows * row, np.uint8)
    padded[rows * row - n:] = data
    grid = padded.reshape(rows, row)
    reg = np.zeros(rows, np.uint32)
    for j in range(row):
        reg = TABLE[(reg ^ grid[:, j]) & 0xFF] ^ (reg >> 8)
    length = row
    while reg.size > 1:
        t = _advance_tables(length)
        left, right = reg[0::2], reg[1::2]
        reg = (t[0][left & 0xFF] ^ t[1][(left >> 8) & 0xFF] ^ t[2][(left >> 16) & 0xFF] ^ t[3][left >> 24]) ^ right
        length *= 2
    return int(reg[0])


def crc32c(data: bytes | np.ndarray) -> int:
    """The CRC32C of ``data`` (bytes or a uint8 array)."""
    array = np.frombuffer(data, np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else data.reshape(-1)
    n = array.size
    row = 64 if n < 1 << 16 else 1024
    init = _apply(_advance(n), 0xFFFFFFFF) if n else 0xFFFFFFFF
    return (_raw(array, row) ^ init ^ 0xFFFFFFFF) if n else 0


def masked_crc32c(data: bytes | np.ndarray) -> int:
    """TensorFlow's (and LevelDB's) masked CRC32C: the CRC rotated right by 15 bits plus a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + MASK_DELTA) & 0xFFFFFFFF
