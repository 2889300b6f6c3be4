"""What is known of a run's training data besides the tensors: its original image shape."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DataInfo:
    """Shape of the original data (H, W, C), so samples can be cropped back (e.g. 32 -> 28 px); 2-D points are
    (1, 1, D)."""

    height: int
    width: int
    channels: int

    def crop_for(self, size: int) -> int | None:
        """The crop that undoes padding to the model resolution ``size`` (for `hatebm.data.to_uint8`), or None."""
        return self.height if self.height < size else None


__all__ = ["DataInfo"]
