"""Peak memory of `hatebm import-tf` on the authors' largest networks: the ImageNet-128 large net (width 2048, hat and
generator, 278M weights, 1.1 GB in float32), as synthetic TensorFlow checkpoints in their layout written by the test
helper (tests/tf_import/tfwriter.py). Prints the weights' size, the import's peak RSS, the RSS of a process that only
imports hatebm (Python, torch), and the ratio of what the import adds to the weights' size (target: at most 1.5),
then one JSON line. With --optim the import also reads a synthetic optimiser file of the hat (the authors' layout).

    python benchmarks/bench_import_tf.py [--width 2048] [--dir /tmp/tfbench] [--optim]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "tf_import"))
from peak_memory import peak_rss  # noqa: E402  # the sibling module: benchmarks/ is on sys.path when this runs
from tfwriter import family_checkpoint, optimizer_file  # noqa: E402


def measure(width: int, folder: Path, optim: bool = False,
            experiment: str = "imagenet_synth_large_net") -> dict[str, float]:
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    values = family_checkpoint(folder / "ebm.ckpt", "hat", 128, width)
    values += family_checkpoint(folder / "gen.ckpt", "generator", 128, width, seed=1)
    if optim:
        optimizer_file(folder / "ebm_optim.npz", folder / "ebm.ckpt", 128)
    written = time.perf_counter() - t0
    out = folder / "run"
    extra = f", optim={str(folder / 'ebm_optim.npz')!r}" if optim else ""
    code = (f"from hatebm.tf_import import import_tf\nimport_tf({experiment!r}, {str(out)!r}, "
            f"ebm={str(folder / 'ebm.ckpt')!r}, gen={str(folder / 'gen.ckpt')!r}{extra}, load=False)")
    base, _, _ = peak_rss("import hatebm.tf_import")
    peak, seconds, _ = peak_rss(code)
    weights = 4.0 * values
    return {"width": width, "optim": optim, "weights_gb": weights / 1e9, "peak_rss_gb": peak / 1e9,
            "base_rss_gb": base / 1e9,
            "added_over_weights": (peak - base) / weights, "import_s": seconds, "write_tf_s": written}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--width", type=int, default=2048, help="ngf of the 128-px hat and generator (2048: the large net)")
    p.add_argument("--dir", type=Path, default=None, help="where the synthetic checkpoints go (default: a temp dir)")
    p.add_argument("--optim", action="store_true",
                   help="also import a synthetic optimiser file of the hat (average, m and v: 3x the hat's weights)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        r = measure(args.width, args.dir or Path(tmp), args.optim)
    print(f"ImageNet-128 hat + generator, width {r['width']}: {r['weights_gb']:.3f} GB of weights"
          + (" (and the hat's optimiser file)" if r["optim"] else ""))
    print(f"import-tf: peak RSS {r['peak_rss_gb']:.3f} GB in {r['import_s']:.1f} s; a process importing hatebm alone: "
          f"{r['base_rss_gb']:.3f} GB")
    print(f"the import adds {r['added_over_weights']:.2f}x the weights (target <= 1.5)")
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
