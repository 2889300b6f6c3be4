"""Every GPU check of hatebm in one run (about 8 minutes on one H200), or CPU-sized in seconds with ``--tiny``.

    python benchmarks/bench_gpu.py [--device cuda] [--iters 5] [--stability-iters 200] [--json figures.json]
    python benchmarks/bench_gpu.py --tiny [--compile]    # CPU-sized; the test suite runs this

1. Tandem iteration of ``imagenet128_synth`` (widths 1024, K 50, batch 128) on random images, side by side for bf16
   autocast on/off x channels_last on/off x torch.compile of the hat on/off: s/iteration (median after warm-up; the
   first step, which compiles, reported apart), the share spent in Langevin sampling, peak GPU memory, images/s, and
   whether each row meets the target of <= 0.72 s per iteration on one H200-class GPU. Rows that would start past
   ``--budget`` seconds are skipped; a compile that raises is reported for its row and the run goes on.
2. Stability: ``cifar10_synth`` on random images for ``--stability-iters`` steps; ``energy_diff`` must stay finite.
3. Two-rank NCCL smoke test (``torchrun --nproc_per_node=2 ... train tiny``) when two GPUs are visible.
4. Sampling at the paper's evaluation sizes, ``imagenet128_synth`` (batch 128, K 150) and ``cifar10_refine`` (batch
   250, K 350), seeded per image as ``hatebm sample`` draws: batches of 1 and 3 Langevin steps timed and extrapolated
   to K, giving images/s and the time of a 50,000-sample FID (sampling, then Inception features timed on one batch);
   the per-image noise's share of a Langevin step; peak GPU memory and the process's peak host memory so far.

Exit code 1 when training went non-finite, a row without compile failed, or the NCCL smoke test failed.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from hatebm.config import override, preset
from hatebm.devices import compiled, resolve_device
from hatebm.distributed import setup
from hatebm.precision import native_bf16
from hatebm.train.tandem import Tandem

TARGET_S = 0.72  # ImageNet-128 tandem iteration on one H200-class GPU
TINY = ["model.hat_width=8", "model.gen_width=8", "model.resolution=32", "batch_size=4", "sampler.steps=2",
        "bank_size=16"]
TINY_SAMPLING = ["model.hat_width=16", "model.gen_width=16", "model.latent_dim=16"]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[float, Any]:
    """Seconds one call of ``fn`` takes on ``device`` (synchronised), and its result."""
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - t0, out


def make_run(name: str, overrides: list[str], size: int, n_images: int = 256) -> Tandem:
    """A tandem run of preset ``name`` on ``n_images`` random uint8 size x size x 3 images (no dataset needed)."""
    cfg = override(preset(name), overrides)
    images = np.random.default_rng(0).integers(0, 256, (n_images, size, size, 3), dtype=np.uint8)
    return Tandem(cfg, setup(cfg.device), data=images)


def compile_hat(run: Tandem) -> None:
    """Put the compiled hat network (as ``compile=true`` does) where the sampler (``ebm.hat``) and the hat update
    (``hat_train``) call it."""
    run.ebm.hat = run.hat_train = compiled(run.hat)


def time_row(args: argparse.Namespace, base: list[str], amp: bool, cl: bool, comp: bool) -> dict[str, Any]:
    """Timing of one combination: warm-up, median s/iteration, median s in negatives(), peak memory."""
    run = make_run("imagenet128_synth", [*base, f"amp={amp}", f"channels_last={cl}"], args.size)
    dev, batch = run.env.device, run.cfg.batch_size
    if comp:
        compile_hat(run)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    warm, _ = timed(run.train_step, dev)
    timed(run.train_step, dev)  # a second warm-up step, not reported
    steps = [timed(run.train_step, dev)[0] for _ in range(args.iters)]
    negs = [timed(run.negatives, dev)[0] for _ in range(args.iters)]
    s, neg = statistics.median(steps), statistics.median(negs)
    peak = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None
    return {"status": "ok", "warmup_s": warm, "s_per_iter": s, "langevin_s": neg, "langevin_share": neg / s,
            "peak_mem_gib": peak, "images_per_s": batch / s, "meets_target": None if args.tiny else s <= TARGET_S}


def free_memory() -> None:
    torch._dynamo.reset()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def timing(args: argparse.Namespace, device: str) -> list[dict[str, Any]]:
    """Part 1: every amp x channels_last x compile row, within ``--budget`` seconds of starting the part."""
    base = [f"device={device}", "bank_size=1024", *(TINY if args.tiny else [])]
    cfg = override(preset("imagenet128_synth"), base)
    print(f"\n== 1. tandem iteration, imagenet128_synth: batch {cfg.batch_size}, K {cfg.sampler.steps}, hat width "
          f"{cfg.model.hat_width}, gen width {cfg.model.gen_width}, {cfg.model.resolution} px, {args.iters} timed "
          f"iterations per row; target <= {TARGET_S} s/iteration on one H200")
    print(f"{'amp':>5} {'ch_last':>7} {'compile':>7} {'warm-up s':>9} {'s/iter':>7} {'langevin':>8} {'peak GiB':>8} "
          f"{'img/s':>7}  target")
    # cost: the slowest row so far of each kind; a compiled row is assumed to cost at least 3 eager ones
    t_start, rows, cost = time.perf_counter(), [], {False: 0.0, True: 0.0}
    for comp in (False, True):
        for amp in (True, False):
            for cl in (True, False):
                row = {"amp": amp, "channels_last": cl, "compile": comp}
                t_row = time.perf_counter()
                if comp and device == "cpu" and not args.compile:
                    row["status"] = "skipped: compile on CPU (pass --compile)"
                elif t_row - t_start + max(cost[comp], 3 * cost[False] if comp else 0.0) > args.budget:
                    row["status"] = f"skipped: past the --budget of {args.budget:.0f} s"
                else:
                    try:
                        row.update(time_row(args, base, amp, cl, comp))
                    except Exception as err:  # noqa: BLE001 - a failed row is reported, the others still run
                        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
                        row["status"] = f"{'compile failed' if comp else 'failed'}: {type(err).__name__}: {reason}"
                    cost[comp] = max(cost[comp], time.perf_counter() - t_row)
                    free_memory()
                rows.append(row)
                print_row(row)
    return rows


def print_row(row: dict[str, Any]) -> None:
    flags = "".join(f"{'on' if row[k] else 'off':>{w}} " for k, w in (("amp", 5), ("channels_last", 7),
                                                                       ("compile", 7)))
    if row["status"] != "ok":
        print(f"{flags}{row['status']}")
        return
    peak = "-" if row["peak_mem_gib"] is None else f"{row['peak_mem_gib']:.1f}"
    verdict = {None: "n/a (tiny)", True: "meets", False: "MISSES"}[row["meets_target"]]
    print(f"{flags}{row['warmup_s']:9.2f} {row['s_per_iter']:7.3f} {100 * row['langevin_share']:7.0f}% {peak:>8} "
          f"{row['images_per_s']:7.1f}  {verdict}")


def stability(args: argparse.Namespace, device: str) -> dict[str, Any]:
    """Part 2: ``energy_diff`` finite at every step of cifar10_synth on random images."""
    iters = args.stability_iters if args.stability_iters is not None else (10 if args.tiny else 200)
    over = [f"device={device}", "bank_size=1024", *(TINY if args.tiny else [])]
    run = make_run("cifar10_synth", over, 32)
    cfg = run.cfg
    print(f"\n== 2. stability, cifar10_synth: {iters} iterations, batch {cfg.batch_size}, K {cfg.sampler.steps}, "
          f"widths {cfg.model.hat_width}, amp {cfg.amp}, channels_last {cfg.channels_last}")
    diffs, secs = [], []
    for _ in range(iters):
        sec, values = timed(run.train_step, run.env.device)
        diffs.append(float(values["energy_diff"]))
        secs.append(sec)
        if not math.isfinite(diffs[-1]):
            break
    finite = all(math.isfinite(d) for d in diffs)
    out = {"iters": len(diffs), "finite": finite, "energy_diff_min": min(diffs), "energy_diff_max": max(diffs),
           "energy_diff_last": diffs[-1], "s_per_iter": statistics.median(secs[1:] or secs)}
    print(f"energy_diff min {out['energy_diff_min']:.4g}, max {out['energy_diff_max']:.4g}, last "
          f"{out['energy_diff_last']:.4g}; {out['s_per_iter']:.3f} s/iteration (median)")
    print("finite at every step: yes" if finite else f"NON-FINITE energy_diff at step {len(diffs)}")
    del run
    free_memory()
    return out


def nccl_smoke(device: str) -> dict[str, Any]:
    """Part 3: two ranks of ``hatebm train tiny`` through torchrun when two GPUs are visible."""
    print("\n== 3. two-rank NCCL smoke test (torchrun --nproc_per_node=2 -m hatebm.cli train tiny iters=4)")
    n = torch.cuda.device_count() if device == "cuda" else 0
    if n < 2:
        status = f"skipped: {'one GPU' if n == 1 else 'no GPU'} visible"
        print(status)
        return {"status": status}
    with tempfile.TemporaryDirectory() as tmp:
        npz, out = Path(tmp) / "tiny.npz", Path(tmp) / "run"
        np.savez(npz, images=np.random.default_rng(0).integers(0, 256, (64, 28, 28, 1), dtype=np.uint8))
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
               "hatebm.cli", "train", "tiny", "data.name=npz", f"data.root={npz}", "iters=4", "--out", str(out),
               "--quiet"]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240,
                                  env={**os.environ, "OMP_NUM_THREADS": "1"})
            steps = [json.loads(line)["step"] for line in (out / "stats.jsonl").read_text().splitlines()] \
                if (out / "stats.jsonl").exists() else []
            ok, tail = proc.returncode == 0 and steps[-1:] == [4], proc.stderr[-2000:]
        except subprocess.TimeoutExpired:
            ok, tail = False, "timed out after 240 s"
    status = "pass" if ok else "fail"
    print(f"{status} ({time.perf_counter() - t0:.0f} s)" + ("" if ok else f"\n{tail}"))
    return {"status": status, **({} if ok else {"stderr_tail": tail})}


def host_peak_gib() -> float | None:
    """This process's peak resident memory (VmHWM, Linux), GiB."""
    try:
        line = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
    except (OSError, StopIteration):
        return None
    return int(line.split()[1]) / 2**20


