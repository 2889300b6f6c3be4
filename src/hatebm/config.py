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
    """Networks: SN-GAN family (``sngan``, images) or MLPs (``mlp``, 2-D data).

    An image-shaped ``latent_shape`` ``[c, h, w]`` makes the generator the autoencoder decoder (§4.2) and the
    discriminator-side network the encoder; otherwise latents are vectors ``[latent_dim]``.
    """

    arch: Literal["sngan", "mlp"] = "sngan"
    resolution: int = 32  # model image size; data are padded or resized to it
    channels: int = 3
    hat_width: int = 256  # also the width of the SN-GAN discriminator / the encoder when pretraining
    hat_act: Literal["relu", "silu"] = "relu"  # hat net activation; the paper's is ReLU
    gen_width: int = 256  # also the width of the autoencoder decoder
    latent_dim: int = 128
    latent_shape: list[int] = field(default_factory=list)  # image-shaped latent [c, h, w]; empty = [latent_dim]
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
class GeneratorConfig:
    """The frozen generator of a joint run (§3.2), see :func:`hatebm.generators.load_generator`: a hatebm run or
    checkpoint folder (``hatebm pretrain gan|ae``, a tandem run), a TorchScript file, or a factory
    ``package.module:function`` whose module gets the safetensors state dict ``weights``."""

    source: str | None = None
    weights: str | None = None
    latent_shape: list[int] = field(default_factory=list)  # for TorchScript files and factories (else read or probed)


@dataclass
class TrainConfig:
    """Everything a Hat EBM training run needs: ``variant="tandem"`` learns H and G together (§3.4, conditional
    sampler); ``variant="joint"`` learns H on the frozen ``generator`` (§3.2, joint sampler, eq 8), with optional
    Gaussian priors on Y (``y_prior_std``) and Z (``z_prior``). Learning rates fall by ``lr_gamma`` at each milestone;
    generator and bank settings apply to tandem runs only."""

    variant: Literal["tandem", "joint"] = "tandem"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    y_prior_std: float | None = None  # sigma_y of the Y prior ||Y||^2 / (2 sigma_y^2); None = no prior
    z_prior: bool = False  # add ||Z||^2 / 2 (the N(0, I) latent prior) to the joint energy
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
    gen_steps: int = 1  # generator Adam steps per iteration, each on its own B bank pairs (new pairs go to the first B)
    energy_reg: float = 0.0  # optional alpha * mean(H(X+)^2 + H(X-)^2); 0 = paper's loss
    hat_grad_clip: float | None = None  # optional max global grad norm of the hat network
    grad_penalty: float = 0.0  # optional gamma * mean ||grad_x H(X+)||^2 (R1 on the data); 0 = paper's loss
    diverge_gap: float = 1e5  # |mean H(X+) - mean H(X-)| above this (or non-finite) stops the run as diverged
    seed: int = 0
    device: str = "auto"  # "auto" = cuda if available, else cpu
    amp: bool = True  # bf16 autocast for network passes on GPUs and bf16-capable CPUs (Langevin states stay fp32)
    channels_last: bool = True  # NHWC memory format for the image networks (faster convolutions on CPU and GPU)
    log_every: int = 10
    image_every: int = 500
    ckpt_every: int = 500
    keep_ckpts: int = 2
    eval_samples: int = 1000  # samples written at the end of the run (0 = none)

    @property
    def sampling_mode(self) -> Literal["joint", "conditional"]:
        """The sampler of this variant: joint (§3.2, eqs 6-7) or conditional (§3.3)."""
        return "joint" if self.variant == "joint" else "conditional"


@dataclass
class PretrainConfig:
    """Pretraining of a base generator for the joint Hat EBM: an SN-GAN with hinge loss (``kind="gan"``, for
    refinement §4.1) or a deterministic autoencoder with image-shaped latents on the sphere of radius sqrt(m)
    (``kind="ae"``, for retrofit §4.2). ``lr_gen`` trains the generator / decoder, ``lr_disc`` the discriminator /
    encoder (widths ``model.gen_width`` / ``model.hat_width``)."""

    kind: Literal["gan", "ae"] = "gan"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=lambda: ModelConfig(hat_width=128, out_scale=1.0))
    iters: int = 100_000  # generator updates (GAN) or autoencoder updates
    batch_size: int = 64
    lr_gen: float = 2e-4
    lr_disc: float = 2e-4
    lr_milestones: list[int] = field(default_factory=list)
    lr_gamma: float = 0.1
    betas: list[float] = field(default_factory=lambda: [0.0, 0.9])
    n_dis: int = 5  # GAN: discriminator updates per generator update
    loss_weight: float = 1000.0  # AE: loss = loss_weight * mean((decoder(code) - x)^2)
    latent_noise: float = 2e-2  # AE: std of the Gaussian noise added to the projected code while training
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # bf16 autocast for network passes on GPUs and bf16-capable CPUs
    channels_last: bool = True
    log_every: int = 10
    image_every: int = 500
    ckpt_every: int = 1000
    keep_ckpts: int = 2
    eval_samples: int = 1000  # G(Z) (GAN) or decoded random sphere latents (AE) written at the end (0 = none)


