"""Energy-gap trajectories of training runs (the paper's Appendix H: is learning stable with and without Y?).

For each run folder: the mean of ``energy_diff`` (mean H(X+) - mean H(X-), eq 8's loss before division by T) over
``--windows`` consecutive windows of its logged steps, the largest |gap| logged, and the step where the run stopped;
runs are grouped by the label before ``=`` (``LABEL=RUN``), with mean ± std over each group's runs per window.

    python benchmarks/energy_gap.py y=runs/refine/hat_y_s0 y=runs/refine/hat_y_s1 y0=runs/refine/hat_s0 ...
"""
from __future__ import annotations

import argparse

import numpy as np

from hatebm.eval.figures import read_stats, window_means


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="LABEL=RUN_FOLDER")
    ap.add_argument("--windows", type=int, default=5)
    args = ap.parse_args()
    groups: dict[str, list[list[float]]] = {}
    for spec in args.runs:
        label, _, run = spec.rpartition("=")
        records = read_stats(run)
        gaps = window_means(records, "energy_diff", args.windows)
        peak = max(abs(r["energy_diff"]) for r in records if "energy_diff" in r)
        print(f"{label or run:8s} {run:40s} last step {records[-1]['step']:>6}  max |gap| {peak:10.4g}  windows "
              + "  ".join(f"{g:10.4g}" for g in gaps))
        groups.setdefault(label or run, []).append(gaps)
    for label, rows in groups.items():
        g = np.array(rows)
        print(f"{label:8s} mean ± std over {len(rows)} runs: "
              + "  ".join(f"{a:.4g} ± {b:.2g}" for a, b in zip(g.mean(0), g.std(0))))


if __name__ == "__main__":
    main()
