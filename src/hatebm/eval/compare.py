"""A paired comparison of a base generator, DDLS on its discriminator and a joint Hat EBM on it (the shape of the
paper's Table 1): :func:`paired_comparison`, behind `hatebm compare`.

Paired: image i of every method starts from the same latent Z0_i and draws its Langevin noise from the same per-image
noise, keyed ``hatebm.model.image_seed(seed, i)`` (:meth:`hatebm.model.Model.results`), so that the methods
differ only in how they move from G(Z0) (the base image): K = 0 reproduces the base images exactly. Each method
reports FID and KID against one reference, its sampling cost (seconds, forward passes per image) and how far its
chains moved (latent distance, Y magnitude, image change from G(Z0)).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor, nn

PAIRED = ("every method starts image i from the same latent Z0_i and draws its Langevin noise from the same "
          "per-image noise (hatebm.noise.ImageNoise), keyed image_seed(seed, i) = (seed * 1000003 + i) mod 2**32; "
          "base is G(Z0), so the methods differ only in how their chains move from G(Z0) (K = 0 gives the base "
          "images exactly)")
COST = ("seconds: wall time of sampling alone (perf_counter, CUDA synchronised; image conversion, diagnostics and "
        "Inception excluded); passes: forward calls per image of the hat network (DDLS: the critic -D) and of the "
        "generator, counted by forward hooks (backward passes through them are not counted)")
DIAGNOSTICS = ("z_move: mean over chains of ||Z_K - Z0|| (L2 over the latent); y_rms: mean over images of the RMS "
               "per pixel of Y; x_move: mean over images of the RMS per pixel of X - G(Z0); both in model space "
               "([-1, 1] at the model's resolution)")


class _Passes:
    """Counts the images that go through ``module``'s forward while :attr:`on`."""

    def __init__(self, module: nn.Module) -> None:
        self.images, self.on = 0, False
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        if self.on:
            self.images += int(inputs[0].shape[0])


