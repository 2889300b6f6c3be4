"""Peak host memory of `hatebm sample` at paper sizes: N images at 128 px from a small 128-px tandem run (widths 16,
trained one step on random images), against the uint8 set it writes. Target: peak RSS <= the uint8 set + 1 GiB.

    python benchmarks/bench_sample_memory.py [--n 20000] [--steps 1] [--batch-size 250] [--pythonpath OTHER/src]

``--pythonpath`` measures another checkout's hatebm (e.g. the code before a change) on the same run. Prints the
figures, then one JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from peak_memory import peak_rss  # the sibling module: benchmarks/ is on sys.path when this runs

RUN = ["model.resolution=128", "model.channels=3", "model.hat_width=16", "model.gen_width=16", "model.latent_dim=16",
       "iters=1", "batch_size=8", "bank_size=16", "eval_samples=0", "image_every=1000", "device=cpu"]


def measure(n: int, steps: int, folder: Path, pythonpath: str | None = None,
            batch_size: int = 250) -> dict[str, float]:
    data = folder / "data.npz"
    np.savez(data, images=np.random.default_rng(0).integers(0, 256, (16, 128, 128, 3), dtype=np.uint8))
    run = folder / ("run" if pythonpath is None else "run_other")  # each code trains its own (configs may differ)
    if not run.exists():
        peak_rss(f"from hatebm.cli import main\nmain(['train', 'tiny', 'data.name=npz', 'data.root={data}', "
              f"*{RUN!r}, '--quiet', '--out', '{run}'])", pythonpath)
    out = folder / "samples.npz"
    peak, seconds, _ = peak_rss(f"from hatebm.cli import main\nassert main(['sample', '{run}', '-n', '{n}', '--steps', "
                             f"'{steps}', '--batch-size', '{batch_size}', '--device', 'cpu', '--quiet', '--out', "
                             f"'{out}']) == 0", pythonpath)
    base, _, _ = peak_rss("import hatebm.cli, torch", pythonpath)
    images = n * 128 * 128 * 3
    return {"n": n, "batch_size": batch_size, "uint8_gb": images / 1e9, "peak_rss_gb": peak / 1e9,
            "base_rss_gb": base / 1e9,
            "target_gb": (images + 2**30) / 1e9, "meets": peak <= images + 2**30, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=20_000, help="images to sample")
    p.add_argument("--steps", type=int, default=1, help="Langevin steps per chain")
    p.add_argument("--batch-size", type=int, default=250, help="chains sampled at once (hatebm sample's default)")
    p.add_argument("--dir", type=Path, default=None, help="where the run and samples go (default: a temp dir)")
    p.add_argument("--pythonpath", default=None, help="measure the hatebm of another checkout's src folder")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        r = measure(args.n, args.steps, folder, args.pythonpath, args.batch_size)
    print(f"hatebm sample of {r['n']} images at 128 px, batches of {r['batch_size']}: uint8 set "
          f"{r['uint8_gb']:.3f} GB, peak RSS {r['peak_rss_gb']:.3f} GB ({r['seconds']:.0f} s; a process importing hatebm: {r['base_rss_gb']:.3f} GB)")
    print(f"target <= the set + 1 GiB = {r['target_gb']:.3f} GB: {'met' if r['meets'] else 'MISSED'}")
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
