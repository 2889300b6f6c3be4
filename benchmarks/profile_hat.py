"""Operator profile of one Langevin step's hat forward and input-gradient backward (torch.profiler), to see which
share of the step the convolutions take and which the elementwise ops around them.

    python benchmarks/profile_hat.py [--width 64] [--batch 32] [--resolution 32] [--bf16] [--steps 5]
"""
from __future__ import annotations

import argparse

import torch
from torch.profiler import profile

from hatebm.nets import sngan_hat
from hatebm.sampling import frozen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--resolution", type=int, default=32)
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast, as amp=true")
    ap.add_argument("--steps", type=int, default=5, help="profiled steps, after 3 untimed ones")
    args = ap.parse_args()
    hat = sngan_hat(args.resolution, args.width, 3).to(memory_format=torch.channels_last)
    x0 = torch.randn(args.batch, 3, args.resolution, args.resolution).contiguous(memory_format=torch.channels_last)

    def step() -> None:
        x = x0.clone().requires_grad_(True)
        with torch.autocast("cpu", torch.bfloat16, enabled=args.bf16):
            energy = hat(x).sum()
        torch.autograd.grad(energy, x)

    with frozen(hat):
        for _ in range(3):
            step()
        with profile() as prof:
            for _ in range(args.steps):
                step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    conv = sum(e.self_cpu_time_total for e in events if e.key in ("aten::mkldnn_convolution",
                                                                   "aten::convolution_backward"))
    print(events.table(sort_by="self_cpu_time_total", row_limit=12))
    print(f"convolutions (forward and input-gradient): {100 * conv / total:.1f} % of the step's operator time")


if __name__ == "__main__":
    main()
