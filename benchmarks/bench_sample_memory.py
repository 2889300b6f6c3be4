"""Peak host memory of `hatebm sample` at paper sizes: N images at 128 px from a small 128-px tandem run (widths 16,
trained one step on random images), against the uint8 set it writes. Target: peak RSS <= the uint8 set + 1 GiB.

    python benchmarks/bench_sample_memory.py [--n 20000] [--steps 1] [--batch-size 250] [--pythonpath OTHER/src]
    python benchmarks/bench_sample_memory.py --bank-mb 500 [--pythonpath OTHER/src]

``--bank-mb B`` measures `load_model` instead: the same run trained by a 2-rank torchrun job (gloo) with a bank of
about B MB, then the growth of a process's peak RSS from importing hatebm to `load_model` of its checkpoint, against
the size of the sampling weights. Target: growth <= the sampling weights + 300 MB. ``--pythonpath`` measures another
checkout's hatebm (e.g. the code before a change) on its own run. Prints the figures, then one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from peak_memory import peak_rss  # the sibling module: benchmarks/ is on sys.path when this runs
from safetensors import safe_open

RUN = ["model.resolution=128", "model.channels=3", "model.hat_width=16", "model.gen_width=16", "model.latent_dim=16",
       "iters=1", "batch_size=8", "eval_samples=0", "image_every=1000", "device=cpu", "bank_size=16"]


def measure(n: int, steps: int, folder: Path, pythonpath: str | None = None,
            batch_size: int = 250) -> dict[str, float]:
    data = folder / "data.npz"
    np.savez(data, images=np.random.default_rng(0).integers(0, 256, (16, 128, 128, 3), dtype=np.uint8))
    run = folder / ("run" if pythonpath is None else "run_other")  # each code trains its own (configs may differ)
    if not run.exists():
        peak_rss(f"from hatebm.cli import main\nmain(['train', 'tiny', 'data.name=npz', 'data.root={data}', "
              f"*{RUN!r}, '--quiet', '--out', '{run}'])", pythonpath)
    out = folder / "samples.npz"
    peak, seconds, _ = peak_rss(f"from hatebm.cli import main\nassert main(['sample', '{run}', '-n', '{n}', '--steps', "
                             f"'{steps}', '--batch-size', '{batch_size}', '--device', 'cpu', '--quiet', '--out', "
                             f"'{out}']) == 0", pythonpath)
    base, _, _ = peak_rss("import hatebm.cli, torch", pythonpath)
    images = n * 128 * 128 * 3
    return {"n": n, "batch_size": batch_size, "uint8_gb": images / 1e9, "peak_rss_gb": peak / 1e9,
            "base_rss_gb": base / 1e9,
            "target_gb": (images + 2**30) / 1e9, "meets": peak <= images + 2**30, "seconds": seconds}


RANK = ("import os, runpy\ntry:\n    runpy.run_module('hatebm.cli', run_name='__main__', alter_sys=True)\nfinally:\n"
        "    hwm = next(line for line in open('/proc/self/status') if line.startswith('VmHWM')).split()[1]\n"
        "    print('rank', os.environ['RANK'], 'VmHWM', hwm, flush=True)\n")  # hatebm under torchrun, then its peak


def measure_load(bank_mb: float, folder: Path, pythonpath: str | None = None) -> dict[str, float]:
    """Train the run with 2 ranks and a bank of ~``bank_mb`` MB (each rank's peak RSS measured), then measure
    `load_model` of its checkpoint."""
    data = folder / "data.npz"
    np.savez(data, images=np.random.default_rng(0).integers(0, 256, (16, 128, 128, 3), dtype=np.uint8))
    slot = 3 * 128 * 128 * 4 + 16 * 4  # one bank image and its latent, float32
    bank = 2 * round(bank_mb * 1e6 / slot / 2)  # an even split over the ranks
    run = folder / ("run2" if pythonpath is None else "run2_other")
    env = {**os.environ, "OMP_NUM_THREADS": "1", **({"PYTHONPATH": pythonpath} if pythonpath else {})}
    (folder / "rank.py").write_text(RANK)
    start = time.perf_counter()
    job = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          str(folder / "rank.py"), "train", "tiny", "data.name=npz", f"data.root={data}", *RUN[:-1],
                          f"bank_size={bank}", "--quiet", "--out", str(run)], check=True, capture_output=True,
                         text=True, env=env)
    train_s = time.perf_counter() - start
    ranks = {int(w[1]): int(w[3]) * 1024 / 1e6 for w in map(str.split, job.stdout.splitlines()) if w[:1] == ["rank"]}
    (ckpt,) = (run / "checkpoints").iterdir()
    with safe_open(str(ckpt / "tensors.safetensors"), framework="pt") as f:  # what load_model reads
        hat = "hat_ema" if any(k.startswith("hat_ema.") for k in f.keys()) else "hat"
        sampling = sum(f.get_tensor(k).nbytes for k in f.keys() if k.partition(".")[0] in (hat, "generator"))
    peak, seconds, _ = peak_rss(f"from hatebm.model import load_model\nm = load_model({str(run)!r}, 'cpu')", pythonpath)
    base, _, _ = peak_rss("from hatebm.model import load_model", pythonpath)
    files = {p.name: p.stat().st_size / 1e6 for p in sorted(ckpt.iterdir()) if p.suffix == ".safetensors"}
    return {"bank_size": bank, "bank_mb": bank * slot / 1e6, "files_mb": files, "sampling_weights_mb": sampling / 1e6,
            "base_rss_mb": base / 1e6, "peak_rss_mb": peak / 1e6, "growth_mb": (peak - base) / 1e6,
            "target_mb": (sampling + 300e6) / 1e6, "meets": peak - base <= sampling + 300e6, "load_s": seconds,
            "train_s": train_s, "rank_peak_rss_mb": [ranks[r] for r in sorted(ranks)]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=20_000, help="images to sample")
    p.add_argument("--steps", type=int, default=1, help="Langevin steps per chain")
    p.add_argument("--batch-size", type=int, default=250, help="chains sampled at once (hatebm sample's default)")
    p.add_argument("--dir", type=Path, default=None, help="where the run and samples go (default: a temp dir)")
    p.add_argument("--pythonpath", default=None, help="measure the hatebm of another checkout's src folder")
    p.add_argument("--bank-mb", type=float, default=None, help="measure load_model of a 2-rank run with this bank")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if args.bank_mb is not None:
            r = measure_load(args.bank_mb, folder, args.pythonpath)
        else:
            r = measure(args.n, args.steps, folder, args.pythonpath, args.batch_size)
    if args.bank_mb is not None:
        files = ", ".join(f"{name} {mb:.1f} MB" for name, mb in r["files_mb"].items())
        print(f"2-rank run, bank of {r['bank_size']} pairs at 128 px ({r['bank_mb']:.0f} MB), trained in "
              f"{r['train_s']:.0f} s, peak RSS of its ranks {' and '.join(f'{m:.0f}' for m in r['rank_peak_rss_mb'])} "
              f"MB; checkpoint files: {files}")
        print(f"load_model: peak RSS {r['peak_rss_mb']:.0f} MB, {r['growth_mb']:.0f} MB over a process importing "
              f"hatebm ({r['base_rss_mb']:.0f} MB); sampling weights {r['sampling_weights_mb']:.1f} MB")
        print(f"target growth <= the sampling weights + 300 MB = {r['target_mb']:.0f} MB: "
              f"{'met' if r['meets'] else 'MISSED'}")
        print(json.dumps(r))
        return 0
    print(f"hatebm sample of {r['n']} images at 128 px, batches of {r['batch_size']}: uint8 set "
          f"{r['uint8_gb']:.3f} GB, peak RSS {r['peak_rss_gb']:.3f} GB ({r['seconds']:.0f} s; a process importing hatebm: {r['base_rss_gb']:.3f} GB)")
    print(f"target <= the set + 1 GiB = {r['target_gb']:.3f} GB: {'met' if r['meets'] else 'MISSED'}")
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
