"""Seconds per tandem iteration (and the share spent in Langevin sampling) for a tandem preset, measured here.

    python benchmarks/bench_tandem.py [--preset fashion_mnist_cpu] [--iters 10] [key=value ...]

Also compares, side by side in the same run, bf16 autocast (``amp``, on CPUs with native bf16) against fp32 and the
networks in channels_last against NCHW memory format.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import torch

from hatebm.config import TandemConfig, override, preset, preset_names
from hatebm.distributed import setup
from hatebm.precision import autocast, native_bf16
from hatebm.train.tandem import Tandem


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="fashion_mnist_cpu")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    cfg = preset(args.preset)
    if not isinstance(cfg, TandemConfig):
        ap.error(f"--preset {args.preset} is a {cfg.KIND} run; choose a tandem preset: "
                 f"{', '.join(preset_names(TandemConfig))}")
    cfg = override(cfg, args.overrides)
    env = setup(cfg.device)
    run = Tandem(cfg, env)
    print(f"preset {args.preset}: batch {cfg.batch_size}, K {cfg.sampler.steps}, hat width {cfg.model.hat_width}, "
          f"gen width {cfg.model.gen_width}, {torch.get_num_threads()} threads, device {env.device}")
    run.train_step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(args.iters):
        run.train_step()
    per_iter = (time.perf_counter() - t0) / args.iters
    cfg.amp = not cfg.amp  # the other precision, same run
    t0 = time.perf_counter()
    for _ in range(args.iters):
        run.train_step()
    per_iter_other = (time.perf_counter() - t0) / args.iters
    cfg.amp = not cfg.amp
    bf16, fp32 = (per_iter, per_iter_other) if cfg.amp else (per_iter_other, per_iter)
    z = run.ebm.latent(cfg.batch_size, env.device)
    per_sample = {}
    for fmt in (torch.contiguous_format, torch.channels_last):
        for net in (run.hat, run.gen):
            net.to(memory_format=fmt)
        t0 = time.perf_counter()
        for _ in range(3):
            with autocast(env.device, cfg.amp):
                run.ebm.sample(z, "conditional", cfg.sampler)
        per_sample[fmt] = (time.perf_counter() - t0) / 3
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    print(f"seconds per tandem iteration: {per_iter:.3f}  ({cfg.iters} iters ~ {per_iter * cfg.iters / 60:.1f} min)")
    print(f"bf16 autocast vs fp32 per iteration: {bf16:.3f} s vs {fp32:.3f} s (ratio {fp32 / bf16:.2f}x; bf16 is used "
          f"{'here' if native_bf16(env.device) else 'only on GPUs and bf16-capable CPUs, so not here'})")
    print(f"seconds in Langevin sampling per iteration: {per_sample[fmt]:.3f} ({100 * per_sample[fmt] / per_iter:.0f}%)")
    print(f"sampling, channels_last vs NCHW: {per_sample[torch.channels_last]:.3f} s vs "
          f"{per_sample[torch.contiguous_format]:.3f} s (ratio {per_sample[torch.contiguous_format] / per_sample[torch.channels_last]:.2f}x)")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
