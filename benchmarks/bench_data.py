"""Streamed prepared data: peak RSS of a training process against the data set's size, and loader throughput.

    python benchmarks/bench_data.py [--sizes 2000 50000] [--iters 5] [--throughput-n 4000] [--workers 0 1 2]
                                    [--seconds 20] [--json figures.json]
    python benchmarks/bench_data.py --small    # seconds; the test suite runs this

1. For each of ``--sizes`` (random 64-px RGB images, prepared), a separate process trains ``--iters`` iterations of
   the ``tiny`` tandem preset (widths 16, 2 DataLoader workers) on it; its peak RSS (ru_maxrss) and its largest
   worker's, and the same for private memory (RssAnon, sampled), side by side. Target: difference < 10 %. Each folder
   leaves the page cache before its run, as in a fresh run.
2. Images/s of ``open_stream`` at 128 px (``--throughput-n`` images, batch 128) per ``--workers`` value, over one full
   pass (or ``--seconds``) after a warm-up batch: "square" layout, and "short_side" (128 x 160) with random crops and
   flips. Target: >= 2,000 images/s.

Folders are written image by image with ``hatebm.data.write_prepared``.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hatebm.config import DataConfig, ModelConfig
from hatebm.data import write_prepared
from hatebm.data.prepared import IMAGES

RSS_TARGET, THROUGHPUT_TARGET = 0.10, 2000.0
RSS_KEYS = ("self_mib", "workers_mib", "self_anon_mib", "workers_anon_mib")  # ru_maxrss, then peak RssAnon
FULL = {"sizes": [2000, 50000], "iters": 5, "throughput_n": 4000, "res": 64}
SMALL = {"sizes": [200, 2000], "iters": 2, "throughput_n": 512, "res": 32}
LAYOUTS = {"square": {}, "short_side": {"crop": "random", "flip": True}}  # layout -> DataConfig settings


def synthetic(root: Path, n: int, size: int, layout: str = "square", seed: int = 0) -> Path:
    """A prepared folder of ``n`` random RGB images of side ``size`` ("short_side": alternately size x long and long x
    size, long = 5/4 size), written one image at a time by ``hatebm.data.write_prepared``."""
    long = size * 5 // 4 if layout == "short_side" else size
    rng = np.random.default_rng(seed)
    images = (rng.integers(0, 256, (size, long, 3) if i % 2 == 0 else (long, size, 3), dtype=np.uint8)
              for i in range(n))
    return write_prepared(root, images, n, 3, size, layout, source="synthetic: benchmarks/bench_data.py",
                          progress=False)


def drop_cache(path: Path) -> None:
    """Write ``path`` out and drop it from the page cache, so that its readers start cold, as in a fresh run."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def maxrss_mib(who: int) -> float:
    """Peak RSS in MiB of this process (RUSAGE_SELF) or of its largest reaped child (RUSAGE_CHILDREN)."""
    return resource.getrusage(who).ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)


def anon_mib(pid: int) -> float:
    """Private memory (RssAnon of /proc/PID/status) of process ``pid`` in MiB; 0 once it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in lines if line.startswith("RssAnon:")), 0.0)


def sample_anon(peaks: dict[str, float], stop: threading.Event) -> None:
    """Until ``stop``: every 20 ms, the largest private (RssAnon) MiB seen of this process and of its workers."""
    me, kids = os.getpid(), Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")  # the main thread's children
    while not stop.wait(0.02):
        workers = [anon_mib(int(p)) for p in (kids.read_text().split() if kids.exists() else [])]
        peaks["self_anon_mib"] = max(peaks["self_anon_mib"], anon_mib(me))
        peaks["workers_anon_mib"] = max([peaks["workers_anon_mib"], *workers])


def child(root: str, res: int, iters: int) -> None:
    """In the subprocess: train the small tandem config on ``root``; print one JSON line of peak RSS figures."""
    from hatebm import train
    from hatebm.config import override, preset

    big = 10**9  # widths 16: the 64/128-px networks divide them by 16
    cfg = override(preset("tiny"), [
        "data.name=prepared", f"data.root={root}", "data.workers=2", f"iters={iters}", f"model.resolution={res}",
        "model.channels=3", "model.hat_width=16", "model.gen_width=16", "batch_size=32", "bank_size=64",
        "eval_samples=0", f"ckpt_every={big}", f"image_every={big}", f"log_every={big}", "device=cpu"])
    peaks, stop = {"self_anon_mib": 0.0, "workers_anon_mib": 0.0}, threading.Event()
    (sampler := threading.Thread(target=sample_anon, args=(peaks, stop), daemon=True)).start()
    with tempfile.TemporaryDirectory() as out:
        train(cfg, out, progress=False)
        gc.collect()  # the stream's DataLoader iterator goes, and its workers are joined (reaped)
    stop.set()
    sampler.join()
    print(json.dumps({"self_mib": maxrss_mib(resource.RUSAGE_SELF),
                      "workers_mib": maxrss_mib(resource.RUSAGE_CHILDREN), **peaks}))


def measure_rss(root: Path, res: int, iters: int) -> dict[str, float]:
    """Peak RSS figures of a separate training process on the prepared folder ``root``."""
    cmd = [sys.executable, __file__, "--child", str(root), "--res", str(res), "--iters", str(iters)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"training subprocess failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def print_rss(rows: list[dict[str, Any]]) -> None:
    """Part 1's table: a row per data set size."""
    print("peak MiB: RSS (ru_maxrss) of the training process and of its largest worker, then their private memory "
          "alone (RssAnon, sampled every 20 ms)")
    print(f"{'images':>8} {'images.u8':>10} {'process':>9} {'workers':>9} {'proc anon':>9} {'work anon':>9}")
    for r in rows:
        print(f"{r['n']:>8,} {r['data_mib']:>10.1f} " + " ".join(f"{r[k]:>9.1f}" for k in RSS_KEYS))


