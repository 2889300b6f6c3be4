"""Paired bootstrap of a refinement report (the OUT folder of `benchmarks/refine_select.py`): how much of the FID
difference between two methods is the noise of finite sample and reference sets.

The report's sets are paired: image i of every method starts from the same Z0_i with the same noise seed. Each
replicate draws n image indices with replacement, the same indices for every method, and the report half's reference
images with replacement, and computes every method's FID on them. The spread of FID(a) − FID(b) over the replicates
is the noise of that difference at this n and this reference size. FID is biased upwards at finite n, and a
resampled set (about 63 % distinct images) more so, so every interval is the replicates' spread around their own
mean, centred on the value measured on the full sets; the replicates' mean is reported beside it. Each interval
stands alone (no correction for testing several differences at once).

Several folders compare hat recipes: reports of other hat runs on the same GAN, reference half and sampling seed
(refine_select.py with a shared ``--scores``, so base and DDLS are one set). Their hats join the first report's sets
as ``<folder>:hat_s<i>``, and each recipe's mean FID over its hat seeds is compared with the first's, on the same
replicates. Inception features of each set are computed once and kept in ``OUT/features.npz`` under the set's
scores.json key, so a rerun computes only the sets that changed. Writes ``bootstrap.json`` in the first folder.

    python benchmarks/refine_bootstrap.py runs/refine/select_ema
    python benchmarks/refine_bootstrap.py runs/refine/select runs/refine/select_y   # Y = 0 against Y moving
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import trange

from hatebm.devices import resolve_device
from hatebm.eval import inception
from hatebm.eval.common import save_npz, write_json
from hatebm.eval.compare import load_reference
from hatebm.eval.metrics import feature_stats, fid_of_features

from refine_select import halves, saved_key  # the sibling script: benchmarks/ is on sys.path when this one runs


def set_features(out: Path, names: list[str], resize: str, device: Any) -> dict[str, np.ndarray]:
    """Inception features of each report set ``OUT/<name>.npz`` (resized as the reference was), from
    ``OUT/features.npz`` where its key matches."""
    path = out / "features.npz"
    kept = {}
    if path.is_file():
        with np.load(path) as f:
            kept = dict(f)
    keys = json.loads(str(kept.pop("protocol"))) if kept else {}
    feats = {}
    for name in names:
        key = saved_key(out / f"{name}.npz")
        if key is None:
            raise SystemExit(f"{out / name}.npz is missing: run refine_select.py with --out {out} first")
        if keys.get(name) != key:
            with np.load(out / f"{name}.npz") as f:
                images = f["images"]
            kept[name], keys[name] = inception.inception_features(images, resize=resize, device=device), key
            save_npz(path, kept, keys)
        feats[name] = kept[name]
    return feats


def summary(values: np.ndarray, full: float) -> dict[str, Any]:
    """The full-set value ``full`` with the replicates' spread around their mean: std, a 95 % interval and the
    share of replicates below 0, all centred on ``full``; the replicates themselves are kept."""
    centred = values - values.mean() + full
    lo, hi = np.percentile(centred, [2.5, 97.5])
    return {"full": full, "replicate_mean": float(values.mean()), "std": float(values.std(ddof=1)),
            "lo95": float(lo), "hi95": float(hi), "p_below_0": float((centred < 0).mean()),
            "replicates": values.tolist()}


def load_report(out: Path) -> dict[str, Any]:
    """``OUT/report.json`` of a finished refine_select.py run."""
    path = out / "report.json"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run refine_select.py with --out {out} to its end first")
    return json.loads(path.read_text())


def check_same_draw(first: Path, report: dict[str, Any], out: Path, other: dict[str, Any]) -> None:
    """Refuse a second report that is not paired with the first: another GAN, reference or sampling draw, or base and
    DDLS sets of other keys."""
    for field in ("gan", "ref", "ref_n", "n", "seed", "ddls_eps"):
        if report["protocol"].get(field) != other["protocol"].get(field):
            raise SystemExit(f"{out} and {first} differ in {field} ({other['protocol'].get(field)!r} against "
                             f"{report['protocol'].get(field)!r}): their sets are not one paired draw")
    for name in ("base", "ddls"):
        if saved_key(out / f"{name}.npz") != saved_key(first / f"{name}.npz"):
            raise SystemExit(f"{out / name}.npz is not {first / name}.npz's set: rerun refine_select.py with "
                             f"--scores {first / 'scores.json'} so both reports share base and DDLS")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("outs", nargs="+", metavar="out",
                   help="refine_select.py's --out folder (report.json and the report's sets); more than one compares "
                        "their hat recipes: reports of other hat runs on the same GAN, reference and sampling seed")
    p.add_argument("--reps", type=int, default=100,
                   help="bootstrap replicates (each about 12 s at 2,000 samples on 2 cores; the 95 %% interval rests "
                        "on the few replicates in each tail, so take more where time allows)")
    p.add_argument("--seed", type=int, default=0, help="seed of the replicates' draws")
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    outs = [Path(o) for o in args.outs]
    if len({o.name for o in outs}) != len(outs):
        raise SystemExit(f"the folders {args.outs} share a name: their hats would be named alike; give distinct ones")
    reports = [load_report(o) for o in outs]
    for out, other in zip(outs[1:], reports[1:]):
        check_same_draw(outs[0], reports[0], out, other)
    device = resolve_device(args.device)
    with np.load(outs[0] / "base.npz") as f:
        size = int(f["images"].shape[1])
    protocol = reports[0]["protocol"]
    ref = halves(load_reference(protocol["ref"], protocol.get("ref_n"), size, None, True, device, "ref_n"))[1]
    # every set of the first report; the hats of the others, named "<folder>:hat_s<i>"
    recipes: dict[str, list[str]] = {}
    feats: dict[str, np.ndarray] = {}
    expected: dict[str, float] = {}
    for i, (out, report) in enumerate(zip(outs, reports)):
        names = [k for k in report if k not in ("protocol", "select") and (i == 0 or k.startswith("hat"))]
        prefix = "" if i == 0 else f"{out.name}:"
        for name, f in set_features(out, names, ref.protocol["resize"], device).items():
            feats[prefix + name], expected[prefix + name] = f, report[name]["fid"]
        recipes[out.name] = [prefix + name for name in names if name.startswith("hat")]
    if len({len(f) for f in feats.values()}) != 1:
        raise SystemExit(f"the report's sets differ in size ({ {k: len(f) for k, f in feats.items()} }): they are "
                         "not one paired draw; rerun refine_select.py")
    full = {name: fid_of_features(f, ref.mu, ref.sigma) for name, f in feats.items()}
    for name in feats:  # the report's own numbers, from the kept features: else the sets are not the report's
        print(f"{name:<16} FID {full[name]:8.3f} (report {expected[name]:8.3f})")
        if abs(full[name] - expected[name]) > 1e-6 * max(1.0, abs(full[name])):
            raise SystemExit(f"the set {name} does not give its report.json's FID: the sets and the report are "
                             "from different runs; rerun refine_select.py to its end")
    n, m = len(feats["base"]), len(ref.features)
    rng = np.random.default_rng(args.seed)
    reps = {k: np.empty(args.reps) for k in feats}
    for r in trange(args.reps, desc="bootstrap", unit="replicate"):
        i, j = rng.integers(0, n, n), rng.integers(0, m, m)
        mu, sigma = feature_stats(ref.features[j])
        for k in feats:
            reps[k][r] = fid_of_features(feats[k][i], mu, sigma)
    result: dict[str, Any] = {"protocol": {"outs": args.outs, "reps": args.reps, "seed": args.seed, "n": n,
                                           "reference_n": m, "resampled": "samples (paired) and reference"}}
    result["fid"] = {k: summary(reps[k], full[k]) for k in feats}
    hats = [h for names in recipes.values() for h in names]
    pairs = [(h, b) for h in hats for b in ("ddls", "base")]
    pairs += [pair for names in recipes.values() for pair in zip(names, names[1:])]
    diffs = {f"{a} - {b}": (reps[a] - reps[b], full[a] - full[b]) for a, b in pairs}
    first, *others = recipes  # a recipe's mean FID over its hat seeds against the first report's
    for other in others:
        mean = {r: (np.mean([reps[h] for h in recipes[r]], axis=0), np.mean([full[h] for h in recipes[r]]))
                for r in (first, other)}
        diffs[f"mean {other} - mean {first}"] = (mean[other][0] - mean[first][0], mean[other][1] - mean[first][1])
    result["differences"] = {name: summary(values, value) for name, (values, value) in diffs.items()}
    for name, s in result["differences"].items():
        print(f"{name:<32} {s['full']:+7.3f}  95 % [{s['lo95']:+7.3f}, {s['hi95']:+7.3f}]  std {s['std']:.3f}  "
              f"P(< 0) {s['p_below_0']:.2f}  (replicate mean {s['replicate_mean']:+7.3f})")
    write_json(outs[0] / "bootstrap.json", result)


if __name__ == "__main__":
    main()
