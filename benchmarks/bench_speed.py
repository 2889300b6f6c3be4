"""Where a Hat EBM training iteration spends its time, how many FLOPs it does, and how close the Langevin phase comes
to this machine's own peak, side by side in one run, for fp32 and bf16 autocast.

    python benchmarks/bench_speed.py [--device cpu|cuda] [--iters 3] [--warmup 1] [--json FILE]
    python benchmarks/bench_speed.py --preset cifar10_synth [key=value ...]   # a training preset's own settings
    python benchmarks/bench_speed.py --tiny --json FILE                        # seconds-long smoke run (the test)
    python benchmarks/bench_speed.py --precisions fp32                         # one precision (fp32 only by default
                                                                               # where bf16 would be emulated)

Settings (random 32x32x3 images; step sizes, temperature and drift clip of the cifar10 presets):

  A        synthesis (tandem, cifar10_synth): hat/gen widths 64, batch 32, K 50, bank 1024
  B        joint refinement (cifar10_refine) on a random frozen SN-GAN generator of width 64, batch 32, K 50,
           sampler.order=zy (Z then Y, the authors' order: two hat passes per step)
  B-joint  B with sampler.order=joint (one hat pass per step moves Y and Z together)
  C        synthesis: widths 128, batch 64, K 10, bank 1024

``--preset NAME`` (repeatable) times a tandem or joint image preset as it is, with the overrides given after the
flags (a joint preset also gets a NAME-joint row, order=joint); with ``--preset`` and no ``--settings`` only the
presets run. Every run goes through the library's own path: ``hatebm.config`` presets and overrides, then
``Tandem`` / ``Joint`` and their ``train_step``. Time figures are only to be read against each other: they are
measured side by side in the same run (benchmarks print figures; no test asserts a time).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from hatebm import precision as policy
from hatebm import sampling
from hatebm.config import HatConfig, JointConfig, TandemConfig, override, preset, preset_names
from hatebm.distributed import setup
from hatebm.nets import build_generator
from hatebm.train import hatrun
from hatebm.train import tandem as tandem_module
from hatebm.train.joint import Joint
from hatebm.train.tandem import Tandem

WIDE = ["model.resolution=32", "model.channels=3"]
SETTINGS: dict[str, tuple[str, list[str], str]] = {
    "A": ("cifar10_synth", [*WIDE, "model.hat_width=64", "model.gen_width=64", "batch_size=32", "sampler.steps=50",
                            "bank_size=1024"], "synthesis"),
    "B": ("cifar10_refine", [*WIDE, "model.hat_width=64", "model.gen_width=64", "batch_size=32", "sampler.steps=50",
                             "sampler.order=zy"], "refine, Z then Y (authors' order)"),
    "B-joint": ("cifar10_refine", [*WIDE, "model.hat_width=64", "model.gen_width=64", "batch_size=32",
                                   "sampler.steps=50", "sampler.order=joint"], "refine, one-pass joint order"),
    "C": ("cifar10_synth", [*WIDE, "model.hat_width=128", "model.gen_width=128", "batch_size=64", "sampler.steps=10",
                            "bank_size=1024"], "synthesis, wide, short chains"),
}
# --tiny: the same runs at CPU-smoke size (the order and the other sampler settings kept)
TINY = {"A": ["model.hat_width=8", "model.gen_width=8", "batch_size=4", "sampler.steps=2", "bank_size=16"],
        "C": ["model.hat_width=16", "model.gen_width=16", "batch_size=4", "sampler.steps=2", "bank_size=16"]}
TINY["B"] = TINY["B-joint"] = [k for k in TINY["A"] if not k.startswith("bank")]
PRECISIONS = ("fp32", "bf16")
# the projected run time assumes every iteration runs at this fraction of the 3x3-conv peak measured in the run
# (settings A and B at K 5 on one AVX512 core ran whole iterations at 0.6-0.7 of it, fp32 and bf16; the margin is for
# two threads scaling worse on the small 8x8 layers)
EFFICIENCY = 0.45
GEMM_N = 2048


# ---------------------------------------------------------------------------------------------------------- clocks
class Clock:
    """perf_counter, after torch.cuda.synchronize on a GPU (so a span covers the device work queued inside it)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.cuda = device, device.type == "cuda"

    def now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def time(self, fn: Callable[[], Any]) -> tuple[float, Any]:
        t0 = self.now()
        out = fn()
        return self.now() - t0, out