def rss_part(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Part 1: peak RSS of a training process for each of ``--sizes``, side by side, and the relative difference."""
    print(f"\n== 1. peak RSS of a training process (tiny tandem, {args.res} px, batch 32, {args.iters} iterations, "
          f"2 workers) on prepared data of {' and '.join(f'{n:,}' for n in args.sizes)} images; target: "
          f"difference < {100 * RSS_TARGET:.0f} %")
    rows = []
    for n in args.sizes:
        root = synthetic(tmp / f"rss-{n}", n, args.res)
        drop_cache(root / IMAGES)
        rows.append({"n": n, "data_mib": n * args.res**2 * 3 / 2**20, **measure_rss(root, args.res, args.iters)})
    print_rss(rows)
    first, last = rows[0], rows[-1]
    diff = {k: (last[k] - first[k]) / first[k] if first[k] else float("nan") for k in RSS_KEYS}
    ok = {"rss": all(abs(diff[k]) < RSS_TARGET for k in RSS_KEYS[:2]),
          "private": all(abs(diff[k]) < RSS_TARGET for k in RSS_KEYS[2:])}
    label = f"{last['n']:,} vs {first['n']:,}"
    print(f"{label:>19} " + " ".join(f"{100 * diff[k]:>+8.1f}%" for k in RSS_KEYS))
    print(f"RSS -> {'meets' if ok['rss'] else 'MISSES'} the target (difference < {100 * RSS_TARGET:.0f} %), private "
          f"memory -> {'meets' if ok['private'] else 'MISSES'} it")
    return {"rows": rows, "relative_diff": diff, "meets_target": ok, "target": RSS_TARGET}


def images_per_s(root: Path, workers: int, extra: dict[str, Any], seconds: float, batch: int = 128) -> dict[str, Any]:
    """Images/s of ``open_stream``'s ``next()`` over one full pass (or ``seconds``) after a warm-up batch."""
    from hatebm.train.stream import open_stream

    data = DataConfig(name="prepared", root=str(root), workers=workers, **extra)
    stream, _ = open_stream(data, ModelConfig(resolution=128, channels=3), batch_size=batch, seed=0, rank=0, world=1,
                            device=torch.device("cpu"))
    stream.next()  # warm-up: starts the workers
    per_pass, count, t0 = stream.order.n // batch, 0, time.perf_counter()
    while count < per_pass and (count == 0 or time.perf_counter() - t0 < seconds):
        stream.next()
        count += 1
    elapsed = time.perf_counter() - t0
    del stream
    gc.collect()  # this loader's workers stop before the next one's start
    rate = count * batch / elapsed
    return {"workers": workers, "batches": count, "seconds": elapsed, "images_per_s": rate,
            "meets_target": rate >= THROUGHPUT_TARGET}


def throughput_part(args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    """Part 2: loader images/s at 128 px for each layout and each of ``--workers``."""
    print(f"\n== 2. loader throughput, {args.throughput_n:,} prepared 128-px images, batch 128, open_stream on CPU; "
          f"target >= {THROUGHPUT_TARGET:,.0f} images/s")
    rows = []
    for layout, extra in LAYOUTS.items():
        root = synthetic(tmp / f"tp-{layout}", args.throughput_n, 128, layout)
        for w in args.workers:
            rows.append({"layout": layout, **extra, **images_per_s(root, w, extra, args.seconds)})
    print(f"{'layout':>10} {'crop':>7} {'flip':>5} " + " ".join(f"{f'{w} workers':>10}" for w in args.workers))
    for layout, extra in LAYOUTS.items():
        rates = [r["images_per_s"] for r in rows if r["layout"] == layout]
        print(f"{layout:>10} {extra.get('crop', 'centre'):>7} {str(extra.get('flip', False)).lower():>5} "
              + " ".join(f"{v:>10.0f}" for v in rates))
    best = max(rows, key=lambda r: r["images_per_s"])
    print(f"best: {best['images_per_s']:.0f} images/s ({best['layout']}, {best['workers']} workers) -> "
          f"{'meets' if best['meets_target'] else 'MISSES'} the target (>= {THROUGHPUT_TARGET:,.0f} images/s)")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="data set sizes of part 1 (2000 50000)")
    ap.add_argument("--iters", type=int, default=None, help="training iterations per size in part 1 (5)")
    ap.add_argument("--throughput-n", type=int, default=None, help="images of part 2 (4000)")
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="data.workers values of part 2")
    ap.add_argument("--seconds", type=float, default=20.0, help="at most this long per throughput figure")
    ap.add_argument("--small", action="store_true", help="tiny sizes (seconds): 200 and 2000 at 32 px, 512 images")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--res", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.res, args.iters)
        return 0
    for key, value in (SMALL if args.small else FULL).items():
        setattr(args, key, getattr(args, key) or value)
    if len(args.sizes) < 2 or args.throughput_n < 128:
        ap.error("pass two or more --sizes and --throughput-n >= 128 (one batch)")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; small: {args.small}")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_data-") as tmp:
        report = {"small": args.small, "rss": rss_part(args, Path(tmp)),
                  "throughput": throughput_part(args, Path(tmp)), "throughput_target": THROUGHPUT_TARGET}
    report["total_s"] = time.perf_counter() - t0
    print(f"\n{report['total_s']:.0f} s in all")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