def sampling_row(name: str, batch: int, eval_steps: int, device: str, tiny: bool) -> dict[str, Any]:
    """Throughput of one preset's evaluation chains on random networks (see part 4 of the module docstring)."""
    from hatebm.data import DataInfo
    from hatebm.eval.inception import inception_features
    from hatebm.model import hat_model
    from hatebm.nets import build_generator, build_hat
    from hatebm.noise import ImageNoise

    cfg = override(preset(name), [f"device={device}", *(TINY_SAMPLING if tiny else [])])
    dev = torch.device(device)
    gen_model = cfg.model if name.endswith("synth") else override(cfg, ["model.out_scale=1.0"]).model
    ebm = cfg.energy(build_hat(cfg.model), build_generator(gen_model), (cfg.model.latent_dim,)).to(dev).eval()
    model = hat_model(ebm, cfg, DataInfo(cfg.model.resolution, cfg.model.resolution, 3))
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)

    def batch_s(steps: int) -> float:
        """Median seconds of three seeded batches of ``steps`` Langevin steps."""
        return statistics.median(timed(lambda: model.sample(batch, ImageNoise(range(batch), dev), steps=steps),
                                       dev)[0] for _ in range(3))

    batch_s(1)  # warm-up
    one, three = batch_s(1), batch_s(3)
    per_step = max((three - one) / 2, 1e-9)
    eval_batch = one + (eval_steps - 1) * per_step
    shape = (3, cfg.model.resolution, cfg.model.resolution)
    noise = ImageNoise(range(batch), dev)
    draws = [shape] + ([(cfg.model.latent_dim,)] if name.endswith(("refine", "retrofit")) else [])  # Y's, and Z's
    noise_s = sum(statistics.median(timed(lambda: noise.randn(*s), dev)[0] for _ in range(5)) for s in draws)
    images = np.random.default_rng(0).integers(0, 256, (min(batch, 4 if tiny else 100), *shape[1:], 3), np.uint8)
    inception_features(images[:2], progress=False, device=dev)  # warm-up: loads and optimises the network
    inception_s = timed(lambda: inception_features(images, progress=False, device=dev), dev)[0] / len(images)
    images_per_s = batch / eval_batch
    return {"preset": name, "status": "ok", "batch": batch, "eval_steps": eval_steps, "s_per_step": per_step,
            "s_per_eval_batch": eval_batch, "images_per_s": images_per_s, "noise_share": noise_s / per_step,
            "fid50k_sampling_s": 50_000 / images_per_s, "fid50k_inception_s": 50_000 * inception_s,
            "peak_gpu_gib": torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None,
            "peak_host_gib": host_peak_gib()}