Config = typing.TypeVar("Config", TrainConfig, PretrainConfig)


def _tiny() -> TrainConfig:
    return TrainConfig(
        data=DataConfig(name="fashion_mnist"),
        model=ModelConfig(resolution=32, channels=1, hat_width=8, gen_width=8, latent_dim=16),
        sampler=LangevinConfig(steps=3, eps_y=5e-4, max_drift_y=2.5), eval_steps=3,
        iters=4, batch_size=8, bank_size=32, log_every=1, image_every=2, ckpt_every=2, eval_samples=16)


def _fashion_cpu() -> TrainConfig:
    """The demo: tandem synthesis on Fashion-MNIST sized for 2 CPU cores (~16 min with bf16).

    Departures from the paper's settings, each measured here (docs/results.md): batch 16 and K = 25 (at a fixed wall
    time, more and cheaper updates beat larger batches: batch 32 / 2,600 iterations gave FID 85.6, batch 16 / 4,200 gave
    82.4, batch 12 / 5,200 gave 85.9 with a drifting energy gap); three generator steps per iteration (``gen_steps``,
    each on its own bank pairs: the generator keeps up with the refined samples and the Langevin drift stays below its
    clip; FID 72.0 / 85.8 for seeds 0 / 1 against 75.2 / 87.0 with two steps and 3,800 iterations, 81.1 with one step
    and 4,200); a small bank (1,000, so the generator learns from the last ~60 iterations); generator lr 5e-4; the
    energy penalty ``energy_reg * mean(H^2)``; hat and generator lr x0.3 at 35 % and 70 % of the run; and a Y drift clip
    of 0.5 instead of 2.5. Without the tighter clip the hat network's input gradient kept sharpening even at lr 9e-6:
    the per-step drift grew to the 2.5 clip while ||Y|| stayed flat (the chains oscillate) and FID worsened. bf16
    autocast where the CPU has it (``amp``): 1.5-1.9x per iteration. Final samples take K = 80 steps, chosen against
    1,000 *training* images, not the test images the demo is scored on.
    """
    return TrainConfig(
        data=DataConfig(name="fashion_mnist"),
        model=ModelConfig(resolution=32, channels=1, hat_width=32, gen_width=48, latent_dim=64, out_scale=2.0),
        sampler=LangevinConfig(steps=25, eps_y=5e-4, max_drift_y=0.5), eval_steps=80, amp=True,
        iters=3400, batch_size=16, lr_hat=1e-4, lr_gen=5e-4, lr_milestones=[1190, 2380], lr_gamma=0.3, bank_size=1000,
        gen_steps=3, energy_reg=0.5, log_every=10, image_every=100, ckpt_every=100, eval_samples=1000)


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


def _joint(res: int, width: int, data: DataConfig, sampler: LangevinConfig, **kw: Any) -> TrainConfig:
    """A joint Hat EBM on a frozen generator (DESIGN §3); the generator comes with generator.source=..."""
    return TrainConfig(variant="joint", data=data, model=ModelConfig(resolution=res, channels=3, hat_width=width),
                       sampler=sampler, iters=25_000, batch_size=128, ckpt_every=1000, **kw)


def _joint_fashion_cpu(sampler: LangevinConfig, noise: float = 1e-3, **kw: Any) -> TrainConfig:
    """CPU-sized joint run on Fashion-MNIST (32 px) over a `hatebm pretrain gan|ae` CPU preset's generator.

    The paper's joint settings (T = 1e-3, loss divided by T, 25k iterations) leave the hat's input gradient far too
    small to move Y or Z within a few hundred iterations: measured here, the drifts were 4e-6 (Y) and 9e-5 (Z) per
    step against noise of 0.016 and 0.008, so the samples were the generator's plus noise. These presets use the
    tandem CPU recipe instead: the energy penalty fixes the hat's scale and T = 1e-8 makes the step sizes set the
    drift (drift_Y = eps_Y^2 / (2T) * grad H: ~0.13 per step, drift_Z ~0.06 at eps_Z = 2e-4, noise negligible).
    Retrofit takes a larger eps_Z (5e-4) with fewer steps: random sphere codes decode to noise, far from the AE's codes.
    """
    return TrainConfig(variant="joint", data=DataConfig(name="fashion_mnist", noise=noise),
                       model=ModelConfig(resolution=32, channels=1, hat_width=32), sampler=sampler,
                       temperature=1e-8, energy_reg=0.5, lr_hat=1e-4, iters=400, batch_size=32, log_every=10,
                       image_every=100, ckpt_every=100, eval_samples=1000, **kw)


