"""The counter-based per-image noise (hatebm.noise): its bits against a plain-Python SplitMix64, its normals against
N(0, 1), rows that depend on their own seed alone, and a cost in tensor operations that does not grow with the batch."""
import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch.profiler import ProfilerActivity, profile

from hatebm.noise import ImageNoise

M64 = (1 << 64) - 1


def splitmix(x: int) -> int:
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def reference(seed: int, draw: int, j: int) -> tuple[int, float]:
    """The bits (as int64) and the normal of element j of draw `draw` of an image of seed `seed`, in plain Python."""
    gamma = 0x9E3779B97F4A7C15
    bits = splitmix((splitmix((seed + gamma) & M64) + ((draw << 32) + j) * gamma) & M64)
    u1, u2 = ((bits >> 40) + 1) / 2**24, (bits & 0xFFFFFF) / 2**24
    signed = bits - (1 << 64) if bits >= 1 << 63 else bits
    return signed, math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)


def test_bits_and_normals_equal_a_plain_python_splitmix64():
    seeds = [0, 1, 2**31, 2**32 - 1]
    shapes = [(5,), (2, 3), (7,)]
    bits, normals = ImageNoise(seeds), ImageNoise(seeds)
    for k, shape in enumerate(shapes):
        got_bits, got = bits.bits(math.prod(shape)), normals.randn(*shape)
        for i, seed in enumerate(seeds):
            want = [reference(seed, k, j) for j in range(math.prod(shape))]
            assert got_bits[i].tolist() == [b for b, _ in want]  # exact: integer arithmetic
            np.testing.assert_allclose(got[i].flatten().numpy(), [z for _, z in want], rtol=2e-6, atol=2e-6)


def test_seed_zero_is_not_special():
    """Image 0 of seed 0 (image_seed(0, 0) = 0) draws an ordinary first value, not the bits 0 (z = 5.8)."""
    assert abs(ImageNoise([0]).randn(4)[0, 0].item()) < 5


def test_rows_depend_on_their_own_seed_and_draw_count_only():
    a, b = ImageNoise([5, 6, 7]), ImageNoise([7, 8])
    for shape in [(4,), (2, 3), (1, 2, 2)]:
        da, db = a.randn(*shape), b.randn(*shape)
        assert torch.equal(da[2], db[0])
        assert not torch.equal(da[0], da[1])
    assert a.randn_like(torch.zeros(3, 4, dtype=torch.float64)).dtype == torch.float64


def test_draws_are_standard_normal_and_independent():
    noise = ImageNoise(range(200))
    x, y = noise.randn(500).double(), noise.randn(500).double()
    flat = x.flatten().numpy()
    assert abs(flat.mean()) < 4 / math.sqrt(flat.size) and abs(flat.std() - 1) < 4 / math.sqrt(flat.size / 2)
    assert stats.kstest(flat, "norm").pvalue > 1e-3
    bound = 4 / math.sqrt(x.numel())
    for u, v in [(x, y), (x[:-1], x[1:]), (x[:, :-1], x[:, 1:])]:  # draw to draw, image to image, element to element
        assert abs(np.corrcoef(u.flatten(), v.flatten())[0, 1]) < bound * 1.5


def ops(fn) -> int:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return sum(e.count for e in prof.key_averages())


@pytest.mark.parametrize("shape", [(16,), (3, 8, 8)])
def test_a_draw_costs_the_same_operations_for_8_and_128_images(shape):
    small, large = ImageNoise(range(8)), ImageNoise(range(128))
    assert ops(lambda: large.randn(*shape)) == ops(lambda: small.randn(*shape))