def sampling(args: argparse.Namespace, device: str) -> list[dict[str, Any]]:
    """Part 4: sampling throughput at the evaluation sizes of ImageNet-128 synthesis and CIFAR-10 refinement."""
    print("\n== 4. sampling at evaluation sizes (seeded per image; batches of 1 and 3 steps timed, extrapolated to K)")
    print(f"{'preset':>18} {'batch':>5} {'K':>4} {'s/step':>8} {'img/s':>8} {'noise':>6} {'FID-50k sampling':>16} "
          f"{'+ Inception':>11} {'GPU GiB':>7} {'host GiB':>8}")
    rows = []
    for name, batch, steps in (("imagenet128_synth", 128, 150), ("cifar10_refine", 250, 350)):
        try:
            row = sampling_row(name, 4 if args.tiny else batch, steps, device, args.tiny)
        except Exception as err:  # noqa: BLE001 - a failed row is reported, the others still run
            rows.append({"preset": name, "status": f"failed: {type(err).__name__}: {str(err).splitlines()[0][:200]}"})
            print(f"{name:>18} {rows[-1]['status']}")
            continue
        gpu = "-" if row["peak_gpu_gib"] is None else f"{row['peak_gpu_gib']:.1f}"
        host = "-" if row["peak_host_gib"] is None else f"{row['peak_host_gib']:.1f}"
        print(f"{name:>18} {row['batch']:5d} {steps:4d} {row['s_per_step']:8.4f} {row['images_per_s']:8.1f} "
              f"{100 * row['noise_share']:5.1f}% {row['fid50k_sampling_s'] / 60:13.1f} min "
              f"{row['fid50k_inception_s'] / 60:7.1f} min {gpu:>7} {host:>8}")
        rows.append(row)
        free_memory()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", help="auto = cuda if available, else cpu")
    ap.add_argument("--tiny", action="store_true", help="CPU-sized networks and few iterations (seconds)")
    ap.add_argument("--compile", action="store_true", help="also time the torch.compile rows on CPU")
    ap.add_argument("--iters", type=int, default=5, help="timed iterations per row of part 1")
    ap.add_argument("--stability-iters", type=int, default=None, help="iterations of part 2 (200; 10 with --tiny)")
    ap.add_argument("--budget", type=float, default=300.0, help="seconds after which part 1 starts no more rows")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args()
    args.size = 32 if args.tiny else 128
    device = str(resolve_device(args.device))
    dev = torch.device(device)
    if dev.type != "cuda" and not args.tiny:  # the paper-size rows would take hours on a CPU
        ap.error(f"no CUDA device (device {device}, torch {torch.__version__}): install a CUDA build of torch, or pass "
                 "--tiny for the CPU-sized check")
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    t0 = time.perf_counter()
    print(f"device {device} ({name}), torch {torch.__version__}, native bf16: {native_bf16(dev)}, TF32 convolutions: "
          f"{torch.backends.cudnn.allow_tf32}, float32 matmul precision: {torch.get_float32_matmul_precision()}")
    report: dict[str, Any] = {"device": device, "device_name": name, "torch": torch.__version__,
                              "native_bf16": native_bf16(dev), "tiny": args.tiny, "target_s": TARGET_S}
    report["timing"] = timing(args, device)
    report["stability"] = stability(args, device)
    report["nccl"] = nccl_smoke(device)
    report["sampling"] = sampling(args, device)
    failed_rows = [r for r in report["timing"] + report["sampling"]
                   if not r.get("compile") and r["status"].startswith("failed")]
    report["ok"] = report["stability"]["finite"] and not failed_rows and report["nccl"]["status"] != "fail"
    report["total_s"] = time.perf_counter() - t0
    print(f"\nall checks {'passed' if report['ok'] else 'FAILED'} ({report['total_s']:.0f} s in all)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
