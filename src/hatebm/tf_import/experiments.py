"""The authors' experiments (their ``configs_synth``, ``configs_joint`` and ``fid`` configs) as hatebm configs.

Each experiment maps to the hatebm preset of the same experiment (DESIGN §3), which already holds the authors'
training settings (temperature, step sizes, priors, learning rates and their schedule, bank, loss weights); the
importer adds what only the authors' files say:

- network widths, image channels and latent size, read from the checkpoint's shapes;
- the generator's output factor (``gen_factor``: tanh x 1 for refinement, x 2 otherwise);
- the evaluation K of their FID config (``mcmc_steps``), as ``eval_steps``;
- the joint sampler's order: their code updates Z, then Y (``sampler.order=zy``);
- with their optimiser file, the moving average of the hat's weights (``ema_halflife`` equal to their decay 0.9999);
- the ImageNet runs' gradient clipping: each of the hat's gradient tensors clipped to norm 50 on its own.

Their FID scripts sample with other settings than their training (``fid/fid_config_*.py``): the clip of the Y drift is
off (the configs name it ``clip_langevin_grad``, which their sampler does not read), Y0 = 0.01 N(0, I) for synthesis
and retrofit, T = 1e-3 for CIFAR-10 synthesis (trained at 1e-8), and a Y prior of std 0.25 for CIFAR-10 refinement.
``protocol="fid"`` imports with those settings (:attr:`Experiment.fid`), so that sampling is their evaluation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

EMA_DECAY = 0.9999  # every experiment's ebm_opt_decay


@dataclass(frozen=True)
class Experiment:
    """One of the authors' configs: the matching hatebm ``preset``, image ``resolution``, generator family
    (``generator``: SN-GAN; ``decoder``: the retrofit autoencoder's), ``gen_factor`` and evaluation K."""

    preset: str
    resolution: int
    generator: str
    gen_factor: float
    eval_steps: int | None  # None: the experiment trains no hat (the autoencoder)
    extra: tuple[str, ...] = ()  # further overrides of the preset
    fid: tuple[str, ...] = ()  # the settings of their FID config where they differ from training

    @property
    def joint(self) -> bool:
        return self.preset.endswith(("refine", "retrofit"))


CLIP = ("hat_grad_clip=50", "hat_grad_clip_scope=tensor")  # their clip_ebm_grad with max_grad_norm 50
NO_CLIP = "sampler.max_drift_y=none"
Y0 = "sampler.y0_scale=0.01"
EXPERIMENTS: dict[str, Experiment] = {
    "cifar10_synth": Experiment("cifar10_synth", 32, "generator", 2.0, 125, fid=(NO_CLIP, Y0, "temperature=1e-3")),
    "celeb_a_synth": Experiment("celeba64_synth", 64, "generator", 2.0, 100, fid=(NO_CLIP, Y0)),
    "imagenet_synth": Experiment("imagenet128_synth", 128, "generator", 2.0, 150, CLIP, (NO_CLIP, Y0)),
    "imagenet_synth_large_net": Experiment("imagenet128_synth_scaled", 128, "generator", 2.0, 125, CLIP,
                                           (NO_CLIP, Y0)),
    "cifar10_refine": Experiment("cifar10_refine", 32, "generator", 1.0, 350, fid=(NO_CLIP, "y_prior_std=0.25")),
    "celeb_a_refine": Experiment("celeba64_refine", 64, "generator", 1.0, 125, fid=(NO_CLIP,)),
    "cifar10_retrofit": Experiment("cifar10_retrofit", 32, "decoder", 2.0, 125, fid=(NO_CLIP, Y0)),
    "cifar10_ae": Experiment("ae_cifar10", 32, "decoder", 2.0, None),
}
PROTOCOLS = ("train", "fid")


def ema_halflife(decay: float = EMA_DECAY) -> float:
    """The half-life in iterations of hatebm's weight average that equals a per-step ``decay`` (0.5 ** (1 / h))."""
    return math.log(0.5) / math.log(decay)


def experiment(name: str) -> Experiment:
    """The experiment ``name``, or one ValueError listing the names."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}: the authors' config names are {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]
