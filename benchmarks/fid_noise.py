"""How large an FID difference is noise at a given sample size, measured on image sets (no model is run).

In every round a reference of ``--ref-n`` images is drawn from REF, and for each sample size n two disjoint sets S1
and S2 of n images from ``--samples`` (default: REF itself, the images the reference did not take); each set is
scored against the reference. S1 and S2 come from one distribution, so:

- mean FID(S1) is its value at n, finite-n bias included (0 is the truth when the samples are REF's own images);
- FID(S1) − FID(S2) is what comparing two equally good methods with unpaired samples of n images shows against one
  shared reference: pure noise. Its spread says how large a difference must be before it means anything.

The noise depends on how far the samples are from the reference. At FID near 0 only terms quadratic in the sampling
error remain, and it falls like 1/n. Far from it the cross term (mean difference × sampling error) dominates, and it
falls like 1/√n. So pass ``--samples`` a set about as far from REF as the methods to be compared (their own
samples, or degraded real images). Paired samples (every method from the same Z0, as `hatebm compare` draws them) are
less noisy than this unpaired measure.

Reported per n over ``--reps`` rounds: mean and std of FID(S1), and std of FID(S1) − FID(S2). The exponent a of
std(difference) ∝ n^-a is fitted over the sizes, and from it the n at which a difference of ``--resolve`` FID is two
standard deviations. REF and ``--samples`` are dataset specs (``fashion_mnist:test``), .npz files of images, image
folders, or statistics .npz files with features (`hatebm fid ref`).

    python benchmarks/fid_noise.py fashion_mnist:test [--samples IMAGES] [--ref-n 5000] [--sizes 250 500 1000 2000]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import trange

from hatebm.eval.compare import load_reference
from hatebm.eval.metrics import feature_stats, fid_of_features


def measure(features: np.ndarray, ref_n: int, sizes: list[int], reps: int, seed: int, progress: bool = True,
            samples: np.ndarray | None = None) -> dict[str, Any]:
    """FID(S1) and FID(S1) - FID(S2) per size over ``reps`` rounds: references drawn from ``features``, sets from
    ``samples`` (default: the features the reference did not take); see the module docstring."""
    if ref_n < 2 or min(sizes) < 2:
        raise ValueError(f"--ref-n and every size must be at least 2, got {ref_n} and {sizes}")
    if samples is None and ref_n + 2 * max(sizes) > len(features):
        raise ValueError(f"{len(features)} images cannot give a reference of {ref_n} and two disjoint sets of "
                         f"{max(sizes)}: lower --ref-n or the largest --sizes (at most {(len(features) - ref_n) // 2})")
    if samples is not None and (ref_n > len(features) or 2 * max(sizes) > len(samples)):
        raise ValueError(f"a reference of {ref_n} from {len(features)} images and two disjoint sets of {max(sizes)} "
                         f"from {len(samples)} samples are not there: lower --ref-n or the largest --sizes")
    rng = np.random.default_rng(seed)
    single: dict[int, list[float]] = {n: [] for n in sizes}
    diff: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in trange(reps, desc="rounds", disable=not progress):
        order = rng.permutation(len(features))
        mu, sigma = feature_stats(features[order[:ref_n]])
        source, pool = (features, order[ref_n:]) if samples is None else (samples, rng.permutation(len(samples)))
        for n in sizes:
            a, b = (fid_of_features(source[pool[k * n : (k + 1) * n]], mu, sigma) for k in (0, 1))
            single[n].append(a)
            diff[n].append(a - b)
    rows = [{"n": n, "fid_mean": float(np.mean(single[n])), "fid_std": float(np.std(single[n], ddof=1)),
             "diff_std": float(np.std(diff[n], ddof=1))} for n in sizes]
    out: dict[str, Any] = {"images": len(features), "ref_n": ref_n, "reps": reps, "seed": seed, "rows": rows}
    if len(sizes) >= 2:
        slope, intercept = np.polyfit(np.log(sizes), np.log([r["diff_std"] for r in rows]), 1)
        out["diff_std_exponent"] = float(-slope)  # std(diff) ~ exp(intercept) * n ** slope
        out["diff_std_fit"] = {"log_c": float(intercept), "slope": float(slope)}
    return out


def size_to_resolve(report: dict[str, Any], difference: float, sigmas: float = 2.0) -> float | None:
    """The n at which the fitted std of an unpaired difference is ``difference / sigmas``; None without a fit or
    when the fitted noise does not fall with n."""
    fit = report.get("diff_std_fit")
    if fit is None or fit["slope"] >= 0:
        return None
    return math.exp((math.log(difference / sigmas) - fit["log_c"]) / fit["slope"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ref", help="real images: a dataset spec (fashion_mnist:test), an .npz of images, an image folder, "
                                "or a statistics .npz with features (hatebm fid ref)")
    ap.add_argument("--samples", default=None, help="image set to draw S1 and S2 from, as REF (default: REF itself)")
    ap.add_argument("--ref-n", type=int, default=5000, help="reference images per round")
    ap.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000, 2000], help="sample sizes n")
    ap.add_argument("--reps", type=int, default=20, help="rounds (random splits)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resolve", type=float, default=0.5, help="FID difference whose 2-sigma sample size is reported")
    ap.add_argument("--device", default="auto", help="device for Inception features, if they are computed")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    if args.reps < 2:
        ap.error("--reps must be at least 2 (a spread needs two rounds)")
    try:
        ref, samples = (None if spec is None else load_reference(spec, None, None, None, not args.quiet, args.device)
                        for spec in (args.ref, args.samples))
        for spec, stats in ((args.ref, ref), (args.samples, samples)):
            if stats is not None and stats.features is None:
                raise ValueError(f"{spec} holds only mu and sigma (a foreign file): this needs the features; use a "
                                 "dataset spec, images, or a `hatebm fid ref` statistics file")
        report = measure(ref.features.astype(np.float64), args.ref_n, sorted(set(args.sizes)), args.reps, args.seed,
                         not args.quiet, None if samples is None else samples.features.astype(np.float64))
    except (ValueError, FileNotFoundError) as err:
        print(f"fid_noise: error: {err}", file=sys.stderr)
        return 2
    report.update(source=str(args.ref), samples=args.samples)
    print(f"{report['images']} images of {args.ref}; reference {args.ref_n} per round, {args.reps} rounds; sets from "
          f"{args.samples or 'the rest of it'}")
    print(f"{'n':>6} {'mean FID (bias)':>16} {'std FID':>8} {'std FID(S1)-FID(S2)':>20}")
    for r in report["rows"]:
        print(f"{r['n']:>6} {r['fid_mean']:>16.2f} {r['fid_std']:>8.2f} {r['diff_std']:>20.2f}")
    if "diff_std_exponent" in report:
        n = size_to_resolve(report, args.resolve)
        report["resolve"] = {"difference": args.resolve, "n_at_2_sigma": n}
        print(f"std of the difference ~ n^-{report['diff_std_exponent']:.2f}; a difference of {args.resolve:g} FID is "
              f"2 std at n ~ {n:,.0f} (unpaired, reference {args.ref_n})" if n else "the noise does not fall with n")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
