"""A trained model ready to sample: :class:`Model`, from a checkpoint (:func:`load_model`) or from a run in memory
(:func:`hatebm.train` returns one).

Three ways to sample a checkpoint (``method``): ``hat`` (the Hat EBM with the sampler of its run: conditional for
tandem runs, joint for joint runs, with the run's priors, temperature and step sizes), ``ddls`` (latent Langevin on a
GAN's discriminator, :mod:`hatebm.ddls`) and ``generator`` (G(Z) alone: Z ~ N(0, I), projected onto the sphere of
radius sqrt(m) for autoencoder decoders), which works on every checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from hatebm import checkpoint as ckpt
from hatebm.checkpoint import NATIVE
from hatebm.config import GanConfig, HatConfig, RunConfig
from hatebm.options import check_seed
from hatebm.data import DataInfo, to_uint8
from hatebm.ddls import ddls_model, ddls_sampler
from hatebm.devices import compiled, resolve_device
from hatebm.energy import HatEBM
from hatebm.generators import call_factory, generator_from_checkpoint, load_weights, named_generator
from hatebm.nets import build_discriminator, build_hat, project_sphere
from hatebm.noise import ImageNoise
from hatebm.precision import autocast, tf32
from hatebm.sampling import LangevinConfig, Noise, SampleResult, sample_joint, settings

METHODS = ("hat", "ddls", "generator")
SAMPLING_NETS = {"hat": ("hat", "generator"), "ddls": ("discriminator", "generator"),
                 "generator": ("generator",)}  # the networks each method reads from a checkpoint
Chains = Callable[[HatEBM, Tensor, LangevinConfig, Noise | None], SampleResult]


def image_seed(seed: int, index: int) -> int:
    """The torch seed of image ``index`` of the sample set of ``seed``: ``(seed * 1_000_003 + index) mod 2**32`` (CPU
    generators keep 32 bits of a seed), so sets of up to a million images from seeds less than 4,000 apart share no
    image."""
    return (seed * 1_000_003 + index) % 2**32


@dataclass
class Model:
    """A model to sample: a Hat EBM (or DDLS's latent energy) with its sampler ``chains`` and default settings
    ``sampler`` (``sampler.steps``: the evaluation steps), or a generator alone (``ebm`` None)."""

    config: RunConfig
    info: DataInfo
    step: int
    generator: nn.Module
    latent_shape: tuple[int, ...]
    ebm: HatEBM | None = None
    chains: Chains | None = None
    sampler: LangevinConfig = field(default_factory=lambda: LangevinConfig(steps=0))
    sphere: bool = False  # generator alone: project latents onto the sphere of radius sqrt(m) (autoencoder codes)

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters(), torch.empty(0)).device

    def sample(self, n_or_z: int | Tensor, noise: ImageNoise | None = None, **overrides: Any) -> SampleResult:
        """One batch of chains from ``n`` latents of N(0, I) (or the latents given) with the model's sampler and
        settings, ``overrides`` (``steps``, ``eps_z``, ``record_every``, ...) applied; G(Z) alone without a Hat EBM.
        Latents and Langevin noise come from ``noise`` (one generator per image) if given, else torch's RNG."""
        if isinstance(n_or_z, int):
            z = noise.randn(*self.latent_shape) if noise else torch.randn(n_or_z, *self.latent_shape, device=self.device)
        else:
            z = n_or_z
        z = z.to(self.device)
        if self.ebm is None or self.chains is None:
            with torch.no_grad(), tf32(self.config.tf32):  # G(Z) as the chains compute it
                x = self.generator(project_sphere(z) if self.sphere else z).float()
            return SampleResult(x=x, y=torch.zeros_like(x), z=z, z0=z)
        with autocast(self.device, self.config.amp), tf32(self.config.tf32):  # as its run's chains (hatebm.precision)
            return self.chains(self.ebm, z, settings(self.sampler, **overrides),
                               None if noise is None else noise.randn_like)

    def results(self, n: int, steps: int | None = None, batch_size: int = 250, progress: bool = True,
                seed: int | None = None, start: int = 0, **overrides: Any) -> Iterator[SampleResult]:
        """The chains of ``n`` samples, batch by batch; ``steps`` defaults to the evaluation steps, other settings
        (``eps_z=...``) to the model's.

        With ``seed``, image i draws its latent and then its Langevin noise from the counter-based generator
        :class:`hatebm.noise.ImageNoise` keyed by :func:`image_seed` (seed, i): the set does not depend on the batch
        size or on how ranks split it, and ``start`` draws images start .. start + n - 1 of it (a rank's share).
        Without, torch's RNG is used."""
        if n < 1 or batch_size < 1:
            raise ValueError(f"the number of samples and the batch size must be positive, got {n} and {batch_size}")
        if seed is not None:
            check_seed(seed)
        if steps is not None:
            overrides["steps"] = steps
        for i in tqdm(range(0, n, batch_size), disable=not progress, desc="sampling", unit="batch"):
            size = min(batch_size, n - i)
            noise = None if seed is None else ImageNoise([image_seed(seed, start + i + j) for j in range(size)],
                                                         self.device)
            yield self.sample(size, noise, record_every=0, **overrides)

    def images(self, x: Tensor) -> np.ndarray:
        """Samples in model space as uint8 N×H×W×C at the data's original size (float N×D points for 2-D toys)."""
        x = x.detach().float().cpu()
        if self.config.model.arch == "mlp":
            return x.numpy()
        return to_uint8(x, crop=self.info.crop_for(x.shape[-1]))

    def batches(self, n: int, steps: int | None = None, batch_size: int = 250, progress: bool = True,
                seed: int | None = None, start: int = 0, **overrides: Any) -> Iterator[np.ndarray]:
        """The samples of :meth:`results` (same arguments) batch by batch, as :meth:`images` converts them: nothing
        but one batch is alive at a time."""
        for result in self.results(n, steps, batch_size, progress, seed, start, **overrides):
            batch = self.images(result.x)
            del result  # not alive while the next batch is drawn
            yield batch

    def draw(self, n: int, steps: int | None = None, batch_size: int = 250, progress: bool = True,
             seed: int | None = None, start: int = 0, **overrides: Any) -> np.ndarray:
        """``n`` samples as uint8 N×H×W×C at the data's original size (or float N×D points for 2-D toys), drawn by
        :meth:`results` (same arguments). Each batch is converted as it comes: the host holds the result and one
        batch, never the whole set in float32."""
        return collect(self.batches(n, steps, batch_size, progress, seed, start, **overrides), n)


def collect(chunks: Iterable[np.ndarray], n: int) -> np.ndarray:
    """The ``n`` items of consecutive ``chunks`` in one array, filled as they come (OSError if they do not add up to
    ``n``)."""
    out, i = None, 0
    for chunk in chunks:
        if out is None:
            out = np.empty((n, *chunk.shape[1:]), chunk.dtype)
        if i + len(chunk) > n:
            raise OSError(f"the batches hold more than {n} images")
        out[i:i + len(chunk)] = chunk
        i += len(chunk)
    if i != n:
        raise OSError(f"the batches hold {i} images, not {n}")
    return out


def hat_model(ebm: HatEBM, config: HatConfig, info: DataInfo, step: int = 0) -> Model:
    """A Hat EBM with its run's sampler and ``eval_steps`` Langevin steps."""
    return Model(config, info, step, ebm.generator, ebm.latent_shape, ebm, config.chains,
                 settings(config.sampler, steps=config.eval_steps))


def resolve_module(module: nn.Module | str | None, what: str) -> nn.Module | None:
    """A user's network: a module, or ``package.module:function`` called with no arguments (e.g. from the CLI)."""
    return module if module is None or isinstance(module, nn.Module) else call_factory(module, what)


def _compiled(ebm: HatEBM, compile: bool) -> HatEBM:
    """``ebm`` with its critic compiled if ``compile``."""
    if compile:
        ebm.hat = compiled(ebm.hat)
    return ebm


def load_model(path: str | Path, device: str | torch.device = "auto", method: str = "hat",
               hat: nn.Module | str | None = None, generator: nn.Module | str | None = None,
               trust_generator: bool = False, ema: bool = True, compile: bool = False) -> Model:
    """The model of a run folder's newest checkpoint (or of one checkpoint folder) for ``method`` (``hat``, ``ddls``
    or ``generator``, see the module docstring). A run trained with its own networks needs them again: ``hat`` /
    ``generator`` as modules (weights are loaded into them) or ``package.module:function`` factories (``generator``
    also a TorchScript file's path).

    A checkpoint never runs code it names on its own: a generator recorded as a TorchScript file or a factory is only
    loaded when ``generator`` names it (the same path or ``package.module:function``) or with ``trust_generator``
    (for checkpoints you trust); otherwise ValueError. hatebm's own generators always load.

    A run trained with ``ema_halflife`` samples from its averaged hat weights; ``ema=False`` takes the current ones.
    ``compile`` compiles the energy's critic (the hat, or DDLS's discriminator; :func:`hatebm.devices.compiled`), as
    ``compile=true`` does in training (meant for GPUs, where chains are many small passes; no gain measured on a CPU);
    it has no effect with ``method="generator"``, which runs no chains."""
    if method not in METHODS:
        raise ValueError(f"unknown sampling method {method!r}; choose one of {', '.join(METHODS)}")
    device = resolve_device(device)
    nets = SAMPLING_NETS[method]
    if method == "hat" and ema and "hat_ema" in ckpt.net_names(path):  # the averaged weights in place of the current
        nets = ("hat_ema", "generator")
    checkpoint = ckpt.load(path, nets=nets)  # no optimiser states, RNG or bank
    cfg = checkpoint.config
    named = None if generator is None else named_generator(generator)
    gen = generator_from_checkpoint(checkpoint, str(path), named, trust=trust_generator)
    common = (cfg, checkpoint.data_info, checkpoint.step)
    if method == "generator":
        return Model(*common, gen.module.to(device), gen.latent_shape, sphere=gen.sphere)
    if method == "ddls":
        if not isinstance(cfg, GanConfig):
            raise ValueError(f"DDLS needs a GAN's discriminator, but {path} is a {cfg.KIND} run; pass a run of "
                             "`hatebm pretrain gan`")
        if "discriminator" not in checkpoint.nets:
            raise ValueError(f"{path} holds a generator without its discriminator (an import of a released "
                             "generator?): DDLS samples with a GAN's discriminator; use method 'generator'")
        disc = build_discriminator(cfg.model)
        disc.load_state_dict(checkpoint.nets["discriminator"])
        ebm = _compiled(ddls_model(gen.module, disc, gen.latent_shape).to(device).eval(), compile)
        return Model(*common, ebm.generator, gen.latent_shape, ebm, sample_joint, ddls_sampler())
    if not isinstance(cfg, HatConfig):
        raise ValueError(f"{path} is a {cfg.KIND} run, not a Hat EBM: sample it with method 'generator'"
                         + (" or 'ddls'" if isinstance(cfg, GanConfig) else ""))
    net = resolve_module(hat, "hat network")
    if net is None and checkpoint.hat != NATIVE and not (checkpoint.hat or {}).get("class"):
        raise ValueError(f"{path}: state.json records an unknown hat network spec {checkpoint.hat!r}; use another "
                         "checkpoint of the run")
    if net is None and checkpoint.hat != NATIVE:
        raise ValueError(f"{path} was trained with the user-defined hat network {checkpoint.hat['class']}: pass it "
                         "again (Python: hat=MODULE; CLI: --hat MODULE:FUNCTION returning one)")
    net = build_hat(cfg.model) if net is None else net
    name = "hat_ema" if ema and "hat_ema" in checkpoint.nets else "hat"
    load_weights(net, checkpoint.nets[name], str(path), "hat network")
    ebm = _compiled(cfg.energy(net, gen.module, gen.latent_shape).to(device).eval(), compile)
    return hat_model(ebm, cfg, checkpoint.data_info, checkpoint.step)
