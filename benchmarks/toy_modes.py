"""Why refinement does or does not recover a GAN's missed modes in 2-D: per mode of a Gaussian-mixture truth, what
the GAN, the Hat EBM and DDLS's critic each know, from the runs `benchmarks/toy_table1.py --out OUT` keeps.

A refiner samples X = G(Z) + Y with Y tiny, so it can put mass on a mode only if (a) G's range reaches the mode, (b)
the energy is low there, and (c) the chains get there in their K steps. For each GAN seed, the modes the base
G(Z0) misses (weight below a quarter of the truth's 1/k) are compared with the ones it covers:

- ``reach3``, ``reach8``: the share of the modes whose centre lies within 2 std of G's range over a grid of latents
  with ||z|| <= 3 (where Z0 ~ N(0, I) starts) or ||z|| <= 8, and ``z_star``, the latent radius ||z*|| of the nearest
  point, over the modes within reach (``covered_reach3``: the share for the covered modes, a check);
- ``hat_dE``: the Hat EBM's H at the centre minus the median H over the covered centres, divided by T (a log-density
  ratio of the hat's own density; negative: the hat prefers the missed mode), median over missed modes and runs;
  ``ddls_dE`` the same for DDLS's energy -D (T = 1);
- mode weight on the missed modes: the truth's, the base's, the Hat EBM's at its K and after ``--long`` steps (the
  same chains run on), and DDLS's at its K and after ``--long`` steps. A weight that grows with long chains means the
  model knows the modes and short-run chains do not reach them; one that does not means the model itself lacks them.

    python benchmarks/toy_modes.py runs/toy_table1 [--truth gmm25] [--n 2000] [--long 1000]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hatebm.data import toy_distribution
from hatebm.eval.compare import paired_samples
from hatebm.eval.toy import mode_weights as toy_mode_weights
from hatebm.model import load_model

EVAL_SEED = 1  # toy_table1.py's evaluation sample set


def mode_weights(truth: Any, points: np.ndarray) -> np.ndarray:
    """Fraction of the points within 3 std of each mode."""
    return toy_mode_weights(truth, torch.from_numpy(points).double(), within=3).numpy()


def reach(generator: torch.nn.Module, means: torch.Tensor, radius: float, side: int = 401) -> tuple[np.ndarray, ...]:
    """(distance from each mode centre to G's range over latents ||z|| <= radius, ||z*|| of the nearest point)."""
    ticks = torch.linspace(-radius, radius, side)
    z = torch.cartesian_prod(ticks, ticks)
    z = z[z.norm(dim=1) <= radius]
    with torch.no_grad():
        x = torch.cat([generator(c) for c in z.split(20000)]).double()
    d, i = torch.cdist(means, x).min(1)
    return d.numpy(), z[i].norm(dim=1).numpy()


def energies(model: Any, means: torch.Tensor) -> np.ndarray:
    """The model's hat energy H (DDLS: -D) at the mode centres, over its temperature."""
    with torch.no_grad():
        return (model.ebm.hat_energy(means.float()) / model.ebm.temperature).double().numpy()


def weights_at(model: Any, base_gen: Any, truth: Any, n: int, steps: int | None, **kw: Any) -> np.ndarray:
    """Mode weights of ``n`` paired samples of ``model`` at K = ``steps`` (sampler overrides ``kw``)."""
    points, _ = paired_samples(model, base_gen, n, steps, seed=EVAL_SEED, progress=False, **kw)
    return mode_weights(truth, points)


def analyse(folder: Path, truth_name: str, n: int, long: int) -> dict[str, Any]:
    truth = toy_distribution(truth_name)
    rows_file = folder / f"{truth_name}_rows.json"
    if not rows_file.is_file():
        raise SystemExit(f"toy_modes.py: {rows_file} is missing: run benchmarks/toy_table1.py --truths {truth_name} "
                         f"--out {folder} first")
    chosen = json.loads(rows_file.read_text())["ddls"]
    k = len(truth.means)
    rows: dict[str, list[float]] = {key: [] for key in (
        "missed", "reach3", "reach8", "z_star", "covered_reach3", "hat_dE", "ddls_dE", "truth_w", "base_w", "hat_w",
        "hat_long_w", "ddls_w", "ddls_long_w")}
    for g, (ddls_k, ddls_eps) in enumerate(chosen):
        gan = folder / f"{truth_name}_gan{g}"
        base = load_model(gan, device="cpu", method="generator")
        base_w = mode_weights(truth, base.draw(n, seed=EVAL_SEED, progress=False))
        missed = base_w < 0.25 / k
        if not missed.any():
            continue
        d3, _ = reach(base.generator, truth.means, 3.0)
        d8, z8 = reach(base.generator, truth.means, 8.0)
        ddls = load_model(gan, device="cpu", method="ddls")
        e = energies(ddls, truth.means)
        rows["missed"].append(float(missed.sum()))
        near3, near8 = d3 < 2 * truth.std, d8 < 2 * truth.std
        rows["reach3"].append(float(near3[missed].mean()))
        rows["covered_reach3"].append(float(near3[~missed].mean()))
        rows["reach8"].append(float(near8[missed].mean()))
        rows["z_star"] += list(z8[missed & near8])
        rows["ddls_dE"].append(float(np.median(e[missed]) - np.median(e[~missed])))
        rows["truth_w"].append(float(missed.sum() / k))
        rows["base_w"].append(float(base_w[missed].sum()))
        for key, steps in (("ddls_w", ddls_k), ("ddls_long_w", long)):
            rows[key].append(float(weights_at(ddls, base.generator, truth, n, steps, eps_z=ddls_eps)[missed].sum()))
        for run in sorted(folder.glob(f"{truth_name}_gan{g}_hat[0-9]*")):
            hat = load_model(run, device="cpu")
            e = energies(hat, truth.means)
            rows["hat_dE"].append(float(np.median(e[missed]) - np.median(e[~missed])))
            rows["hat_w"].append(float(weights_at(hat, base.generator, truth, n, None)[missed].sum()))
            rows["hat_long_w"].append(float(weights_at(hat, base.generator, truth, n, long)[missed].sum()))
    return {key: [float(np.mean(v)), float(np.std(v))] if v else None for key, v in rows.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="toy_table1.py's --out folder")
    ap.add_argument("--truth", nargs="+", default=["gmm25", "gmm8"])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--long", type=int, default=1000, help="steps of the long chains")
    args = ap.parse_args()
    torch.set_num_threads(1)
    try:
        result = {t: analyse(Path(args.folder), t, args.n, args.long) for t in args.truth}
    except (OSError, ValueError) as err:  # runs this hatebm cannot read
        raise SystemExit(f"toy_modes.py: {err}") from None
    for truth, cells in result.items():
        print(f"\n{truth}: mean ± std over GAN seeds (hat_*: over GAN × hat seeds; z_star: over the modes)")
        for key, v in cells.items():
            print(f"  {key:<15}" + ("–" if v is None else f"{v[0]:10.4f} ± {v[1]:.4f}"))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