def _joint_tiny() -> TrainConfig:
    return TrainConfig(variant="joint", data=DataConfig(name="fashion_mnist"),
                       model=ModelConfig(resolution=32, channels=1, hat_width=8),
                       sampler=LangevinConfig(steps=3, eps_y=5e-4, eps_z=5e-3), eval_steps=3, temperature=1e-3,
                       iters=4, batch_size=8, log_every=1, image_every=2, ckpt_every=2, eval_samples=16)


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
    # Joint Hat EBM (§3.2) on a frozen generator: refinement of a GAN (§4.1), retrofit of an autoencoder (§4.2).
    "cifar10_refine": lambda: _joint(32, 256, DataConfig(name="cifar10"), LangevinConfig(
        steps=250, eps_y=1e-4, eps_z=5e-3, max_drift_y=2.5), eval_steps=350, temperature=1e-3, lr_hat=1e-5),
    "celeba64_refine": lambda: _joint(64, 1024, DataConfig(name="folder", resize="resize"), LangevinConfig(
        steps=100, eps_y=1e-4, eps_z=5e-3, max_drift_y=2.5), eval_steps=125, temperature=1e-6, lr_hat=1e-5),
    "cifar10_retrofit": lambda: _joint(32, 256, DataConfig(name="cifar10", noise=1e-2), LangevinConfig(
        steps=100, eps_y=5e-4, eps_z=1e-3, max_drift_y=2.5), eval_steps=125, temperature=1e-3, lr_hat=1e-4,
        y_prior_std=0.1),
    "fashion_mnist_refine_cpu": lambda: _joint_fashion_cpu(LangevinConfig(
        steps=30, eps_y=2.5e-4, eps_z=2e-4, max_drift_y=2.5), eval_steps=40),
    "fashion_mnist_retrofit_cpu": lambda: _joint_fashion_cpu(LangevinConfig(
        steps=20, eps_y=5e-4, eps_z=5e-4, max_drift_y=2.5), eval_steps=30, noise=1e-2, y_prior_std=0.1),
    "joint_tiny": _joint_tiny,
}


def _pretrain_fashion_cpu(kind: str, **kw: Any) -> PretrainConfig:
    return PretrainConfig(kind=kind, data=DataConfig(name="fashion_mnist"), batch_size=64, log_every=10,
                          image_every=250, ckpt_every=250, **kw)


def _pretrain_tiny(kind: str, **kw: Any) -> PretrainConfig:
    model = ModelConfig(resolution=32, channels=1, hat_width=8, gen_width=8, latent_dim=16, **kw.pop("model", {}))
    return PretrainConfig(kind=kind, data=DataConfig(name="fashion_mnist"), model=model, iters=4, batch_size=8,
                          n_dis=2, log_every=1, image_every=2, ckpt_every=2, eval_samples=16, **kw)


# Base generators for the joint Hat EBM: `hatebm pretrain gan|ae PRESET`. GAN settings follow Mimicry's SN-GAN
# (n_dis 5, Adam 2e-4, betas (0, 0.9), batch 64, 100k generator steps); the autoencoder the authors' cifar10_ae config.
PRETRAIN_PRESETS: dict[str, Any] = {
    "gan_cifar10": lambda: PretrainConfig(kind="gan", data=DataConfig(name="cifar10"), model=ModelConfig(
        resolution=32, channels=3, gen_width=256, hat_width=128, latent_dim=128, out_scale=1.0)),
    "gan_celeba64": lambda: PretrainConfig(kind="gan", data=DataConfig(name="folder", resize="resize"),
                                           model=ModelConfig(resolution=64, channels=3, gen_width=1024,
                                                             hat_width=1024, latent_dim=128, out_scale=1.0)),
    "ae_cifar10": lambda: PretrainConfig(kind="ae", data=DataConfig(name="cifar10"), model=ModelConfig(
        resolution=32, channels=3, gen_width=256, hat_width=256, latent_shape=[1, 16, 16], out_scale=2.0),
        iters=50_000, batch_size=128, lr_gen=1e-4, lr_disc=1e-4, betas=[0.9, 0.999], ckpt_every=5000),
    "gan_fashion_mnist_cpu": lambda: _pretrain_fashion_cpu("gan", model=ModelConfig(
        resolution=32, channels=1, gen_width=32, hat_width=32, latent_dim=64, out_scale=1.0), iters=2000, n_dis=2),
    "ae_fashion_mnist_cpu": lambda: _pretrain_fashion_cpu("ae", model=ModelConfig(
        resolution=32, channels=1, gen_width=32, hat_width=32, latent_shape=[1, 8, 8], out_scale=2.0), iters=2000,
        lr_gen=3e-4, lr_disc=3e-4, betas=[0.9, 0.999]),
    "gan_tiny": lambda: _pretrain_tiny("gan", model={"out_scale": 1.0}),
    "ae_tiny": lambda: _pretrain_tiny("ae", model={"latent_shape": [1, 8, 8]}, betas=[0.9, 0.999]),
}


