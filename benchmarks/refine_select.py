"""Held-out choice of chain lengths for the refinement table (docs/results.md, `make refine`).

A chain length tuned on the images that report the score favours that set. Here the reference images are split in
two halves and the sampling seeds in two, and each method's chain length is chosen on one and reported on the other:

1. Selection: every method is sampled ``--select-n`` times with sampling seed ``--select-seed`` for each candidate K
   (DDLS: ``--ddls-steps``; the Hat EBM: ``--hat-steps``) and scored against the first half of the reference. Each
   method keeps the K of lowest FID; for the Hat EBM that is the lowest mean FID over its training seeds (``--hats``),
   one recipe for all of them.
2. Report: base G(Z0), DDLS and every Hat EBM at their chosen K, ``--n`` paired samples each with sampling seed
   ``--seed`` (`hatebm.eval.compare.paired_samples`), scored against the second half.

Every scored set is kept in ``OUT/scores.json`` (or ``--scores``) under a key naming what it depends on (half, run and checkpoint step,
K, step size, number and seed of samples), so a rerun, or a run with other hat runs on the same GAN, scores only what
is new. Writes ``OUT/report.json`` (once every method is scored) and the report's uint8 sets
``OUT/{base,ddls,hat_s<i>}.npz``.

    python benchmarks/refine_select.py runs/refine/gan runs/refine/hat_s0 runs/refine/hat_s1 --out runs/refine/select
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from hatebm.eval.common import save_npz, write_json
from hatebm.eval.compare import check_pair, load_reference, paired_samples
from hatebm.eval.fid import compute_metrics
from hatebm.eval.reference import ReferenceStats
from hatebm.model import load_model


def halves(ref: ReferenceStats) -> tuple[ReferenceStats, ReferenceStats]:
    """The reference's first and second half (by image order) as two references of their own."""
    half = len(ref.features) // 2
    return tuple(ReferenceStats.from_features(f, {**ref.protocol, "part": part, "of": ref.name})
                 for f, part in ((ref.features[:half], "first half"), (ref.features[half:2 * half], "second half")))


