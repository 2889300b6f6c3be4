"""`hatebm fid ref --ref NAME[:SPLIT]` (cache reference statistics) and `hatebm fid calc SAMPLES --ref REF` (FID and
KID; REF may also be another tool's mu/sigma .npz)."""
from __future__ import annotations

import argparse
import json

from hatebm.cli import common


def _reference_options(p: argparse.ArgumentParser) -> None:
    """Options of `reference_stats`, shared by `ref` and by `calc` with a dataset reference."""
    p.add_argument("--ref-n", type=int, default=None,
                   help="number of reference images (default: the whole split)")
    common.add_seed(p, "seed of the random reference subset", "--ref-seed")
    p.add_argument("--root", default=None, help="dataset folder or file (default: the dataset's usual places)")
    p.add_argument("--subset", choices=("random", "first"), default="random",
                   help="how --ref-n reference images are picked: a seeded random subset, or the first ones")
    p.add_argument("--size", type=int, default=None,
                   help="bring reference images to SIZE×SIZE like training data "
                        "(default: their own size; calc: the samples' size)")
    p.add_argument("--fit", choices=("pad", "crop", "resize"), default="pad", help="how --size is reached")
    p.add_argument("--resize", choices=("tf", "clean"), default="tf",
                   help="resize to 299: tf = the TF graph's bilinear (as the original FID), "
                        "clean = clean-fid's PIL bicubic")
    p.add_argument("--cache-dir", default=None,
                   help="folder of cached statistics (default: $HATEBM_CACHE/fid or ~/.cache/hatebm/fid)")


def _network_options(p: argparse.ArgumentParser) -> None:
    common.add_inception_weights(p)
    p.add_argument("--batch-size", type=int, default=50, help="images per Inception batch")
    common.add_device(p)
    common.add_quiet(p)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fid", help="FID and KID with the standard Inception network", **common.parser_kwargs())
    actions = p.add_subparsers(dest="fid_command", required=True, metavar="ACTION")

    ref = actions.add_parser("ref", help="compute (or find cached) reference statistics of a dataset split",
                             **common.parser_kwargs())
    ref.add_argument("--ref", required=True,
                     help="reference images: a dataset spec NAME[:SPLIT] (split test by default, e.g. "
                          "fashion_mnist:test), an .npz of uint8 images or a folder of images")
    _reference_options(ref)
    _network_options(ref)
    ref.set_defaults(func=run_ref)

    calc = actions.add_parser("calc", help="FID and KID of samples against reference statistics",
                              **common.parser_kwargs())
    common.add_samples(calc)
    calc.add_argument("--ref", required=True,
                      help="reference statistics .npz (from `hatebm fid ref`, or mu and sigma written by pytorch-fid "
                           "--save-stats, clean-fid or edm: FID only, no KID) or reference images as for `fid ref`, "
                           "e.g. fashion_mnist:test")
    common.add_kid_options(calc)
    calc.add_argument("--out", default=None, help="metrics.json to merge the result into (with its protocol)")
    _reference_options(calc)
    _network_options(calc)
    calc.set_defaults(func=run_calc)


def _reference(args: argparse.Namespace, size: int | None):
    """Statistics of the reference images `args.ref` (a dataset spec, an .npz of images or an image folder)."""
    from hatebm.data.registry import parse_spec
    from hatebm.eval.reference import reference_stats

    name, split, root = parse_spec(args.ref)
    return reference_stats(
        name, split, args.ref_n, root=args.root or root, subset=args.subset, seed=args.ref_seed, size=size,
        fit=args.fit, resize=args.resize, weights=args.weights, cache_dir=args.cache_dir,
        batch_size=args.batch_size, progress=not args.quiet, device=args.device, n_name="--ref-n",
    )


def run_ref(args: argparse.Namespace) -> int:
    ref = _reference(args, args.size)
    print(f"reference statistics: {ref.path}")
    print(f"{len(ref.features)} images, features {ref.features.shape[1]}-d, "
          f"|mu| {float((ref.mu**2).sum() ** 0.5):.4f}, trace sigma {float(ref.sigma.trace()):.4f}")
    print("protocol:", json.dumps(ref.protocol, indent=2, sort_keys=True))
    return 0


def run_calc(args: argparse.Namespace) -> int:
    from hatebm.eval.common import write_metrics
    from hatebm.eval.fid import compute_metrics, describe
    from hatebm.eval.reference import ReferenceStats, statistics_reference

    if args.out:
        common.check_out(args.out)
    statistics = statistics_reference(args.ref, args.ref_n, "--ref-n")
    samples, source = common.samples_from_args(args)
    if samples is None:  # another rank of a torchrun job: it drew its share, rank 0 computes and writes
        return 0
    if statistics:
        ref = ReferenceStats.load(args.ref)
    else:  # the reference at the samples' resolution (recorded in the protocol)
        ref = _reference(args, args.size or samples.shape[1])
    if ref.foreign:
        print(f"reference: {ref.protocol['statistics']}")
    metrics = compute_metrics(
        samples, ref, batch_size=args.batch_size, weights=args.weights, kid_subsets=args.kid_subsets,
        kid_subset_size=args.kid_subset_size, progress=not args.quiet, device=args.device,
        source=source,
    )
    print(describe(metrics))
    print("protocol:", json.dumps(metrics["protocol"], indent=2, sort_keys=True))
    if args.out:
        print(f"wrote {write_metrics(args.out, metrics)}")
    return 0