def preset(name: str) -> TrainConfig:
    """A fresh copy of a named preset."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]()


def pretrain_preset(name: str) -> PretrainConfig:
    """A fresh copy of a named pretraining preset (``PRETRAIN_PRESETS``)."""
    if name not in PRETRAIN_PRESETS:
        raise ValueError(f"unknown pretraining preset {name!r}; choose one of {sorted(PRETRAIN_PRESETS)}")
    return PRETRAIN_PRESETS[name]()


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
        items = value.strip().removeprefix("[").removesuffix("]")  # "900,1800" or "[900,1800]"
        return [_parse(v.strip(), args[0], key) for v in items.split(",") if v.strip()]
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


def override(cfg: Config, assignments: list[str]) -> Config:
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


def load_config(path: str | Path, cls: type = TrainConfig) -> Any:
    """Read a JSON config file (as written to every run folder) of a training (or ``PretrainConfig``) run."""
    return validate(from_dict(json.loads(Path(path).read_text()), cls))


def validate(cfg: Config) -> Config:
    """Check values that types alone do not catch; returns the config."""
    train = isinstance(cfg, TrainConfig)
    positive = {"iters": cfg.iters, "batch_size": cfg.batch_size, "lr_gen": cfg.lr_gen,
                "log_every": cfg.log_every, "image_every": cfg.image_every, "ckpt_every": cfg.ckpt_every,
                "model.latent_dim": cfg.model.latent_dim}
    if train:
        positive.update({"bank_size": cfg.bank_size, "temperature": cfg.temperature, "lr_hat": cfg.lr_hat,
                         "gen_steps": cfg.gen_steps})
        if cfg.y_prior_std is not None:
            positive["y_prior_std"] = cfg.y_prior_std
    else:
        positive.update({"lr_disc": cfg.lr_disc, "n_dis": cfg.n_dis, "loss_weight": cfg.loss_weight})
    for key, value in positive.items():
        if not value > 0:
            raise ValueError(f"{key} must be positive, got {value}")
    if train and cfg.variant == "tandem" and cfg.bank_size < cfg.batch_size * cfg.gen_steps:
        raise ValueError(f"bank_size ({cfg.bank_size}) must be at least batch_size x gen_steps "
                         f"({cfg.batch_size} x {cfg.gen_steps})")
    if train and cfg.variant == "tandem" and cfg.generator.source is not None:
        raise ValueError("generator.source applies to joint runs only; set variant=joint or drop generator.source")
    if cfg.model.channels not in (1, 2, 3) or (cfg.model.arch == "sngan" and cfg.model.channels == 2):
        raise ValueError(f"model.channels must be 1 or 3 for images (2 for 2-D toys), got {cfg.model.channels}")
    shape = cfg.model.latent_shape
    if shape and (len(shape) != 3 or min(shape) < 1 or shape[1] != shape[2]):
        raise ValueError(f"model.latent_shape must be an image shape c,h,w with h = w (e.g. 1,16,16), or empty for "
                         f"vector latents; got {shape}")
    factor = cfg.model.resolution // shape[1] if shape else 1
    if shape and (factor * shape[1] != cfg.model.resolution or factor & (factor - 1)):
        raise ValueError(f"model.resolution ({cfg.model.resolution}) must be the latent size {shape[1]} times a power "
                         "of 2 for the autoencoder's up/down-sampling blocks")
    if not train and cfg.model.arch != "sngan":
        raise ValueError("pretraining builds SN-GAN-family image networks: model.arch must be sngan")
    if not train and cfg.kind == "ae" and not shape:
        raise ValueError("the autoencoder's latent is image-shaped (§4.2): set model.latent_shape, e.g. 1,16,16")
    if len(cfg.betas) != 2:
        raise ValueError(f"betas needs two values, got {cfg.betas}")
    if train and min(cfg.energy_reg, cfg.grad_penalty) < 0:
        raise ValueError(f"energy_reg and grad_penalty must be >= 0, got {cfg.energy_reg} and {cfg.grad_penalty}")
    if train:
        dataclasses.replace(cfg.sampler)  # re-runs LangevinConfig's checks
    return cfg
