"""2-D study with exact answers: a joint Hat EBM (§3.2) refines a deliberately imperfect frozen generator.

Truth: ``gmm8`` (8 equal Gaussians, std 0.1, on the circle of radius 2), whose density is known exactly.
Generator: an analytic, parameter-free map of Z ~ N(0, I_2) onto the circle, G(z) = (2 + 0.25 z2) (cos phi, sin phi)
with phi = 2 pi Phi(z1)^2 (Phi the normal CDF): it merges the 8 modes into one ring that is 2.5x too wide and
misweights them (mode weights 0.28 ... 0.07 instead of 0.125). It is saved as TorchScript and handed to the library's
joint trainer like any other generator source (``generator.source=G.pt``); the hat net is the toy MLP.

Reported, averaged over seeds (mean ± std), for G(Z) alone and for the Hat EBM's samples (joint sampler, the run's
steps), each from ``--n`` samples: the exact metrics of :mod:`hatebm.eval.toy` (grid KL, MMD² to fresh true
samples, mode-weight TV, fraction in a mode; truth: 0.989). A truth-vs-truth row gives each metric's floor at this n.
The 2-D Table 1 with a pretrained GAN and DDLS is ``benchmarks/toy_table1.py``.

    python benchmarks/toy_refine.py [--seeds 3] [--iters 1000] [--n 4000] [key=value ...]

Joint runs: the ``toy_gmm8_cpu`` preset (MLP hat, T = 1, batch 256) as a joint run (its hat-network settings in a
``JointConfig``) with hat lr 3e-4 and K = 50 joint Langevin steps, eps_Y = 0.02, eps_Z = 0.1 (training and
evaluation). About 5 minutes on one CPU core.
"""
from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

import hatebm
from hatebm.config import HatConfig, JointConfig, override, preset
from hatebm.data import toy_distribution
from hatebm.eval.toy import toy_metrics
from hatebm.model import load_model

TRUTH = toy_distribution("gmm8")


class ImperfectRing(nn.Module):
    """G(z) = (2 + 0.25 z2) (cos phi, sin phi), phi = 2 pi Phi(z1)^2: blurred ring with misweighted modes."""

    def forward(self, z: Tensor) -> Tensor:
        u = 0.5 * (1 + torch.erf(z[:, 0] / math.sqrt(2)))
        phi = 2 * math.pi * u**2
        r = 2 + 0.25 * z[:, 1]
        return torch.stack([r * torch.cos(phi), r * torch.sin(phi)], dim=1)


def metrics(x: Tensor, seed: int) -> dict[str, float]:
    return toy_metrics(TRUTH, x, TRUTH.sample(len(x), torch.Generator().manual_seed(10_000 + seed)))


def joint_config(name: str) -> JointConfig:
    """The preset ``name`` as a joint run: its data, networks, sampler, loss and schedule (every HatConfig field),
    the joint run's own settings (generator, priors) at their defaults."""
    cfg = preset(name)
    return JointConfig(**{key: getattr(cfg, key) for key in HatConfig.model_fields})


def run_seed(seed: int, args: argparse.Namespace, folder: Path, gen_path: Path) -> dict[str, dict[str, float]]:
    cfg = override(joint_config("toy_gmm8_cpu"), [
        f"generator.source={gen_path}", "generator.latent_shape=2", f"seed={seed}",
        f"iters={args.iters}", f"image_every={args.iters}", f"ckpt_every={args.iters}", "log_every=50",
        "eval_samples=0", "lr_hat=3e-4", "sampler.steps=50", "eval_steps=50", "sampler.eps_y=0.02",
        "sampler.eps_z=0.1",
        *args.overrides])
    out = folder / f"seed{seed}"
    hatebm.train(cfg, out, progress=False)
    torch.manual_seed(seed)
    rows = {}
    for name, method in (("generator G(Z)", "generator"), ("Hat EBM (joint)", "hat")):
        model = load_model(out, device="cpu", method=method, generator=str(gen_path))
        x = torch.from_numpy(model.draw(args.n, progress=False)).float()
        rows[name] = metrics(x, seed)
    rows["truth vs truth"] = metrics(TRUTH.sample(args.n, torch.Generator().manual_seed(seed)), seed)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--n", type=int, default=4000, help="samples per evaluation")
    ap.add_argument("--out", default=None, help="keep the run folders here (default: a temporary folder)")
    ap.add_argument("overrides", nargs="*", help="config overrides for the joint runs (key=value)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.out or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        gen_path = folder / "imperfect_ring.pt"
        torch.jit.save(torch.jit.trace(ImperfectRing(), torch.randn(4, 2)), str(gen_path))
        results = [run_seed(seed, args, folder, gen_path) for seed in range(args.seeds)]
    print(f"gmm8, {args.seeds} seeds, {args.iters} iterations each, n = {args.n}; {time.perf_counter() - t0:.0f} s")
    keys = list(results[0]["truth vs truth"])
    print(f"{'':18s}" + "".join(f"{k:>20s}" for k in keys))
    for name in results[0]:
        cells = []
        for k in keys:
            v = np.array([r[name][k] for r in results])
            cells.append(f"{v.mean():.4f} ± {v.std():.4f}")
        print(f"{name:18s}" + "".join(f"{c:>20s}" for c in cells))


if __name__ == "__main__":
    main()
