"""Small grey test images shared by the tests: bright centred squares of random size on black."""
import numpy as np


def make_squares(n: int, seed: int = 0) -> np.ndarray:
    """uint8 [n, 28, 28, 1]: bright centred squares of random size on black."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28, 1), np.uint8)
    for i in range(n):
        s = rng.integers(6, 20)
        images[i, 14 - s // 2:14 + s // 2, 14 - s // 2:14 + s // 2] = 200
    return images
