"""hatebm: Hat EBMs in PyTorch (Hill et al., "Learning Probabilistic Models from Generator Latent Spaces with
Hat EBM", NeurIPS 2022).

Conventions: images are float32 NCHW in [-1, 1]; higher energy means less likely; a Langevin step is
``s <- s - (eps^2 / 2) grad U(s) + eps * N(0, I)`` (see :mod:`hatebm.sampling`).
"""
from hatebm.bank import Bank
from hatebm.config import PRESETS, TrainConfig, preset
from hatebm.energy import HatEBM
from hatebm.generate import draw, load_model
from hatebm.sampling import LangevinConfig, SampleResult, sample_conditional, sample_joint

__all__ = ["Bank", "HatEBM", "LangevinConfig", "PRESETS", "SampleResult", "TrainConfig", "draw", "load_model",
           "preset", "sample_conditional", "sample_joint"]