@contextlib.contextmanager
def patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    """``obj.name = value`` for the block; an attribute the object did not hold itself (a method) is deleted after."""
    own = name in vars(obj)
    saved = vars(obj).get(name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        if own:
            setattr(obj, name, saved)
        else:
            delattr(obj, name)


@contextlib.contextmanager
def spans(module: nn.Module, clock: Clock, fwd: str | None, bwd: str | None, into: dict[str, float]) -> Iterator[None]:
    """Add the wall time of every forward (pre/post hooks) of ``module`` to ``into[fwd]`` and of every backward through
    it (full backward pre/post hooks: from the gradient of its output to that of its input) to ``into[bwd]``."""
    handles, start = [], {}

    def begin(key: str) -> Callable[..., None]:
        def hook(*_: Any) -> None:
            start[key] = clock.now()
        return hook

    def end(key: str) -> Callable[..., None]:
        def hook(*_: Any) -> None:
            if key in start:
                into[key] += clock.now() - start.pop(key)
        return hook

    if fwd:
        handles += [module.register_forward_pre_hook(begin(fwd)), module.register_forward_hook(end(fwd))]
    if bwd:
        handles += [module.register_full_backward_pre_hook(begin(bwd)), module.register_full_backward_hook(end(bwd))]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


# ------------------------------------------------------------------------------------------------------------ runs
def random_images(cfg: HatConfig, n: int = 256) -> np.ndarray:
    m = cfg.model
    return np.random.default_rng(0).integers(0, 256, (n, m.resolution, m.resolution, m.channels), dtype=np.uint8)


def make_run(cfg: HatConfig) -> Tandem | Joint:
    """A Tandem or Joint run of ``cfg`` on random images; a joint run's frozen generator is a random SN-GAN generator
    of width ``model.gen_width`` (tanh x 1 output, as `hatebm pretrain gan` makes)."""
    env = setup(cfg.device)
    if isinstance(cfg, TandemConfig):
        return Tandem(cfg, env, data=random_images(cfg))
    torch.manual_seed(cfg.seed)
    gen = build_generator(cfg.model.replace(latent_shape=[], out_scale=1.0))
    return Joint(cfg, env, data=random_images(cfg), generator=gen)


@contextlib.contextmanager
def precision(run: Tandem | Joint, name: str) -> Iterator[None]:
    """``amp`` on for bf16 (off for fp32); on a CPU without native bf16 the library's autocast would stay off, so it is
    forced on here (emulated bf16: slow, reported all the same)."""
    cfg, saved = run.cfg, run.cfg.amp
    cfg.amp = name == "bf16"
    force = cfg.amp and not policy.native_bf16(run.env.device)
    try:
        with patched(policy, "native_bf16", lambda device: True) if force else contextlib.nullcontext():
            yield
    finally:
        cfg.amp = saved


# ----------------------------------------------------------------------------------------------------------- FLOPs
class _NoModules:
    """Stands in for FlopCounterMode's module tracker, whose hooks refuse ``torch.autograd.grad`` on leaf inputs (the
    Langevin chain's); every count goes to "Global"."""

    parents = {"Global"}

    def __enter__(self) -> "_NoModules":
        return self

    def __exit__(self, *_: Any) -> None:
        return None


def flops(fn: Callable[[], Any]) -> int:
    """Convolution and matmul FLOPs (FlopCounterMode's registry: forward and backward; elementwise ops not counted)
    of one call of ``fn``, run for real."""
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _NoModules()
    with counter:
        fn()
    return int(counter.get_total_flops())


def count_flops(run: Tandem | Joint) -> dict[str, int]:
    """FLOPs of one Langevin step, the chain and the iteration at the run's K, from chains of K = 1 and 2 (the step is
    their difference) and one train_step at K = 1; FLOPs are linear in K. Also one hat forward + input gradient at
    the Langevin batch (the cost of one hat pass)."""
    cfg, saved = run.cfg, run.cfg.sampler
    k = saved.steps
    try:
        cfg.sampler = saved.replace(steps=1)
        chain1 = flops(run.negatives)
        cfg.sampler = saved.replace(steps=2)
        chain2 = flops(run.negatives)
        cfg.sampler = saved.replace(steps=1)
        iter1 = flops(run.train_step)
    finally:
        cfg.sampler = saved
    step = chain2 - chain1
    y = torch.zeros(run.batch, *run.stream.shape, device=run.env.device, requires_grad=True)

    def hat_pass() -> None:
        with sampling.frozen(run.hat):
            torch.autograd.grad(run.ebm.hat_energy(y).sum(), y)

    return {"per_step": step, "chain_start": chain1 - step, "chain": chain1 + (k - 1) * step,
            "iteration": iter1 + (k - 1) * step, "outside_chain": iter1 - chain1, "hat_pass": flops(hat_pass)}


# ------------------------------------------------------------------------------------------------------------ peak
def best_rate(fn: Callable[[], Any], n_flops: float, clock: Clock, seconds: float) -> float:
    """GFLOP/s of the fastest of repeated chunks of calls of ``fn`` (a chunk lasts about 20 ms; at least 3 chunks,
    then until ``seconds`` have passed)."""
    fn()  # warm-up: kernel choice, allocations
    one, _ = clock.time(fn)
    n = max(1, min(1000, int(0.02 / max(one, 1e-7))))
    best, t_end, chunks = math.inf, time.perf_counter() + seconds, 0
    while chunks < 3 or time.perf_counter() < t_end:
        t0 = clock.now()
        for _ in range(n):
            fn()
        best = min(best, (clock.now() - t0) / n)
        chunks += 1
    return n_flops / best / 1e9


def hat_conv_shapes(run: Tandem | Joint, top: int = 3) -> list[tuple[int, int, int, int]]:
    """(c_in, c_out, h, w) of the hat's largest 3x3 convolutions: the stem's (on the image) left out, the ``top``
    shapes of most FLOPs per image, the widest first among equals (a 128-px hat's blocks all cost about the same)."""
    shapes: set[tuple[int, int, int, int]] = set()

    def hook(m: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
            shapes.add((args[0].shape[1], m.out_channels, args[0].shape[2], args[0].shape[3]))

    handle = nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            run.hat(torch.zeros(1, *run.stream.shape, device=run.env.device))
    finally:
        handle.remove()
    image_channels = run.stream.shape[0]
    inner = [s for s in shapes if s[0] != image_channels] or list(shapes)
    return sorted(inner, key=lambda s: (-s[0] * s[1] * s[2] * s[3], -s[1]))[:top]


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def conv_peak(shapes: list[tuple[int, int, int, int]], batch: int, device: torch.device, channels_last: bool,
              clock: Clock, seconds: float, precisions: Sequence[str]) -> dict[str, Any]:
    """Best forward rate of a 3x3 convolution (bias, padding 1, as the hat's) at each shape and batch, in each of
    ``precisions`` (bf16: weights and inputs held in bf16, the best case of autocast)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    out: dict[str, Any] = {"batch": batch, "shapes": []}
    for cin, cout, h, w in shapes:
        row: dict[str, Any] = {"c_in": cin, "c_out": cout, "h": h, "w": w}
        for prec in precisions:
            dtype = DTYPES[prec]
            conv = nn.Conv2d(cin, cout, 3, padding=1).to(device=device, dtype=dtype, memory_format=fmt)
            x = torch.randn(batch, cin, h, w, device=device, dtype=dtype).to(memory_format=fmt)
            with torch.no_grad():
                row[f"{prec}_gflops"] = best_rate(lambda: conv(x), 2 * cin * cout * 9 * h * w * batch, clock, seconds)
        out["shapes"].append(row)
    for prec in precisions:
        out[f"{prec}_gflops"] = max(r[f"{prec}_gflops"] for r in out["shapes"])
    return out


def gemm_peak(device: torch.device, clock: Clock, seconds: float, n: int,
              precisions: Sequence[str]) -> dict[str, float]:
    out = {}
    for prec in precisions:
        a, b = (torch.randn(n, n, device=device, dtype=DTYPES[prec]) for _ in range(2))
        out[f"{prec}_gflops"] = best_rate(lambda: a @ b, 2 * n**3, clock, seconds)
    out["n"] = n
    return out


# -------------------------------------------------------------------------------------------------------- timing
class Probe:
    """Instruments a train_step: the wall-clock spans (``Clock.now``) of its phases add up in ``t``; :meth:`split`
    turns them into the Langevin parts and the parts outside it, each with its residual "other"."""

    def __init__(self, run: Tandem | Joint, clock: Clock) -> None:
        self.run, self.clock = run, clock
        self.t: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        run, clock, t = self.run, self.clock, self.t
        chain_cls = sampling._Chain

        def timed(key: str, fn: Callable[..., Any], minus: tuple[str, ...] = (),
                  inner: Callable[[], Any] | None = None) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                before = {k: t[k] for k in minus}
                t0 = clock.now()
                with inner() if inner else contextlib.nullcontext():
                    out = fn(*args, **kwargs)
                t[key] += clock.now() - t0 - sum(t[k] - before[k] for k in minus)
                return out
            return wrapper

        def chain_probes() -> contextlib.ExitStack:
            stack = contextlib.ExitStack()
            stack.enter_context(spans(run.hat, clock, "hat_fwd", "hat_bwd", t))
            stack.enter_context(spans(run.gen, clock, "gen_fwd", "gen_bwd", t))
            for name in ("_move_y", "_move_z"):
                stack.enter_context(patched(chain_cls, name, timed("update", getattr(chain_cls, name), ("gen_fwd",))))
            stack.enter_context(patched(chain_cls, "result", timed("sync", chain_cls.result)))
            return stack

        def hat_update_probes() -> contextlib.ExitStack:
            stack = contextlib.ExitStack()
            stack.enter_context(spans(run.hat, clock, "hat_update_fwd", None, t))
            stack.enter_context(patched(run.opt_hat, "step", timed("hat_update_opt", run.opt_hat.step)))
            return stack

        with contextlib.ExitStack() as stack:
            stack.enter_context(patched(run, "negatives", timed("langevin", run.negatives, inner=chain_probes)))
            stack.enter_context(patched(hatrun, "hat_update", timed("hat_update", hatrun.hat_update,
                                                                    inner=hat_update_probes)))
            stack.enter_context(patched(run.stream, "next", timed("data", run.stream.next)))
            if isinstance(run, Tandem):
                stack.enter_context(patched(tandem_module, "generator_update",
                                            timed("gen_update", tandem_module.generator_update)))
                for name in ("draw", "write"):
                    stack.enter_context(patched(run.bank, name, timed("bank", getattr(run.bank, name))))
            yield

    def split(self, total: float) -> dict[str, Any]:
        t = dict(self.t)
        lang = t.get("langevin", 0.0)
        inside = {k: t.get(k, 0.0) for k in ("hat_fwd", "hat_bwd", "gen_fwd", "gen_bwd", "update", "sync")}
        inside["other"] = lang - sum(inside.values())
        hu = t.get("hat_update", 0.0)
        hat = {"forward": t.get("hat_update_fwd", 0.0), "optimiser_step": t.get("hat_update_opt", 0.0)}
        hat["backward_and_rest"] = hu - sum(hat.values())
        outside = {"hat_update": hu, "gen_update": t.get("gen_update", 0.0), "bank": t.get("bank", 0.0),
                   "data": t.get("data", 0.0)}
        outside["other"] = total - lang - sum(outside.values())
        pct = lambda part, whole: {k: 100 * v / whole if whole > 0 else 0.0 for k, v in part.items()}  # noqa: E731
        return {"iteration_s": total, "langevin_s": lang, "langevin": inside, "langevin_pct": pct(inside, lang),
                "outside": outside, "outside_pct": pct(outside, total), "hat_update": hat,
                "langevin_share_pct": 100 * lang / total if total > 0 else 0.0}


def count_syncs(run: Tandem | Joint) -> int | None:
    """Host syncs of one chain on a GPU, as torch.cuda's sync debug mode reports them (None on a CPU)."""
    if run.env.device.type != "cuda":
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            run.negatives()
        finally:
            torch.cuda.set_sync_debug_mode(0)
    return sum("synchroniz" in str(w.message) for w in caught)


def time_row(run: Tandem | Joint, clock: Clock, args: argparse.Namespace) -> dict[str, Any]:
    """Warm-up, ``--iters`` timed train_steps (the chain timed inside each), then one probed train_step."""
    cfg = run.cfg
    saved = cfg.sampler
    if args.warmup_steps:
        cfg.sampler = saved.replace(steps=min(args.warmup_steps, saved.steps))
    try:
        for _ in range(args.warmup):
            run.train_step()
    finally:
        cfg.sampler = saved
    chain: list[float] = []

    def negatives() -> Any:
        sec, out = clock.time(type(run).negatives.__get__(run))
        chain.append(sec)
        return out

    iters = []
    with patched(run, "negatives", negatives):
        for _ in range(args.iters):
            iters.append(clock.time(run.train_step)[0])
    probe = Probe(run, clock)
    with probe.installed():
        probed, _ = clock.time(run.train_step)
    s, lang = statistics.median(iters), statistics.median(chain)
    return {"s_per_iter": s, "iters_s": iters, "langevin_s": lang, "langevin_runs_s": chain,
            "langevin_share_pct": 100 * lang / s, "split": probe.split(probed), "host_syncs_per_chain":
                count_syncs(run)}


# --------------------------------------------------------------------------------------------------------- output
HEADER = """How each figure is obtained (all in this one run, {device}):
  s/iter     median wall time of --iters train_step calls after --warmup warm-up calls{sync}.
  Langevin   wall time of run.negatives() (the whole chain: G(Z0), K steps, its one host read) inside those same
             calls, median; Langevin % = median chain / median iteration.
  split      one more train_step, probed: forward pre/post hooks on the hat and on G; full backward pre/post hooks
             on both (the input-gradient backward: from dU/dout to dU/din; G's backward is the joint chains' Z
             gradient through G); wrappers on _Chain._move_y/_move_z (drift, clip, drift-norm sum, noise; G's
             forward inside _move_z taken out), _Chain.result (the chain's one host read of its drift sums),
             hat_update (its hat forward by hooks, Adam's step by a wrapper, backward = the rest: loss, zero_grad,
             backward, 3 .item() reads), generator_update, bank draw/write, the data batch. Every span is
             perf_counter{sync2}; "other" = span total minus its parts (Python, autograd bookkeeping, the energy's
             arithmetic, probe overhead), so parts add up exactly; the probed iteration is a little slower.
  FLOPs      torch.utils.flop_counter.FlopCounterMode (convolutions and matmuls, forward and backward; elementwise
             ops not counted) over chains of K=1 and K=2 (per step = their difference) and one train_step at K=1;
             chain and iteration at K by linearity. GFLOP/s = FLOPs / median wall time above.
  peak       best forward rate of the hat's widest 3x3 convolutions (bias, padding 1, {fmt}) at the Langevin batch,
             inputs and weights in fp32 or bf16 (chunks of calls, fastest kept), and a {gemm}x{gemm} GEMM; % of peak
             = Langevin GFLOP/s / the best conv rate of that precision at the setting's shapes."""


def fmt_s(x: float) -> str:
    return f"{x:.3f}" if x >= 0.01 else f"{1000 * x:.2f}m"


def print_row(name: str, prec: str, row: dict[str, Any]) -> None:
    sp = row["split"]
    lang, out, hat = sp["langevin"], sp["outside"], sp["hat_update"]
    print(f"  {name} {prec}: {row['s_per_iter']:.4f} s/iter (runs {', '.join(f'{x:.4f}' for x in row['iters_s'])}), "
          f"Langevin {row['langevin_s']:.4f} s = {row['langevin_share_pct']:.1f}%; {row['langevin_gflops']:.2f} "
          f"GFLOP/s in Langevin ({row['pct_of_conv_peak']:.1f}% of conv peak, {row['pct_of_gemm_peak']:.1f}% of "
          f"GEMM), {row['iter_gflops']:.2f} GFLOP/s per iteration")
    print(f"    probed iteration {sp['iteration_s']:.4f} s; Langevin {sp['langevin_s']:.4f} s: " + ", ".join(
        f"{k} {fmt_s(v)} ({sp['langevin_pct'][k]:.0f}%)" for k, v in lang.items()))
    print("    outside Langevin: " + ", ".join(f"{k} {fmt_s(v)} ({sp['outside_pct'][k]:.0f}%)" for k, v in out.items())
          + f"; hat update = forward {fmt_s(hat['forward'])} + backward&rest {fmt_s(hat['backward_and_rest'])} + "
            f"Adam {fmt_s(hat['optimiser_step'])}"
          + ("" if row["host_syncs_per_chain"] is None else f"; host syncs per chain {row['host_syncs_per_chain']}"))


def print_table(report: dict[str, Any]) -> None:
    w = max(7, *(len(n) for n in report["settings"]))
    print(f"\n{'setting':>{w}} {'prec':>5} {'s/iter':>9} {'Langevin s':>10} {'Lang %':>7} {'Lang GF/s':>9} "
          f"{'% peak':>7} {'iter GF/s':>9} {'GF/step':>8}  ratio")
    for name, s in report["settings"].items():
        for prec in report["precisions"]:
            r = s["rows"][prec]
            ratio = r.get("vs_joint")
            note = "" if ratio is None else (f"{ratio['of']}/{name}: s/iter x{ratio['s_per_iter']:.2f}, Langevin "
                                             f"x{ratio['langevin']:.2f}, FLOPs/step x{ratio['flops_per_step']:.2f}")
            label = "bf16*" if r.get("bf16_emulated") else prec
            print(f"{name:>{w}} {label:>5} {r['s_per_iter']:9.4f} {r['langevin_s']:10.4f} "
                  f"{r['langevin_share_pct']:6.1f}% {r['langevin_gflops']:9.2f} {r['pct_of_conv_peak']:6.1f}% "
                  f"{r['iter_gflops']:9.2f} {s['flops']['per_step'] / 1e9:8.3f}  {note}")
    print("Lang % = Langevin share of the iteration; % peak = Langevin GFLOP/s over the best 3x3-conv rate of that "
          "precision at the setting's shapes; GF/step = GFLOP per Langevin step; ratio = the two-hat-pass order "
          "over the one-pass joint order (times and FLOPs)"
          + ("; bf16* = emulated bf16 (no native bf16 on this CPU)"
             if report["bf16_emulated"] and "bf16" in report["precisions"] else ""))


# ----------------------------------------------------------------------------------------------------------- main
def plan(args: argparse.Namespace, ap: argparse.ArgumentParser) -> dict[str, tuple[HatConfig, str]]:
    """Setting name -> (validated config, description)."""
    chosen = args.settings if args.settings is not None else ("" if args.preset else ",".join(SETTINGS))
    out: dict[str, tuple[HatConfig, str]] = {}
    dev = [f"device={args.device}"]
    for name in filter(None, (s.strip() for s in chosen.split(","))):
        if name not in SETTINGS:
            ap.error(f"--settings: unknown setting {name!r}; choose from {', '.join(SETTINGS)}")
        base, over, text = SETTINGS[name]
        out[name] = (override(preset(base), [*over, *dev, *(TINY[name] if args.tiny else [])]), text)
    kinds = (TandemConfig, JointConfig)
    for name in args.preset or []:
        cfg = preset(name)
        if not isinstance(cfg, kinds) or cfg.model.arch != "sngan":
            ap.error(f"--preset {name}: choose a tandem or joint image preset: {', '.join(preset_names(kinds))} "
                     "(not the mlp toys)")
        tiny = TINY["A" if isinstance(cfg, TandemConfig) else "B"] if args.tiny else []
        if args.tiny and cfg.model.resolution > 32:  # the first blocks have width / 16 channels
            tiny = [*tiny, "model.hat_width=16", "model.gen_width=16"]
        cfg = override(cfg, [*args.overrides, *dev, *tiny])
        if isinstance(cfg, TandemConfig):
            cfg = override(cfg, [f"bank_size={max(cfg.bank_size, cfg.batch_size * cfg.gen_steps)}"])
        out[name] = (cfg, f"preset {name}")
        if isinstance(cfg, JointConfig) and cfg.sampler.order != "joint":
            out[f"{name}-joint"] = (override(cfg, ["sampler.order=joint"]), f"preset {name}, order joint")
    if not out:
        ap.error("nothing to run: pass --settings and/or --preset")
    return out


def shape_text(cfg: HatConfig) -> str:
    """The sizes actually run (--tiny shrinks them)."""
    m, k = cfg.model, cfg.sampler.steps
    gen = f"G {m.gen_width} frozen, order {cfg.sampler.order}" if cfg.KIND == "joint" else f"G {m.gen_width}"
    bank = f", bank {cfg.bank_size}" if isinstance(cfg, TandemConfig) else ""
    return f"{cfg.KIND}, hat {m.hat_width}, {gen}, {m.resolution} px, batch {cfg.batch_size}, K {k}{bank}"


def describe(cfg: HatConfig) -> dict[str, Any]:
    s, m = cfg.sampler, cfg.model
    return {"kind": cfg.KIND, "batch": cfg.batch_size, "K": s.steps, "order": s.order if cfg.KIND == "joint" else
            "conditional", "hat_width": m.hat_width, "gen_width": m.gen_width, "resolution": m.resolution,
            "channels": m.channels, "eps_y": s.eps_y, "eps_z": s.eps_z, "max_drift_y": s.max_drift_y,
            "temperature": cfg.temperature, "bank_size": getattr(cfg, "bank_size", None),
            "channels_last": cfg.channels_last}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--settings", default=None, help=f"comma-separated subset of {','.join(SETTINGS)} (default all; "
                                                     "none when --preset is given)")
    ap.add_argument("--preset", action="append", help="also time this tandem/joint preset (repeatable)")
    ap.add_argument("--tiny", action="store_true", help="smoke-test size: tiny networks, K 2, 1 timed iteration")
    ap.add_argument("--iters", type=int, default=None, help="timed iterations per row, median reported (default 3; "
                                                            "1 with --tiny)")
    ap.add_argument("--warmup", type=int, default=1, help="warm-up iterations per row, not timed (default 1)")
    ap.add_argument("--warmup-steps", type=int, default=0,
                    help="Langevin steps of the warm-up iterations (0 = the row's K; the same shapes either way)")
    ap.add_argument("--peak-seconds", type=float, default=None, help="seconds per peak measurement (default 0.5; "
                                                                      "0.05 with --tiny)")
    ap.add_argument("--precisions", default=None, help="comma-separated subset of fp32,bf16 to time (default both "
                                                       "where bf16 is native, else fp32: emulated bf16 is many times "
                                                       "slower and says nothing about the library)")
    ap.add_argument("--json", default=None, help="also write every figure to this JSON file")
    ap.add_argument("overrides", nargs="*", help="key=value overrides for the --preset runs")
    args = ap.parse_args()
    if args.overrides and not args.preset:
        ap.error("key=value overrides apply to --preset runs only")
    args.iters = args.iters or (1 if args.tiny else 3)
    args.peak_seconds = args.peak_seconds if args.peak_seconds is not None else (0.05 if args.tiny else 0.5)
    if args.iters < 1 or args.warmup < 0 or args.warmup_steps < 0:
        ap.error("--iters must be >= 1, --warmup and --warmup-steps >= 0")
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error(f"--device cuda: this torch ({torch.__version__}) sees no CUDA GPU")
    t_start = time.perf_counter()
    device = torch.device(args.device)
    clock = Clock(device)
    native = policy.native_bf16(device)
    precisions = PRECISIONS if native else ("fp32",)
    if args.precisions is not None:
        precisions = tuple(dict.fromkeys(p.strip() for p in args.precisions.split(",") if p.strip()))
        if not precisions or not set(precisions) <= set(PRECISIONS):
            ap.error(f"--precisions takes a comma-separated subset of {','.join(PRECISIONS)}, got {args.precisions!r}")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"cpu, {torch.get_num_threads()} threads, {torch.backends.cpu.get_cpu_capability()}"
    settings = plan(args, ap)
    bf16_note = "native" if native else "EMULATED (no AVX512-BF16/AMX), and the library itself leaves autocast off " \
        "here: " + ("timed all the same, forced on" if "bf16" in precisions else
                    "not timed (--precisions fp32,bf16 times it all the same)")
    print(f"device {name}, torch {torch.__version__}; bf16: {bf16_note}")
    gemm_n = 256 if args.tiny else GEMM_N
    print(HEADER.format(device=name, sync=" (torch.cuda.synchronize before and after)" if clock.cuda else "",
                        sync2=" after torch.cuda.synchronize" if clock.cuda else "",
                        fmt="channels_last" if all(c.channels_last for c, _ in settings.values()) else "NCHW",
                        gemm=gemm_n))
    report: dict[str, Any] = {"device": str(device), "device_name": name, "torch": torch.__version__,
                              "threads": torch.get_num_threads(), "native_bf16": native, "bf16_emulated": not native,
                              "precisions": list(precisions), "tiny": args.tiny, "iters": args.iters,
                              "warmup": args.warmup, "warmup_steps": args.warmup_steps,
                              "efficiency_assumed": EFFICIENCY, "settings": {}}
    print(f"\n== peak: {gemm_n}x{gemm_n} GEMM and 3x3 convolutions, {args.peak_seconds:g} s each")
    report["gemm_peak"] = gemm_peak(device, clock, args.peak_seconds, gemm_n, precisions)
    print(f"  GEMM {report['gemm_peak']['n']}^2: "
          + ", ".join(f"{p} {report['gemm_peak'][f'{p}_gflops']:.1f} GFLOP/s" for p in precisions))
    runs, peaks = {}, {}
    for sname, (cfg, text) in settings.items():
        t0 = time.perf_counter()
        run = make_run(cfg)
        setup_s = time.perf_counter() - t0
        shapes = hat_conv_shapes(run)
        key = (tuple(shapes), run.batch, cfg.channels_last)
        if key not in peaks:
            peaks[key] = conv_peak(shapes, run.batch, device, cfg.channels_last, clock, args.peak_seconds, precisions)
            for r in peaks[key]["shapes"]:
                print(f"  conv3x3 {r['c_in']}->{r['c_out']} @ {r['h']}x{r['w']}, batch {run.batch}: "
                      + ", ".join(f"{p} {r[f'{p}_gflops']:.1f}" for p in precisions) + " GFLOP/s")
        with precision(run, "fp32"):
            fl = count_flops(run)
        runs[sname] = run
        report["settings"][sname] = {"description": f"{text}: {shape_text(cfg)}", **describe(cfg),
                                     "setup_s": setup_s, "flops": fl, "conv_peak": peaks[key], "rows": {}}
    rows_per = args.warmup + args.iters + 1
    projected = time.perf_counter() - t_start
    for s in report["settings"].values():
        fl = s["flops"]
        warm = fl["iteration"] - (s["K"] - min(args.warmup_steps or s["K"], s["K"])) * fl["per_step"]
        for prec in precisions:  # timed and probed iterations at K, warm-up ones at --warmup-steps
            rate = EFFICIENCY * s["conv_peak"][f"{prec}_gflops"] * 1e9
            projected += ((args.iters + 1) * fl["iteration"] + args.warmup * warm) / rate
    report["projected_s"] = projected
    print("\n== FLOPs (per Langevin step / chain / iteration, GFLOP) and the projected run time")
    for sname, s in report["settings"].items():
        fl = s["flops"]
        print(f"  {sname:>10}: {s['description']}; {fl['per_step'] / 1e9:.3f} / {fl['chain'] / 1e9:.2f} / "
              f"{fl['iteration'] / 1e9:.2f} (one hat pass {fl['hat_pass'] / 1e9:.3f}, "
              f"{fl['per_step'] / fl['hat_pass']:.2f} hat-pass equivalents per step)")
    print(f"  projected total: {projected / 60:.1f} min ({rows_per} iterations per row, each at {EFFICIENCY:.0%} of "
          f"the row's conv peak; elapsed so far {time.perf_counter() - t_start:.0f} s)")
    print("\n== timing")
    for sname in list(runs):
        run, s = runs.pop(sname), report["settings"][sname]
        for prec in precisions:
            with precision(run, prec):
                row = time_row(run, clock, args)
            fl, peak = s["flops"], s["conv_peak"][f"{prec}_gflops"]
            row["langevin_gflops"] = fl["chain"] / row["langevin_s"] / 1e9
            row["iter_gflops"] = fl["iteration"] / row["s_per_iter"] / 1e9
            row["pct_of_conv_peak"] = 100 * row["langevin_gflops"] / peak
            row["pct_of_gemm_peak"] = 100 * row["langevin_gflops"] / report["gemm_peak"][f"{prec}_gflops"]
            row["bf16_emulated"] = prec == "bf16" and not native
            s["rows"][prec] = row
            print_row(sname, prec, row)
        del run
    for sname, s in report["settings"].items():  # X vs X-joint: the two-pass order over the one-pass one
        base = report["settings"].get(sname.removesuffix("-joint")) if sname.endswith("-joint") else None
        for prec in precisions if base else ():
            a, b = base["rows"][prec], s["rows"][prec]
            s["rows"][prec]["vs_joint"] = {"of": sname.removesuffix("-joint"), "s_per_iter": a["s_per_iter"] /
                                           b["s_per_iter"], "langevin": a["langevin_s"] / b["langevin_s"],
                                           "flops_per_step": base["flops"]["per_step"] / s["flops"]["per_step"]}
    print_table(report)
    report["total_s"] = time.perf_counter() - t_start
    print(f"\ntotal {report['total_s']:.0f} s (projected {projected:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
