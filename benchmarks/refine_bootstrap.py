"""Paired bootstrap of a refinement report (the OUT folder of `benchmarks/refine_select.py`): how much of the FID
difference between two methods is the noise of finite sample and reference sets.

The report's sets are paired: image i of every method starts from the same Z0_i with the same noise seed. Each
replicate draws n image indices with replacement, the same indices for every method, and the report half's reference
images with replacement, and computes every method's FID on them. The spread of FID(a) − FID(b) over the replicates
is the noise of that difference at this n and this reference size. FID is biased upwards at finite n, and a
resampled set (about 63 % distinct images) more so, so every interval is the replicates' spread around their own
mean, centred on the value measured on the full sets; the replicates' mean is reported beside it. Each interval
stands alone (no correction for testing several differences at once). Inception features of each set are computed once and kept in ``OUT/features.npz`` under the
set's scores.json key, so a rerun computes only the sets that changed. Writes ``OUT/bootstrap.json``.

    python benchmarks/refine_bootstrap.py runs/refine/select_ema
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="refine_select.py's --out folder (report.json and the report's sets)")
    p.add_argument("--reps", type=int, default=100,
                   help="bootstrap replicates (each about 12 s at 2,000 samples on 2 cores; the 95 %% interval rests "
                        "on the few replicates in each tail, so take more where time allows)")
    p.add_argument("--seed", type=int, default=0, help="seed of the replicates' draws")
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    out = Path(args.out)
    report = json.loads((out / "report.json").read_text())
    names = [k for k in report if k not in ("protocol", "select")]
    hats = [name for name in names if name.startswith("hat")]
    device = resolve_device(args.device)
    with np.load(out / "base.npz") as f:
        size = int(f["images"].shape[1])
    ref = halves(load_reference(report["protocol"]["ref"], None, size, None, True, device))[1]
    feats = set_features(out, names, ref.protocol["resize"], device)
    if len({len(f) for f in feats.values()}) != 1:
        raise SystemExit(f"the report's sets differ in size ({ {k: len(f) for k, f in feats.items()} }): they are "
                         "not one paired draw; rerun refine_select.py")
    full = {name: fid_of_features(f, ref.mu, ref.sigma) for name, f in feats.items()}
    for name in names:  # the report's own numbers, from the kept features: else the sets are not the report's
        print(f"{name:<8} FID {full[name]:8.3f} (report {report[name]['fid']:8.3f})")
        if abs(full[name] - report[name]["fid"]) > 1e-6 * max(1.0, abs(full[name])):
            raise SystemExit(f"{out / name}.npz does not give report.json's FID for {name}: the sets and the "
                             "report are from different runs; rerun refine_select.py to its end")
    n, m = len(feats["base"]), len(ref.features)
    rng = np.random.default_rng(args.seed)
    reps = {k: np.empty(args.reps) for k in names}
    for r in trange(args.reps, desc="bootstrap", unit="replicate"):
        i, j = rng.integers(0, n, n), rng.integers(0, m, m)
        mu, sigma = feature_stats(ref.features[j])
        for k in names:
            reps[k][r] = fid_of_features(feats[k][i], mu, sigma)
    result: dict[str, Any] = {"protocol": {"out": str(out), "reps": args.reps, "seed": args.seed, "n": n,
                                           "reference_n": m, "resampled": "samples (paired) and reference"}}
    result["fid"] = {k: summary(reps[k], full[k]) for k in names}
    pairs = [(h, b) for h in hats for b in ("ddls", "base")] + list(zip(hats, hats[1:]))
    result["differences"] = {f"{a} - {b}": summary(reps[a] - reps[b], full[a] - full[b]) for a, b in pairs}
    for name, s in result["differences"].items():
        print(f"{name:<16} {s['full']:+7.3f}  95 % [{s['lo95']:+7.3f}, {s['hi95']:+7.3f}]  std {s['std']:.3f}  "
              f"P(< 0) {s['p_below_0']:.2f}  (replicate mean {s['replicate_mean']:+7.3f})")
    write_json(out / "bootstrap.json", result)


if __name__ == "__main__":
    main()
