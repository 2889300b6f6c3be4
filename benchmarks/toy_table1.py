"""The paper's Table 1 in 2-D, with exact metrics: a pretrained SN-GAN, DDLS on its critic and joint Hat EBMs on its
generator, paired, against a truth whose density is known (and the paper's Appendix H: Y removed versus present).

For each truth (``gmm8``, ``gmm25``) and GAN seed, an MLP SN-GAN is pretrained with the library's `pretrain gan`
(preset ``gan_toy_cpu``: hinge loss, spectral norm, stopped while still imperfect). From the same latents Z0_i and
the same per-image noise seeds (paired, as `hatebm compare`), it compares:

- ``base``: G(Z0);
- ``ddls``: DDLS on the GAN's critic, U(z) = -D(G(z)) + ||z||²/2, its step size and K chosen on held-out samples
  (a different sample seed and a different reference set) by grid KL;
- ``hat``: the joint Hat EBM in the paper's form (preset ``toy_refine_cpu``: Y active with a small eps_Y, T < 1,
  hat trained from scratch);
- ``hat_init``: the same, its hat started at the GAN's negated critic (``hat_init=GAN``);
- ``hat_y0``: the same with Y held at 0 (``sampler.eps_y=0``): a latent-space EBM on G(Z), Appendix H's ablation.

Metrics (:mod:`hatebm.eval.toy`): grid KL(truth || samples), unbiased MMD² to fresh true samples, the mode-weight TV,
the fraction of samples in a mode, and ``passes``: forward passes per sample through the hat network (DDLS: the
critic) and the generator, counted by hooks. Hat EBMs also report Y's RMS per coordinate. Mean ± std over GAN seeds
(base, DDLS) or GAN × hat seeds (Hat EBMs). The Appendix H table gives the energy gap mean H(X+) - mean H(X-) over
five windows of training, for Y present and removed. Paired differences (each Hat EBM minus the base or DDLS on the
same GAN and samples) take the GAN-to-GAN spread out of the comparison.

    python benchmarks/toy_table1.py [--truths gmm8 gmm25] [--gan-seeds 3] [--hat-seeds 2] [--n 4000] [--out DIR]
                                    [--gan key=value ...] [--hat key=value ...]

The last line printed is one JSON object {truth: {method: {metric: [mean, std]}}}.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import hatebm
from hatebm.config import override, preset
from hatebm.data import toy_distribution
from hatebm.eval.compare import paired_samples
from hatebm.eval.figures import read_stats, window_means
from hatebm.eval.toy import toy_metrics
from hatebm.model import load_model

METHODS = ("base", "ddls", "hat", "hat_init", "hat_y0")
VARIANTS = {"hat": [], "hat_init": ["hat_init={gan}"], "hat_y0": ["sampler.eps_y=0"]}
EVAL_SEED, HELD_SEED = 1, 2  # sample-set seeds: evaluation, and DDLS's held-out selection
DDLS_EPS, DDLS_STEPS = (0.03, 0.1, 0.3), (10, 25, 50, 100)
WINDOWS = 5
PAIRED_KEYS = ("kl", "mmd2", "mode_tv", "in_mode")


def pretrain(truth: str, seed: int, folder: Path, overrides: list[str]) -> Path:
    out = folder / f"{truth}_gan{seed}"
    if not (out / "samples.npz").exists():
        hatebm.train(override(preset("gan_toy_cpu"), [f"data.name={truth}", f"seed={seed}", *overrides]), out,
                     progress=False)
    return out


def train_hat(variant: str, truth: str, gan: Path, seed: int, folder: Path, overrides: list[str]) -> Path:
    out = folder / f"{gan.name}_{variant}{seed}"
    if not (out / "samples.npz").exists():
        extra = [v.format(gan=gan) for v in VARIANTS[variant]]
        cfg = override(preset("toy_refine_cpu"), [f"data.name={truth}", f"generator.source={gan}", f"seed={seed}",
                                                   *extra, *overrides])
        hatebm.train(cfg, out, progress=False)
    return out


def evaluate(model, base_gen, n: int, seed: int, ref: torch.Tensor, truth, **kw: Any) -> dict[str, float]:
    """Metrics of ``n`` paired samples of ``model`` (sample-set ``seed``), with its passes and Y's RMS."""
    points, cost = paired_samples(model, base_gen, n, kw.pop("steps", None), seed=seed, progress=False, **kw)
    row = toy_metrics(truth, torch.from_numpy(points).float(), ref)
    row["passes"] = sum(v for v in cost["passes"].values() if v is not None)
    row["y_rms"] = cost["y_rms"]
    return row


def select_ddls(ddls, base_gen, n: int, truth, ref: torch.Tensor) -> tuple[int, float]:
    """(K, eps) of DDLS with the lowest grid KL on held-out samples."""
    scores = {(k, e): evaluate(ddls, base_gen, n, HELD_SEED, ref, truth, steps=k, eps_z=e)["kl"]
              for k in DDLS_STEPS for e in DDLS_EPS}
    return min(scores, key=scores.get)


