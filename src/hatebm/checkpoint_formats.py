"""Checkpoints of earlier formats, converted on reading to the current one (:data:`FORMAT`, see
:mod:`hatebm.checkpoint`): a first-format ``state.json`` (no ``format`` entry) to the second, a second-format checkpoint
(one rank) to the third."""
from __future__ import annotations

from typing import Any

from torch import Tensor

FORMAT = 3  # the schema version hatebm writes
NATIVE = {"type": "hatebm"}  # the spec of a hatebm network


def from_format_1(state: dict[str, Any]) -> dict[str, Any]:
    """A first-format state.json in the second format: runs were told apart by ``kind`` (tandem, joint, gan, ae) and the
    config's ``variant``; tandem and joint configs shared one class, GAN and autoencoder configs another."""
    kind = state.get("kind", "tandem")
    run = {"ae": "autoencoder"}.get(kind, kind)
    if run not in ("tandem", "joint", "gan", "autoencoder"):
        raise ValueError(f"unknown run kind {kind!r} in a first-format checkpoint")
    config = dict(state["config"])
    config.pop("variant", None)
    config.pop("kind", None)
    if run == "autoencoder":
        config["lr_enc"] = config.pop("lr_disc")
    drop = {"tandem": ("generator", "y_prior_std", "z_prior"), "joint": ("lr_gen", "bank_size", "gen_loss_weight",
                                                                          "gen_steps"),
            "gan": ("loss_weight", "latent_noise"), "autoencoder": ("n_dis",)}[run]
    for key in drop:
        config.pop(key, None)
    model = config["model"]
    spec = state.get("generator") or {**NATIVE, "model": model}
    shape = state.get("latent_shape") or model.get("latent_shape") or [model["latent_dim"]]
    hat = NATIVE if run in ("tandem", "joint") else None
    return {**state, "format": 2, "run": run, "config": config, "hat": hat,
            "generator": {"spec": spec, "latent_shape": shape, "sphere": bool(state.get("sphere", kind == "ae"))}}


def from_format_2(tensors: dict[str, Tensor], state: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """A second-format checkpoint in this format: written by one rank, whose RNG states and bank had no prefix."""
    own = ("rng.", "bank.")
    moved = {(f"rank0.{k}" if k.startswith(own) else k): v for k, v in tensors.items()}
    rest = {k: v for k, v in state.items() if k != "stream"}
    return moved, {**rest, "format": FORMAT, "world": 1, "streams": [state["stream"]]}
