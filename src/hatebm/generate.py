"""Load a trained model from a checkpoint and draw images with the sampling settings saved alongside it.

Three sampling methods: ``hat`` (a Hat EBM: the conditional sampler for tandem runs, the joint sampler for joint runs,
with the priors, temperature and step sizes of the run's config), ``ddls`` (latent Langevin on a GAN's
discriminator, :mod:`hatebm.ddls`), and ``generator`` (G(Z) alone: Z ~ N(0, I), projected onto the sphere of radius
sqrt(m) for autoencoder decoders). ``generator`` works on every checkpoint that holds a generator.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from hatebm import checkpoint as ckpt
from hatebm.config import PretrainConfig, TrainConfig, from_dict
from hatebm.ddls import ddls_model, ddls_sampler
from hatebm.energy import HatEBM
from hatebm.generators import generator_from_checkpoint
from hatebm.nets import build_discriminator, build_hat, project_sphere
from hatebm.sampling import LangevinConfig
from hatebm.train.data import DataInfo

METHODS = ("hat", "ddls", "generator")


@dataclass
class LoadedModel:
    """A model ready to sample: a Hat EBM (or DDLS's latent energy) with its sampler settings, or a generator alone
    (``mode="generator"``, ``ebm`` None). ``sampler.steps`` is the number of Langevin steps used by default."""

    ebm: HatEBM | None
    config: TrainConfig | PretrainConfig
    info: DataInfo
    step: int
    mode: Literal["conditional", "joint", "generator"]
    sampler: LangevinConfig
    generator: nn.Module
    latent_shape: tuple[int, ...]
    sphere: bool = False  # generator mode: project latents onto the sphere of radius sqrt(m) (autoencoder codes)


def from_training(ebm: HatEBM, cfg: TrainConfig, info: DataInfo, step: int = 0) -> LoadedModel:
    """Wrap a Hat EBM being trained with its config: the variant's sampler and ``eval_steps`` steps."""
    return LoadedModel(ebm, cfg, info, step, cfg.sampling_mode, replace(cfg.sampler, steps=cfg.eval_steps),
                       ebm.generator, ebm.latent_shape)


def load_model(path: str | Path, device: str | torch.device = "cpu", method: str = "hat") -> LoadedModel:
    """Rebuild the model of a run folder's newest checkpoint (or of one checkpoint folder) for ``method``
    (``hat``, ``ddls`` or ``generator``, see the module docstring)."""
    if method not in METHODS:
        raise ValueError(f"unknown sampling method {method!r}; choose one of {', '.join(METHODS)}")
    tensors, state = ckpt.load(path)
    kind = state.get("kind", "tandem")
    cfg = from_dict(state["config"], PretrainConfig if kind in ("gan", "ae") else TrainConfig)
    gen = generator_from_checkpoint(tensors, state, str(path))
    common = (cfg, DataInfo(**state["data_info"]), int(state["step"]))
    if method == "generator":
        return LoadedModel(None, *common, "generator", LangevinConfig(steps=0), gen.module.to(device),
                           gen.latent_shape, gen.sphere)
    if method == "ddls":
        if kind != "gan":
            raise ValueError(f"DDLS needs a GAN's discriminator, but {path} is a {kind} run; pass a run of "
                             "`hatebm pretrain gan`")
        disc = build_discriminator(cfg.model)
        disc.load_state_dict(ckpt.subdict(tensors, "discriminator"))
        ebm = ddls_model(gen.module, disc, gen.latent_shape).to(device).eval()
        return LoadedModel(ebm, *common, "joint", ddls_sampler(), ebm.generator, gen.latent_shape)
    if kind not in ("tandem", "joint"):
        raise ValueError(f"{path} is a {kind} run, not a Hat EBM: sample it with method 'generator'"
                         + (" or 'ddls'" if kind == "gan" else ""))
    hat = build_hat(cfg.model)
    hat.load_state_dict(ckpt.subdict(tensors, "hat"))
    ebm = HatEBM(hat, gen.module, gen.latent_shape, cfg.temperature, cfg.y_prior_std, cfg.z_prior).to(device).eval()
    return from_training(ebm, cfg, common[1], common[2])


def draw(model: LoadedModel | HatEBM, n: int, cfg: TrainConfig | None = None, info: DataInfo | None = None,
         steps: int | None = None, batch_size: int = 250, progress: bool = True, **sampler: Any) -> np.ndarray:
    """``n`` samples as uint8 N×H×W×C at the data's original size (or float N×D points for toys).

    A bare ``HatEBM`` needs its training ``cfg`` and ``info``. ``steps`` defaults to the model's evaluation steps;
    other sampler settings (``eps_z=...``) default to those saved with the model.
    """
    if not isinstance(model, LoadedModel):
        if cfg is None or info is None:
            raise ValueError("draw() with a bare HatEBM needs its training cfg and data info")
        model = from_training(model, cfg, info)
    if n < 1:
        raise ValueError(f"number of samples must be positive, got {n}")
    lcfg = replace(model.sampler, steps=model.sampler.steps if steps is None else steps, record_every=0, **sampler)
    device = next(model.generator.parameters(), torch.empty(0)).device
    out = []
    for i in tqdm(range(0, n, batch_size), disable=not progress, desc="sampling", unit="batch"):
        z = torch.randn(min(batch_size, n - i), *model.latent_shape, device=device)
        if model.mode == "generator":
            with torch.no_grad():
                x = model.generator(project_sphere(z) if model.sphere else z)
        else:
            assert model.ebm is not None
            x = model.ebm.sample(z, model.mode, lcfg).x
        out.append(x.detach().float().cpu())
    x = torch.cat(out)
    if model.config.model.arch == "mlp":
        return x.numpy()
    from hatebm.data.transforms import to_uint8

    return to_uint8(x, crop=model.info.height if model.info.height < x.shape[-1] else None)
