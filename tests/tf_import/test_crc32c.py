import numpy as np
import pytest

from hatebm.tf_import.crc32c import TABLE, crc32c, masked_crc32c


def bytewise(data: bytes) -> int:
    """The textbook one-byte-at-a-time CRC32C."""
    crc = 0xFFFFFFFF
    for b in data:
        crc = int(TABLE[(crc ^ b) & 0xFF]) ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def test_known_values():
    assert crc32c(b"123456789") == 0xE3069283  # the check value of CRC-32C (RFC 3720 / Castagnoli)
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4: 32 bytes of zeros
    assert crc32c(bytes([0xFF] * 32)) == 0x62A8AB43  # RFC 3720 B.4: 32 bytes of ones


@pytest.mark.parametrize("n", [1, 7, 63, 64, 65, 1000, 4097, 65535, 65536, 65537, 300_001])
def test_rows_and_tree_equal_the_bytewise_crc(n):
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8)
    assert crc32c(data) == bytewise(data.tobytes()) == crc32c(data.tobytes())


def test_mask_is_tensorflows():
    crc = crc32c(b"hat")
    assert masked_crc32c(b"hat") == ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