def run_truth(truth_name: str, args: argparse.Namespace, folder: Path) -> tuple[dict, dict, list]:
    """Per-run metrics {method: [row per GAN seed (base, DDLS) or GAN × hat seed]}, energy gaps and DDLS's choices
    (also written to OUT/<truth>_rows.json)."""
    truth = toy_distribution(truth_name)
    rows: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
    gaps: dict[str, list[list[float]]] = {"hat": [], "hat_y0": []}
    chosen = []
    for g in range(args.gan_seeds):
        ref = truth.sample(args.n, torch.Generator().manual_seed(1000 + g))
        held_ref = truth.sample(args.n, torch.Generator().manual_seed(2000 + g))
        gan = pretrain(truth_name, g, folder, args.gan)
        base = load_model(gan, device="cpu", method="generator")
        rows["base"].append(evaluate(base, base.generator, args.n, EVAL_SEED, ref, truth))
        ddls = load_model(gan, device="cpu", method="ddls")
        steps, eps = select_ddls(ddls, base.generator, args.n, truth, held_ref)
        chosen.append((steps, eps))
        rows["ddls"].append(evaluate(ddls, base.generator, args.n, EVAL_SEED, ref, truth, steps=steps, eps_z=eps))
        for h in range(args.hat_seeds):
            for variant in VARIANTS:
                run = train_hat(variant, truth_name, gan, h, folder, args.hat)
                model = load_model(run, device="cpu")
                rows[variant].append(evaluate(model, base.generator, args.n, EVAL_SEED, ref, truth))
                if variant in gaps:
                    gaps[variant].append(window_means(read_stats(run), "energy_diff", WINDOWS))
    (folder / f"{truth_name}_rows.json").write_text(json.dumps({"rows": rows, "gaps": gaps, "ddls": chosen}))
    return rows, gaps, chosen


def mean_std(values: list[float]) -> list[float]:
    return [float(np.mean(values)), float(np.std(values))]


def paired(rows: dict[str, list[dict[str, float]]], against: str, hat_seeds: int) -> dict[str, dict[str, list]]:
    """Each Hat EBM's metrics minus ``against``'s on the same GAN (paired samples), mean ± std over its runs."""
    return {m: {k: mean_std([r[k] - rows[against][i // hat_seeds][k] for i, r in enumerate(rows[m])])
                for k in PAIRED_KEYS} for m in VARIANTS}


def print_table(truth: str, rows: dict, gaps: dict, chosen: list, hat_seeds: int) -> dict:
    """Prints the table, the paired differences and the energy gaps; returns the summary {method: {metric: [mean,
    std]}}."""
    keys = ("kl", "mmd2", "mode_tv", "in_mode", "passes", "y_rms")
    summary = {m: {k: mean_std([r[k] for r in rs]) for k in keys} for m, rs in rows.items()}
    print(f"\n{truth}: DDLS (K, eps) chosen per GAN seed: {chosen}")
    print(f"{'method':10s}" + "".join(f"{k:>20s}" for k in keys))
    for m, cells in summary.items():
        print(f"{m:10s}" + "".join(f"{cells[k][0]:>11.4f} ± {cells[k][1]:<6.4f}" for k in keys))
    for against in ("base", "ddls"):
        print(f"{truth}: paired differences, Hat EBM minus {against} on the same GAN (mean ± std over runs)")
        for m, cells in paired(rows, against, hat_seeds).items():
            print(f"{m:10s}" + "".join(f"{cells[k][0]:>11.4f} ± {cells[k][1]:<6.4f}" for k in PAIRED_KEYS))
    print(f"{truth}: energy gap H(X+) - H(X-) over {WINDOWS} windows of training (mean ± std over runs; Appendix H)")
    for m, runs in gaps.items():
        g = np.array(runs)
        print(f"{m:10s}" + "".join(f"{a:>11.4f} ± {b:<6.4f}" for a, b in zip(g.mean(0), g.std(0))))
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--truths", nargs="+", default=["gmm8", "gmm25"])
    ap.add_argument("--gan-seeds", type=int, default=3)
    ap.add_argument("--hat-seeds", type=int, default=2)
    ap.add_argument("--n", type=int, default=4000, help="samples per evaluation")
    ap.add_argument("--out", default=None, help="keep the run folders here; runs already there are reused")
    ap.add_argument("--gan", nargs="*", default=[], help="overrides of the GAN runs (key=value)")
    ap.add_argument("--hat", nargs="*", default=[], help="overrides of the Hat EBM runs (key=value)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.out or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for truth in args.truths:
            results[truth] = print_table(truth, *run_truth(truth, args, folder), args.hat_seeds)
    print(f"\n{args.gan_seeds} GAN seeds x {args.hat_seeds} hat seeds, n = {args.n}; "
          f"{time.perf_counter() - start:.0f} s")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
