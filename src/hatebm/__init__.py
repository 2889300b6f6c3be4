"""hatebm: Hat EBMs in PyTorch (Hill et al., "Learning Probabilistic Models from Generator Latent Spaces with
Hat EBM", NeurIPS 2022).

Conventions: images are float32 NCHW in [-1, 1]; higher energy means less likely; a Langevin step is
``s <- s - (eps^2 / 2) grad U(s) + eps * N(0, I)`` (see :mod:`hatebm.sampling`).
"""
from importlib.metadata import PackageNotFoundError, version

from hatebm.bank import Bank
from hatebm.config import (PRESETS, AutoencoderConfig, GanConfig, JointConfig, TandemConfig, load_config, override,
                           preset)
from hatebm.energy import HatEBM
from hatebm.model import Model, load_model
from hatebm.sampling import LangevinConfig, SampleResult, sample_conditional, sample_joint
from hatebm.tf_import import import_tf
from hatebm.train import DivergenceError, train

try:
    __version__ = version("hatebm")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["AutoencoderConfig", "Bank", "DivergenceError", "GanConfig", "HatEBM", "JointConfig", "LangevinConfig",
           "Model", "PRESETS", "SampleResult", "TandemConfig", "__version__", "import_tf", "load_config", "load_model",
           "override", "preset", "sample_conditional", "sample_joint", "train"]