def _rms(v: Tensor) -> Tensor:
    return v.detach().float().flatten(1).pow(2).mean(1).sqrt()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def paired_samples(model, base_gen: nn.Module, n: int, steps: int | None, *, seed: int, batch_size: int = 250,
                   progress: bool = True, **overrides: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """uint8 images of ``n`` seeded chains of ``model`` and their cost and diagnostics (G(Z0) from ``base_gen``)."""
    counters = {"hat": None if model.ebm is None else _Passes(model.ebm.hat), "generator": _Passes(model.generator)}
    live = [c for c in counters.values() if c is not None]
    device = model.device
    seconds = z_move = y_rms = x_move = 0.0
    images = []
    chains = model.results(n, steps, batch_size, progress, seed, **overrides)
    try:
        while True:
            _sync(device)
            start = time.perf_counter()
            for c in live:
                c.on = True
            try:
                result = next(chains)
            except StopIteration:
                break
            finally:
                for c in live:
                    c.on = False
                _sync(device)
                seconds += time.perf_counter() - start
            with torch.no_grad():
                g0 = base_gen(result.z0.to(device)).float()
            z_move += (result.z - result.z0).detach().float().flatten(1).norm(dim=1).sum().item()
            y_rms += _rms(result.y).sum().item()
            x_move += _rms(result.x - g0).sum().item()
            images.append(model.images(result.x))
    finally:
        for c in live:
            c.handle.remove()
    passes = {k: None if c is None else c.images / n for k, c in counters.items()}
    return np.concatenate(images), {"seconds": seconds, "passes": passes, "z_move": z_move / n, "y_rms": y_rms / n,
                                    "x_move": x_move / n}


def check_pair(base, hat, gan: str, hat_path: str) -> None:
    """One ValueError unless ``hat`` is a joint Hat EBM on exactly ``base``'s generator, trained on the same data."""
    from hatebm.config import JointConfig

    if not isinstance(hat.config, JointConfig):
        raise ValueError(f"{hat_path} is a {hat.config.KIND} run: the comparison needs a joint Hat EBM run on the "
                         f"generator of {gan} (`hatebm train ... generator.source={gan}`)")
    if base.config.model.arch == "mlp":
        raise ValueError(f"{gan} is a 2-D toy model: its samples are points, not images")
    if tuple(hat.latent_shape) != tuple(base.latent_shape):
        raise ValueError(f"the generator of {hat_path} has latents of shape {list(hat.latent_shape)}, the one of {gan} "
                         f"{list(base.latent_shape)}: pass the joint run trained on {gan}'s generator")
    a, b = base.generator.state_dict(), hat.generator.state_dict()
    differ = sorted(set(a) ^ set(b)) or [k for k in a if not torch.equal(a[k].cpu(), b[k].cpu())]
    if differ:
        raise ValueError(f"the generator of {hat_path} is not the one of {gan} (weights {', '.join(differ[:3])}"
                         f"{', ...' if len(differ) > 3 else ''} differ): pass the joint run trained with "
                         f"generator.source={gan}")
    if base.info != hat.info:
        shape = lambda i: f"{i.height}×{i.width}×{i.channels}"  # noqa: E731
        raise ValueError(f"{gan} was trained on {shape(base.info)} images and {hat_path} on {shape(hat.info)}: a "
                         "paired comparison needs both on the same data")


def load_reference(ref: Any, ref_n: int | None, size: int, weights: Any, progress: bool, device: Any,
                   ref_n_name: str = "ref_n"):
    """Reference statistics as `hatebm fid calc --ref` reads them: a statistics .npz, or images (a dataset spec, an
    .npz of images, a folder) brought to the samples' size; a ``ReferenceStats`` as it is (``ref_n`` with a
    statistics file is refused before sampling, by :func:`hatebm.eval.reference.statistics_reference`). Errors name
    ``ref_n`` as ``ref_n_name``."""
    from hatebm.data.registry import parse_spec
    from hatebm.eval.reference import ReferenceStats, is_statistics_file, reference_stats

    if isinstance(ref, ReferenceStats):
        return ref
    if is_statistics_file(ref):
        return ReferenceStats.load(ref)
    name, split, root = parse_spec(str(ref))
    return reference_stats(name, split, ref_n, root=root, size=size, weights=weights, progress=progress, device=device,
                           n_name=ref_n_name)


def paired_comparison(
    gan: str | os.PathLike, hat: str | os.PathLike, *, n: int = 2000, seed: int = 0,
    steps: Sequence[int] | None = None, ddls_steps: int = 100, ddls_eps: float = 0.1, ref: Any = "fashion_mnist:test",
    ref_n: int | None = None, out: str | os.PathLike | None = None, batch_size: int = 250, device: Any = "auto",
    progress: bool = True, weights: str | os.PathLike | None = None, kid_subsets: int = 100,
    kid_subset_size: int = 1000, trust_generator: bool = False, ref_n_name: str = "ref_n",
) -> dict[str, Any]:
    """Base generator, DDLS and the Hat EBM, paired (see the module docstring), with FID, KID, cost and diagnostics.

    ``gan`` is a `hatebm pretrain gan` run (its generator is "base", its discriminator drives "ddls": ``ddls_steps``
    steps of size ``ddls_eps``), or a generator-only run such as an import of the authors' SN-GAN (compared without
    "ddls"); ``hat`` is a joint Hat EBM run on that same generator ("hat": its evaluation steps;
    "hat_K{k}" for each k of ``steps``, which may include 0). ``ref`` and ``ref_n`` mean what they mean in
    `hatebm fid calc` (a dataset spec, an .npz of images or a folder, at the samples' size; or a statistics .npz, or
    a ``ReferenceStats``; errors name ``ref_n`` as ``ref_n_name``, the CLI's ``--ref-n``); ``weights``,
    ``kid_subsets`` and ``kid_subset_size`` go to :func:`hatebm.eval.fid.compute_metrics`. ``trust_generator`` lets
    either run's generator be loaded from the TorchScript file or factory its checkpoint records (see
    :func:`hatebm.model.load_model`; refused by default).

    Returns ``{method: {"steps", "fid", "kid", "kid_std" (when measured), "seconds", "passes": {"hat", "generator"},
    "z_move", "y_rms", "x_move", "images"}, "protocol": {...}}``. With ``out``, writes ``out/<method>.npz`` (uint8
    ``images``) and ``out/metrics.json`` (the same dict without the images, each entry naming its file)."""
    from hatebm.checkpoint import net_names, resolve
    from hatebm.config import GanConfig
    from hatebm.devices import resolve_device
    from hatebm.eval.common import save_npz, write_json
    from hatebm.eval.fid import compute_metrics
    from hatebm.eval.reference import statistics_reference
    from hatebm.model import load_model

    sweep = list(dict.fromkeys(int(k) for k in (steps or ())))
    if any(k < 0 for k in sweep) or ddls_steps < 0:
        raise ValueError(f"Langevin steps must be >= 0, got steps={sweep} and ddls_steps={ddls_steps}")
    if n < 2:
        raise ValueError(f"FID and KID need at least 2 samples, got n={n}")
    statistics_reference(ref, ref_n, ref_n_name)
    device = torch.device(resolve_device(device))
    gan_dir, hat_dir = resolve(gan), resolve(hat)
    base = load_model(gan_dir, device, method="generator", trust_generator=trust_generator)
    # a GAN run's generator without its discriminator (an imported released SN-GAN) is compared without DDLS; other
    # runs are refused by load_model as before
    skip = isinstance(base.config, GanConfig) and "discriminator" not in net_names(gan_dir)
    ddls = None if skip else load_model(gan_dir, device, method="ddls", trust_generator=trust_generator)
    joint = load_model(hat_dir, device, trust_generator=trust_generator)
    check_pair(base, joint, str(gan), str(hat))

    with torch.no_grad():  # warm-up outside the timings (CUDA context, kernels)
        base.generator(torch.zeros(2, *base.latent_shape, device=device))
    runs = [("base", base, 0, {})] + ([("ddls", ddls, ddls_steps, {"eps_z": ddls_eps})] if ddls else []) + \
        [("hat", joint, joint.sampler.steps, {})] + [(f"hat_K{k}", joint, k, {}) for k in sweep]
    drawn: dict[tuple[str, int], tuple[np.ndarray, dict[str, Any]]] = {}
    for name, model, k, overrides in runs:
        key = ("hat" if model is joint else name, k)  # a sweep K equal to the eval steps is the same set
        if key not in drawn:
            drawn[key] = paired_samples(model, base.generator, n, None if name == "base" else k, seed=seed,
                                        batch_size=batch_size, progress=progress, **overrides)

    images0 = drawn[("base", 0)][0]
    reference = load_reference(ref, ref_n, images0.shape[1], weights, progress, device, ref_n_name)
    results: dict[str, Any] = {}
    scored: dict[tuple[str, int], dict[str, Any]] = {}
    for name, model, k, _ in runs:
        key = ("hat" if model is joint else name, k)
        images, stats = drawn[key]
        if key not in scored:
            scored[key] = compute_metrics(images, reference, weights=weights, kid_subsets=kid_subsets,
                                          kid_subset_size=kid_subset_size, progress=progress, device=device)
        metrics = scored[key]
        fid_protocol = {"reference": metrics["protocol"]["reference"], "kid": metrics["protocol"]["kid"]}
        entry = {"steps": k, "fid": metrics["fid"], "kid": metrics["kid_mean"], **stats}
        if metrics["kid_std"] is not None:
            entry["kid_std"] = metrics["kid_std"]
        results[name] = {**entry, "images": images}

    sampler = joint.sampler.model_dump()
    results["protocol"] = {
        "gan": str(gan_dir), "hat": str(hat_dir), "checkpoint_steps": {"gan": base.step, "hat": joint.step},
        "n": n, "seed": seed, "batch_size": batch_size, "ref_n": ref_n,
        "ref": str(ref) if isinstance(ref, (str, os.PathLike)) else reference.name,
        "ddls": {"steps": ddls_steps, "eps_z": ddls_eps, "noise": ddls.sampler.noise,
                 "energy": "U(z) = -D(G(z)) + ||z||^2 / 2"} if ddls else
                {"skipped": f"{gan_dir} holds no discriminator (an imported generator?)"},
        "hat_sampler": {"run": joint.config.KIND, "eval_steps": sampler["steps"],
                        **{k: v for k, v in sampler.items() if k not in ("steps", "record_every")}},
        "sweep": sweep, "paired": PAIRED, "cost": COST, "diagnostics": DIAGNOSTICS, "device": str(device),
        "image_shape": list(images0.shape[1:]), "fid": fid_protocol,
    }
    if out is not None:
        out = Path(out)
        for name, entry in results.items():
            if name != "protocol":
                entry["file"] = str(save_npz(out / f"{name}.npz", {"images": entry["images"]},
                                             {"method": name, "steps": entry["steps"], **results["protocol"]}))
        results["protocol"]["metrics"] = str(out / "metrics.json")
        write_json(out / "metrics.json", {name: {k: v for k, v in entry.items() if k != "images"}
                                          for name, entry in results.items()})
    return results
