"""Load a trained Hat EBM from a checkpoint and draw images with the sampling settings saved alongside it."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from hatebm import checkpoint as ckpt
from hatebm.config import TrainConfig, from_dict
from hatebm.energy import HatEBM
from hatebm.nets import build_generator, build_hat, latent_shape
from hatebm.train.data import DataInfo


@dataclass
class LoadedModel:
    """A Hat EBM with the config it was trained with and the shape of its data."""

    ebm: HatEBM
    config: TrainConfig
    info: DataInfo
    step: int


def load_model(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild the networks of a run folder's newest checkpoint (or of one checkpoint folder)."""
    tensors, state = ckpt.load(path)
    cfg = from_dict(state["config"])
    hat, gen = build_hat(cfg.model), build_generator(cfg.model)
    hat.load_state_dict(ckpt.subdict(tensors, "hat"))
    gen.load_state_dict(ckpt.subdict(tensors, "generator"))
    ebm = HatEBM(hat, gen, latent_shape(cfg.model), cfg.temperature).to(device).eval()
    return LoadedModel(ebm, cfg, DataInfo(**state["data_info"]), int(state["step"]))



def draw(model: LoadedModel | HatEBM, n: int, cfg: TrainConfig | None = None, info: DataInfo | None = None,
         steps: int | None = None, batch_size: int = 250, progress: bool = True, **sampler: Any) -> np.ndarray:
    """``n`` samples X = G(Z) + Y_K as uint8 N×H×W×C at the data's original size (or float N×D points for toys).

    ``steps`` defaults to the config's ``eval_steps``; other sampler settings default to those saved with the model.
    """
    if isinstance(model, LoadedModel):
        ebm, cfg, info = model.ebm, model.config, model.info
    else:
        ebm = model
    assert cfg is not None and info is not None
    if n < 1:
        raise ValueError(f"number of samples must be positive, got {n}")
    lcfg = replace(cfg.sampler, steps=cfg.eval_steps if steps is None else steps, record_every=0, **sampler)
    out = []
    for i in tqdm(range(0, n, batch_size), disable=not progress, desc="sampling", unit="batch"):
        res = ebm.sample(min(batch_size, n - i), "conditional", lcfg)
        out.append(res.x.detach().cpu())
    x = torch.cat(out)
    if cfg.model.arch == "mlp":
        return x.numpy()
    from hatebm.data.transforms import to_uint8

    return to_uint8(x, crop=info.height if info.height < x.shape[-1] else None)
