"""`hatebm figures grid|path|hist|curves ... --out FILE.png`: sample grids, Fig 3-style Langevin paths (X, G(Z), 5·Y,
rows and steps labelled), energy histograms in vs out of distribution (from `hatebm ood` scores) and training curves
(from `stats.jsonl`, `--smooth K` for a moving average of K records)."""
from __future__ import annotations

import argparse

from hatebm.cli import common


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("figures", help="PNG figures: sample grids, Langevin paths, energy histograms, training curves",
                       **common.parser_kwargs())
    kinds = p.add_subparsers(dest="figure", required=True, metavar="FIGURE")

    grid = kinds.add_parser("grid", help="grid of images from an .npz, an image folder or a dataset spec",
                            **common.parser_kwargs())
    grid.add_argument("images", help=".npz of uint8 images, a folder of images, or a dataset spec NAME[:SPLIT]")
    grid.add_argument("--n", type=int, default=100, help="number of images shown: the first N")
    grid.add_argument("--nrow", type=int, default=None, help="images per row (default: a square)")
    grid.add_argument("--scale", type=int, default=2, help="upscaling factor, nearest neighbour")
    grid.set_defaults(func=run_grid)

    path = kinds.add_parser("path", help="Fig 3-style Langevin paths of a Hat EBM: rows X, G(Z), 5·Y per chain",
                            **common.parser_kwargs())
    path.add_argument("model", help="run folder (newest checkpoint) or checkpoint folder")
    path.add_argument("--chains", type=int, default=4, help="number of chains")
    path.add_argument("--steps", type=int, default=None, help="Langevin steps (default: the model's eval_steps)")
    path.add_argument("--every", type=int, default=None, help="record every K steps (default: 8 columns)")
    path.add_argument("--y-scale", type=float, default=5.0, help="show Y as Y_SCALE·Y around mid-grey")
    common.add_seed(path, "sampling seed (latents and Langevin noise)")
    common.add_model_modules(path)
    common.add_device(path)
    path.set_defaults(func=run_path)

    hist = kinds.add_parser("hist", help="histograms of H(x), in vs OOD sets, from a `hatebm ood` score file",
                            **common.parser_kwargs())
    hist.add_argument("scores", help="score .npz written by `hatebm ood` (default name RUN/ood_scores.npz)")
    hist.add_argument("--bins", type=int, default=60, help="number of histogram bins (shared by all sets)")
    hist.set_defaults(func=run_hist)

    curves = kinds.add_parser("curves", help="training curves from a run's stats.jsonl", **common.parser_kwargs())
    curves.add_argument("stats", help="run folder or its stats.jsonl")
    curves.add_argument("--keys", nargs="+", default=None,
                        help="quantities to plot (default: all logged, e.g. energy_diff gen_loss y_norm drift_y)")
    curves.add_argument("--smooth", type=int, default=1,
                        help="moving average of K records drawn over the faint raw curve; 1 = raw values only")
    curves.set_defaults(func=run_curves)

    for action in (grid, path, hist, curves):
        action.add_argument("--out", required=True, help="PNG file to write")


def run_grid(args: argparse.Namespace) -> int:
    from hatebm.data import load_images
    from hatebm.data.registry import parse_spec
    from hatebm.eval.figures import save_grid

    common.check_out(args.out)
    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}")
    name, split, root = parse_spec(args.images)
    images = load_images(name, split, root)[: args.n]
    print(f"wrote {save_grid(images, args.out, args.nrow, args.scale)} ({len(images)} images)")
    return 0


def run_path(args: argparse.Namespace) -> int:
    import torch

    from hatebm.eval.figures import save_model_path
    from hatebm.model import load_model

    common.check_out(args.out)
    torch.manual_seed(args.seed)
    model = load_model(args.model, args.device, hat=args.hat, generator=args.generator,
                       trust_generator=args.trust_generator)
    out = save_model_path(model, args.out, args.chains, args.steps, args.every, args.y_scale)
    print(f"wrote {out} (step {model.step})")
    return 0


def run_hist(args: argparse.Namespace) -> int:
    from hatebm.eval.figures import legend_labels, save_energy_histogram
    from hatebm.eval.ood import load_scores

    common.check_out(args.out)
    scores, protocol = load_scores(args.scores)
    labels = legend_labels({"in": protocol["in"]["spec"], **{k: v["spec"] for k, v in protocol["out"].items()}})
    print(f"wrote {save_energy_histogram(scores, args.out, args.bins, labels)}")
    return 0


def run_curves(args: argparse.Namespace) -> int:
    from hatebm.eval.figures import read_stats, save_training_curves

    common.check_out(args.out)
    records = read_stats(args.stats)
    print(f"wrote {save_training_curves(records, args.out, args.keys, args.smooth)} ({len(records)} records)")
    return 0
