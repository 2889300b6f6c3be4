"""Typed training configurations, the presets of the paper's experiments and CPU-sized ones, and overrides.

A config is a tree of dataclasses. Overrides are ``dotted.key=value`` strings (``sampler.steps=20``); values are
parsed to the field's type, and unknown keys or wrong types are errors naming the key.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal

from hatebm.sampling import LangevinConfig


@dataclass
class ModelConfig:
    """Networks: SN-GAN family (``sngan``, images) or MLPs (``mlp``, 2-D data)."""

    arch: Literal["sngan", "mlp"] = "sngan"
    resolution: int = 32  # model image size; data are padded or resized to it
    channels: int = 3
    hat_width: int = 256
    gen_width: int = 256
    latent_dim: int = 128
    out_scale: float = 2.0  # generator output is tanh * out_scale
    mlp_hidden: int = 128
    mlp_depth: int = 3


@dataclass
class DataConfig:
    """Training data; see :func:`hatebm.data.load_images` for names and where they are looked for."""

    name: str = "cifar10"
    root: str | None = None
    split: str = "train"
    resize: Literal["pad", "resize", "crop"] = "pad"
    noise: float = 1e-3  # sigma_data: X+ = data + noise * N(0, I) (eq 8)
    toy_size: int = 50_000  # number of points drawn from a 2-D toy distribution


@dataclass
class TrainConfig:
    """Everything a tandem training run needs (§3.4). Learning rates fall by ``lr_gamma`` at each milestone."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    sampler: LangevinConfig = field(default_factory=lambda: LangevinConfig(steps=50, eps_y=5e-4, max_drift_y=2.5))
    eval_steps: int = 125  # Langevin steps when sampling from the trained model
    temperature: float = 1e-8
    iters: int = 50_000
    batch_size: int = 128
    lr_hat: float = 1e-4
    lr_gen: float = 1e-4
    lr_milestones: list[int] = field(default_factory=list)
    lr_gamma: float = 0.1
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    bank_size: int = 10_000
    gen_loss_weight: float = 1000.0  # lambda in lambda * mean((G(Z') - X')^2)
    energy_reg: float = 0.0  # optional alpha * mean(H(X+)^2 + H(X-)^2); 0 = paper's loss
    hat_grad_clip: float | None = None  # optional max global grad norm of the hat network
    diverge_gap: float = 1e5  # |mean H(X+) - mean H(X-)| above this (or non-finite) stops the run as diverged
    seed: int = 0
    device: str = "auto"  # "auto" = cuda if available, else cpu
    amp: bool = True  # bf16 autocast for network passes on GPU (Langevin states stay fp32)
    channels_last: bool = True  # NHWC memory format for the image networks (faster convolutions on CPU and GPU)
    log_every: int = 10
    image_every: int = 500
    ckpt_every: int = 500
    keep_ckpts: int = 2
    eval_samples: int = 1000  # samples written at the end of the run (0 = none)


def _tiny() -> TrainConfig:
    return TrainConfig(
        data=DataConfig(name="fashion_mnist"),
        model=ModelConfig(resolution=32, channels=1, hat_width=8, gen_width=8, latent_dim=16),
        sampler=LangevinConfig(steps=3, eps_y=5e-4, max_drift_y=2.5), eval_steps=3,
        iters=4, batch_size=8, bank_size=32, log_every=1, image_every=2, ckpt_every=2, eval_samples=16)


def _fashion_cpu() -> TrainConfig:
    return TrainConfig(
        data=DataConfig(name="fashion_mnist"),
        model=ModelConfig(resolution=32, channels=1, hat_width=32, gen_width=48, latent_dim=64, out_scale=2.0),
        sampler=LangevinConfig(steps=20, eps_y=5e-4, max_drift_y=2.5), eval_steps=40,
        iters=1000, batch_size=64, lr_hat=1e-4, lr_gen=3e-4, bank_size=2000, energy_reg=0.0,
        log_every=10, image_every=100, ckpt_every=100, eval_samples=1000)


def _toy_cpu() -> TrainConfig:
    return TrainConfig(
        data=DataConfig(name="gmm8", noise=0.0),
        model=ModelConfig(arch="mlp", latent_dim=2, channels=2, out_scale=1.0),
        sampler=LangevinConfig(steps=20, eps_y=0.05, max_drift_y=None), eval_steps=50, temperature=1.0,
        iters=2000, batch_size=256, lr_hat=1e-3, lr_gen=1e-3, bank_size=5000, gen_loss_weight=1.0,
        log_every=50, image_every=500, ckpt_every=1000, eval_samples=2000)


def _paper(res: int, width: int, **kw: Any) -> TrainConfig:
    data = kw.pop("data")
    return TrainConfig(data=data, model=ModelConfig(resolution=res, channels=3, hat_width=width, gen_width=width),
                       sampler=LangevinConfig(steps=50, eps_y=5e-4, max_drift_y=2.5), **kw)