def score(images: np.ndarray, stats: dict[str, Any], ref: ReferenceStats, k: int) -> dict[str, Any]:
    m = compute_metrics(images, ref, kid_subset_size=min(1000, len(images) // 2), progress=False)
    return {"steps": k, "fid": m["fid"], "kid": m["kid_mean"], "kid_std": m["kid_std"], **stats}


def saved_key(npz: Path) -> str | None:
    """The scores.json key recorded in a report set written by this script; None if there is no such file."""
    return json.loads(str(np.load(npz)["protocol"])).get("key") if npz.is_file() else None


def _line(name: str, e: dict[str, Any]) -> str:
    return (f"{name:<14} K {e['steps']:>4}  FID {e['fid']:8.3f}  KID {e['kid']:.5f} ± {e['kid_std'] or 0:.5f}  "
            f"{e['seconds']:7.1f} s  |Z_K-Z0| {e['z_move']:.3f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("gan", help="`hatebm pretrain gan` run: base generator and DDLS critic")
    p.add_argument("hats", nargs="+", help="joint Hat EBM runs on that generator (one per training seed)")
    p.add_argument("--hat-steps", type=int, nargs="+", default=[5, 10, 15, 25])
    p.add_argument("--ddls-steps", type=int, nargs="+", default=[25, 50, 100, 200])
    p.add_argument("--ddls-eps", type=float, default=0.1)
    p.add_argument("--select-n", type=int, default=1000)
    p.add_argument("--select-seed", type=int, default=1)
    p.add_argument("-n", "--n", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ref", default="fashion_mnist:test")
    p.add_argument("--ref-n", type=int, default=None,
                   help="a random subset of N images of --ref (seed 0; default all), split in halves")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True)
    p.add_argument("--scores", default=None, help="the cache of scored sets (default OUT/scores.json); share one "
                   "between reports on the same GAN to score base and DDLS once")
    args = p.parse_args()
    if args.seed == args.select_seed:
        raise SystemExit("--seed and --select-seed must differ: the report needs sampling seeds unseen in selection")

    out = Path(args.out)
    base = load_model(args.gan, args.device, method="generator")
    ddls = load_model(args.gan, args.device, method="ddls")
    hats = [load_model(h, args.device) for h in args.hats]
    for h, path in zip(hats, args.hats):
        check_pair(base, h, args.gan, path)
    size = base.draw(1, seed=0, progress=False).shape[1]
    refs = dict(zip(("select", "report"), halves(load_reference(args.ref, args.ref_n, size, None, True, base.device,
                                                                        "--ref-n"))))
    path = Path(args.scores) if args.scores else out / "scores.json"
    scores = json.loads(path.read_text()) if path.is_file() else {}

    def scored(part: str, model: Any, run: str, k: int, n: int, seed: int, eps: float | None = None,
                save: str | None = None) -> dict[str, Any]:
        """The score of ``n`` paired samples of ``model`` at K = ``k`` against half ``part``, from the cache or drawn
        now (and, with ``save``, written as ``OUT/<save>.npz`` with its key)."""
        ref = args.ref if args.ref_n is None else f"{args.ref} random {args.ref_n}"
        key = f"{part} half|{ref}|{run}@{model.step}|K{k}|eps {eps}|n {n}|seed {seed}"
        npz = out / f"{save}.npz"
        if key not in scores or (save and saved_key(npz) != key):
            overrides = {} if eps is None else {"eps_z": eps}
            images, stats = paired_samples(model, base.generator, n, k, seed=seed, progress=False, **overrides)
            scores[key] = score(images, stats, refs[part], k)
            write_json(path, scores)
            if save:
                save_npz(npz, {"images": images}, {"method": save, "steps": k, "key": key})
        return scores[key]

    select = {"n": args.select_n, "seed": args.select_seed}
    done = {f"ddls_K{k}": scored("select", ddls, args.gan, k, eps=args.ddls_eps, **select) for k in args.ddls_steps}
    for name, e in done.items():
        print("select", _line(name, e), flush=True)
    for k in args.hat_steps:
        for i, (h, run) in enumerate(zip(hats, args.hats)):
            done[f"hat_s{i}_K{k}"] = scored("select", h, run, k, **select)
            print("select", _line(f"hat_s{i}_K{k}", done[f"hat_s{i}_K{k}"]), flush=True)

    ddls_k = min(args.ddls_steps, key=lambda k: done[f"ddls_K{k}"]["fid"])
    hat_k = min(args.hat_steps, key=lambda k: np.mean([done[f"hat_s{i}_K{k}"]["fid"] for i in range(len(hats))]))
    print(f"chosen on the selection half: DDLS K = {ddls_k}, Hat EBM K = {hat_k}", flush=True)

    protocol = {"gan": args.gan, "hats": args.hats, "ref": args.ref, "ref_n": args.ref_n, "select_n": args.select_n,
                "select_seed": args.select_seed, "ddls_eps": args.ddls_eps, "reference_split": "first half selects, "
                "second half reports", "checkpoint_steps": [base.step] + [h.step for h in hats], "n": args.n,
                "seed": args.seed, "chosen": {"ddls": ddls_k, "hat": hat_k}}
    report: dict[str, Any] = {"protocol": protocol, "select": done}
    runs = [("base", base, args.gan, 0, None), ("ddls", ddls, args.gan, ddls_k, args.ddls_eps)]
    runs += [(f"hat_s{i}", h, run, hat_k, None) for i, (h, run) in enumerate(zip(hats, args.hats))]
    for name, model, run, k, eps in runs:
        report[name] = scored("report", model, run, k, args.n, args.seed, eps, save=name)
        print("report", _line(name, report[name]), flush=True)
    write_json(out / "report.json", report)  # written once complete: `make refine` skips this step when it exists

if __name__ == "__main__":
    main()
