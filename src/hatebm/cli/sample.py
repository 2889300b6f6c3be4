"""`hatebm sample RUN_OR_CHECKPOINT --n N --steps K --out FILE.npz`: uint8 samples and a PNG grid."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="draw samples from a trained model into a .npz and a PNG grid")
    p.add_argument("model", help="run folder (newest checkpoint) or checkpoint folder")
    p.add_argument("--n", type=int, default=1000, help="number of samples (default 1000)")
    p.add_argument("--steps", type=int, default=None, help="Langevin steps (default: the model's eval_steps)")
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", required=True, help="output .npz (array `images`, N×H×W×C uint8); a .png grid is written beside it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hatebm.eval.figures import save_grid, save_scatter
    from hatebm.generate import draw, load_model

    out = Path(args.out)
    if out.suffix != ".npz":
        raise ValueError(f"--out must end in .npz, got {out}")
    torch.manual_seed(args.seed)
    model = load_model(args.model, args.device)
    samples = draw(model, args.n, steps=args.steps, batch_size=args.batch_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    if samples.dtype == np.uint8:
        np.savez_compressed(out, images=samples)
        png = save_grid(samples[:100], out.with_suffix(".png"), nrow=10)
    else:
        np.savez_compressed(out, points=samples)
        png = save_scatter(samples, out.with_suffix(".png"))
    print(f"wrote {len(samples)} samples from step {model.step} to {out} and {png}")
    return 0
