"""Seconds per iteration of the joint-Hat-EBM pipeline's CPU presets (GAN and autoencoder pretraining, joint
refinement and retrofit) and seconds per sample of each sampler, from a handful of iterations; projects the wall time
of each preset's full run. Nothing is trained to convergence: the joint runs sit on barely-trained generators.

    python benchmarks/bench_joint.py [--iters 3] [--samples 100] [--data fashion_mnist]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

from hatebm import checkpoint as ckpt
from hatebm.config import override, preset
from hatebm.model import load_model
from hatebm.train.autoencoder import AutoencoderRun
from hatebm.train.gan import GanRun
from hatebm.train.joint import Joint
from hatebm.distributed import setup


def per_call(fn: Callable[[], object], n: int) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--samples", type=int, default=100, help="images per sampling measurement")
    ap.add_argument("--data", default="fashion_mnist", help="data.name for every run")
    args = ap.parse_args()
    env = setup("cpu")
    data = [f"data.name={args.data}"]
    print(f"{torch.get_num_threads()} threads; {args.iters} timed iterations after one warm-up")
    print(f"{'run':28s}{'s/it':>8s}{'iters':>8s}{'projected':>12s}")
    with tempfile.TemporaryDirectory() as tmp:
        sources = {}
        for name, cls in (("gan_fashion_mnist_cpu", GanRun), ("ae_fashion_mnist_cpu", AutoencoderRun)):
            cfg = override(preset(name), data)
            run = cls(cfg, env)
            sec = per_call(run.train_step, args.iters)
            print(f"{name:28s}{sec:8.2f}{cfg.iters:8d}{sec * cfg.iters / 60:10.1f} min")
            sources[name] = ckpt.save(Path(tmp) / name, run.checkpoint()).parent.parent
        for name, source in (("fashion_mnist_refine_cpu", "gan_fashion_mnist_cpu"),
                             ("fashion_mnist_retrofit_cpu", "ae_fashion_mnist_cpu")):
            cfg = override(preset(name), [*data, f"generator.source={sources[source]}"])
            run = Joint(cfg, env)
            sec = per_call(run.train_step, args.iters)
            print(f"{name:28s}{sec:8.2f}{cfg.iters:8d}{sec * cfg.iters / 60:10.1f} min")
            sources[name] = ckpt.save(Path(tmp) / name, run.checkpoint()).parent.parent
        print(f"\nsampling {args.samples} images (batch {args.samples}):")
        for label, path, method, steps in (
                ("G(Z), GAN", sources["gan_fashion_mnist_cpu"], "generator", None),
                ("DDLS, 100 steps", sources["gan_fashion_mnist_cpu"], "ddls", 100),
                ("Hat EBM refine, eval_steps", sources["fashion_mnist_refine_cpu"], "hat", None),
                ("Hat EBM retrofit, eval_steps", sources["fashion_mnist_retrofit_cpu"], "hat", None)):
            model = load_model(path, device="cpu", method=method)
            t0 = time.perf_counter()
            model.draw(args.samples, steps=steps, batch_size=args.samples, progress=False)
            sec = (time.perf_counter() - t0) / args.samples
            k = model.sampler.steps if steps is None else steps
            print(f"  {label:30s} K={k:4d}: {1000 * sec:8.1f} ms per image ({sec * 1000 / 60:.1f} min per 1,000)")


if __name__ == "__main__":
    main()
