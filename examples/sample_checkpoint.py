"""Sample a trained model from Python: images, a grid, and the Langevin path of a few chains.

    python examples/sample_checkpoint.py runs/demo --n 64 --steps 80 --out samples.npz

``hatebm.load_model`` rebuilds the model of a run folder's newest checkpoint with the sampler its run used
(conditional for tandem runs, joint for joint runs) and its evaluation steps.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import hatebm
from hatebm.eval.figures import save_grid, save_model_path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="run folder or checkpoint folder")
    p.add_argument("--n", type=int, default=64, help="number of samples")
    p.add_argument("--steps", type=int, default=None, help="Langevin steps (default: the run's eval_steps)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--out", default="samples.npz", help="output .npz; a grid and a path figure go beside it")
    args = p.parse_args(argv)

    model = hatebm.load_model(args.run)
    # uint8 N×H×W×C at the data's size; image i from its own seed, so any batch size gives the same set
    images = model.draw(args.n, steps=args.steps, seed=args.seed, progress=False)
    torch.manual_seed(args.seed)  # the path figure's chains
    out = Path(args.out)
    np.savez_compressed(out, images=images)
    grid = save_grid(images, out.with_suffix(".png"))
    path = save_model_path(model, out.with_name(out.stem + "_path.png"), chains=4, steps=args.steps)
    print(f"{len(images)} samples of step {model.step} ({model.config.KIND} run) in {out}; grid {grid}; path {path}")


if __name__ == "__main__":
    main()