PRESETS: dict[str, Any] = {
    # Paper settings (DESIGN §3; authors' released configs): sized for GPUs.
    "cifar10_synth": lambda: _paper(32, 256, data=DataConfig(name="cifar10"), iters=50_000, eval_steps=125),
    "celeba64_synth": lambda: _paper(64, 1024, data=DataConfig(name="folder", resize="resize"), iters=50_000,
                                     eval_steps=125),
    "imagenet128_synth": lambda: _paper(128, 1024, data=DataConfig(name="folder", resize="resize"), iters=300_000,
                                        eval_steps=150, lr_gen=5e-5, lr_milestones=[230_000, 260_000]),
    "imagenet128_synth_scaled": lambda: _paper(128, 2048, data=DataConfig(name="folder", resize="resize"),
                                               iters=300_000, eval_steps=150, lr_gen=5e-5,
                                               lr_milestones=[230_000, 260_000]),
    # CPU-sized.
    "fashion_mnist_cpu": _fashion_cpu,
    "toy_gmm8_cpu": _toy_cpu,
    "tiny": _tiny,
}


def preset(name: str) -> TrainConfig:
    """A fresh copy of a named preset."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]()


def _parse(value: str, tp: Any, key: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value.lower() in ("none", "null") and type(None) in args:
            return None
        return _parse(value, next(a for a in args if a is not type(None)), key)
    if origin is Literal:
        if value not in args:
            raise ValueError(f"{key} must be one of {list(args)}, got {value!r}")
        return value
    if origin is list:
        return [_parse(v, args[0], key) for v in value.split(",") if v.strip()]
    if tp is bool:
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{key} expects true or false, got {value!r}")
        return value.lower() in ("true", "1", "yes")
    try:
        return tp(float(value)) if tp is int and "e" in value.lower() else tp(value)
    except ValueError:
        raise ValueError(f"{key} expects {tp.__name__}, got {value!r}") from None


def _field_types(obj: Any) -> dict[str, Any]:
    return typing.get_type_hints(type(obj))


def override(cfg: TrainConfig, assignments: list[str]) -> TrainConfig:
    """Apply ``key=value`` overrides (dotted keys reach nested sections) and re-validate."""
    for item in assignments:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form key=value (e.g. sampler.steps=20)")
        key, value = item.split("=", 1)
        *path, name = key.strip().split(".")
        node = cfg
        for part in path:
            if not hasattr(node, part) or not is_dataclass(getattr(node, part)):
                raise ValueError(f"unknown config section {part!r} in {key!r}")
            node = getattr(node, part)
        types_ = _field_types(node)
        if name not in types_:
            raise ValueError(f"unknown config key {key!r}; valid keys here: {sorted(types_)}")
        if is_dataclass(getattr(node, name)):
            raise ValueError(f"{key!r} is a section; set one of its keys, e.g. {key}.{fields(getattr(node, name))[0].name}")
        setattr(node, name, _parse(value.strip(), types_[name], key))
    return validate(cfg)


def from_dict(d: dict[str, Any], cls: type = TrainConfig) -> Any:
    """Build a config from a (possibly partial) nested dict, refusing unknown keys."""
    hints = typing.get_type_hints(cls)
    unknown = set(d) - set(hints)
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)} in {cls.__name__}")
    kwargs = {k: from_dict(v, hints[k]) if is_dataclass(hints[k]) else v for k, v in d.items()}
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ValueError(f"bad config for {cls.__name__}: {err}") from None


def to_dict(cfg: Any) -> dict[str, Any]:
    return asdict(cfg)


def load_config(path: str | Path) -> TrainConfig:
    """Read a JSON config file (as written to every run folder)."""
    return validate(from_dict(json.loads(Path(path).read_text())))


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check values that types alone do not catch; returns the config."""
    positive = {"iters": cfg.iters, "batch_size": cfg.batch_size, "bank_size": cfg.bank_size,
                "temperature": cfg.temperature, "lr_hat": cfg.lr_hat, "lr_gen": cfg.lr_gen,
                "log_every": cfg.log_every, "image_every": cfg.image_every, "ckpt_every": cfg.ckpt_every,
                "model.latent_dim": cfg.model.latent_dim}
    for key, value in positive.items():
        if not value > 0:
            raise ValueError(f"{key} must be positive, got {value}")
    if cfg.bank_size < cfg.batch_size:
        raise ValueError(f"bank_size ({cfg.bank_size}) must be at least batch_size ({cfg.batch_size})")
    if cfg.model.channels not in (1, 2, 3) or (cfg.model.arch == "sngan" and cfg.model.channels == 2):
        raise ValueError(f"model.channels must be 1 or 3 for images (2 for 2-D toys), got {cfg.model.channels}")
    if len(cfg.betas) != 2:
        raise ValueError(f"betas needs two values, got {cfg.betas}")
    dataclasses.replace(cfg.sampler)  # re-runs LangevinConfig's checks
    return cfg
