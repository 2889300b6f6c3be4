"""Training: :func:`train` runs any config (tandem §3.4, joint §3.2, GAN or autoencoder pretraining) through
:func:`hatebm.train.loop.training_loop`; one module per learning procedure (``tandem``, ``joint``, ``gan``,
``autoencoder``), the paper's losses in ``loss``, and the loop's pieces in ``runtime``, ``stream``, ``stats`` and
``outputs``."""
from __future__ import annotations

from pathlib import Path

from torch import nn

from hatebm.config import AutoencoderConfig, GanConfig, HatConfig, JointConfig, RunConfig, TandemConfig
from hatebm.distributed import setup
from hatebm.model import Model
from hatebm.train.autoencoder import AutoencoderRun
from hatebm.train.gan import GanRun
from hatebm.train.joint import Joint
from hatebm.train.loop import TrainingRun, training_loop
from hatebm.train.stats import DivergenceError
from hatebm.train.stream import UserData
from hatebm.train.tandem import Tandem

__all__ = ["DivergenceError", "TRAINERS", "train"]

# the training procedure of each kind of run
TRAINERS: dict[type[RunConfig], type[TrainingRun]] = {TandemConfig: Tandem, JointConfig: Joint, GanConfig: GanRun,
                                                      AutoencoderConfig: AutoencoderRun}


def train(config: RunConfig, out: str | Path, resume: bool = False, progress: bool = True, *,
          hat: nn.Module | None = None, generator: nn.Module | None = None, data: UserData | None = None) -> Model:
    """Run (or, with ``resume``, continue) ``config`` into the run folder ``out``; returns the trained model.

    The folder receives ``config.json``, ``stats.jsonl``, figures under ``images/``, atomic checkpoints under
    ``checkpoints/`` and, at the end, ``samples.npz`` / ``samples.png``. ``resume`` continues the newest checkpoint and
    reproduces the uninterrupted run exactly on CPU.

    Your own networks and data replace the config's: ``hat`` (any module mapping an image batch to one energy per
    image; tandem and joint runs), ``generator`` (a module mapping latents to images in [-1, 1]: trained in tandem
    runs, frozen in joint runs in place of ``generator.source``; its latent shape comes from its ``latent_shape`` or
    ``latent_dim`` attribute), ``data`` (a float tensor in model space, uint8 N×H×W×C images, or a ``Dataset`` of
    tensors). Pass the same modules again to resume the run or to load it (:func:`hatebm.load_model`).
    """
    config.validate()
    if (hat is not None or generator is not None) and not isinstance(config, HatConfig):
        raise ValueError(f"hat= and generator= apply to tandem and joint runs, not to {config.KIND} runs")
    env = setup(config.device)
    modules = {"hat": hat, "generator": generator} if isinstance(config, HatConfig) else {}
    run = TRAINERS[type(config)](config, env, data, **modules)
    training_loop(run, out, env, resume, progress)
    return run.model()
