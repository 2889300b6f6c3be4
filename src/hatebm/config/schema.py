"""The typed configuration of a run: one class per kind of run on a shared base (data only: which training procedure
runs each kind is :data:`hatebm.train.TRAINERS`).

- :class:`TandemConfig`: hat network and generator learned together (§3.4, conditional sampler §3.3).
- :class:`JointConfig`: hat network on a frozen generator (§3.2, joint sampler, eqs 6-7), for refinement (§4.1) and
  retrofit (§4.2).
- :class:`GanConfig` and :class:`AutoencoderConfig`: pretraining the base generators a joint run builds on.

Sections (:mod:`hatebm.config.sections`: data, networks, generator, the sampler) are shared. Each option is
declared once, with its type, default, range and meaning (:mod:`hatebm.options`); a training run's sampler is a
:class:`~hatebm.sampling.LangevinConfig` with the tighter ranges training needs. Constraints between values are the
``model_validator`` methods; every failure is one ValueError naming the dotted key.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from hatebm.config.sections import DataConfig, GeneratorConfig, ModelConfig, TandemSampler, TrainingSampler
from hatebm.energy import HatEBM
from hatebm.options import (Count, Count0, Counts, NonNeg, Options, PathText, Positive, Seed, Units,
                            default)
from hatebm.sampling import LangevinConfig, Noise, SampleResult, sample_conditional, sample_joint

if TYPE_CHECKING:
    from torch import Tensor, nn


class RunConfig(Options):
    """What every run shares: data, networks, the step schedule (learning rates fall by ``lr_gamma`` at each
    milestone), Adam's betas, the device and precision, and how often it logs, draws figures and checkpoints."""

    KIND: ClassVar[str]  # the name a checkpoint records for this class (see CONFIGS)

    data: DataConfig = Field(default_factory=DataConfig, description="the training data")
    model: ModelConfig = Field(default_factory=ModelConfig, description="the networks")
    iters: Count = Field(50_000, description="training iterations")
    batch_size: Count = Field(128, description="global: a torchrun job of N ranks gives each rank batch_size / N, "
                                               "N dividing it")
    lr_milestones: Counts = Field(default_factory=list, description="steps at which the learning rates fall by "
                                                                    "lr_gamma")
    lr_gamma: Positive = Field(0.1, description="the factor on the learning rates at each milestone")
    betas: Units = Field(default_factory=lambda: [0.9, 0.999], description="Adam's beta1 and beta2")
    seed: Seed = Field(0, description="seeds the weights, the data order and the chains")
    device: str = Field("auto", description="a torch device; auto: cuda if available, else cpu")
    amp: bool = Field(True, description="bf16 autocast for network passes on GPUs and bf16-capable CPUs; Langevin "
                                        "states stay fp32")
    tf32: bool = Field(False, description="allow TF32 on Ampere+ GPUs: faster, but hides eps_Y-sized steps")
    channels_last: bool = Field(True, description="NHWC memory format for the image networks, for faster "
                                                  "convolutions")
    log_every: Count = Field(10, description="iterations between stats.jsonl records")
    image_every: Count = Field(500, description="iterations between sample grids and path figures")
    ckpt_every: Count = Field(500, description="iterations between checkpoints")
    keep_ckpts: Count0 = Field(2, description="the newest checkpoints kept; 0 keeps every checkpoint")
    eval_samples: Count0 = Field(1000, description="samples written at the end of the run; 0 writes none")
    on_divergence: Literal["stop", "rollback"] = Field("stop", description=(
        "a diverged run stops, or rolls back to its newest checkpoint with the learning rates times rollback_lr"))
    rollback_lr: Annotated[float, Field(gt=0, lt=1)] = Field(0.5, description="the factor on the learning rates at "
                                                                               "each rollback")
    max_rollbacks: Count0 = Field(3, description="rollbacks before a divergence stops the run; 0 stops it even with "
                                                 "on_divergence=rollback")

    @model_validator(mode="after")
    def _check_run(self) -> RunConfig:
        m = self.model
        if m.arch == "sngan" and m.channels == 2:
            raise ValueError("model.channels must be 1 or 3 with model.arch=sngan (2 is for 2-D toy data with "
                             "model.arch=mlp), got 2")
        shape = m.latent_shape
        if shape and (len(shape) != 3 or shape[1] != shape[2]):
            raise ValueError(f"model.latent_shape must be an image shape c,h,w with h = w (e.g. 1,16,16), or empty "
                             f"for vector latents; got {shape}")
        factor = m.resolution // shape[1] if shape else 1
        if shape and (factor * shape[1] != m.resolution or factor & (factor - 1)):
            raise ValueError(f"model.resolution ({m.resolution}) must be the size {shape[1]} of model.latent_shape "
                             f"{shape} times a power of 2, for the autoencoder's up/down-sampling blocks")
        if len(self.betas) != 2:
            raise ValueError(f"betas needs two values (Adam's beta1, beta2 in [0, 1)), got {self.betas}")
        if (self.data.crop != "centre" or self.data.flip) and self.data.name not in ("prepared", "folder"):
            raise ValueError(f"data.crop and data.flip apply to data read from disk (data.name prepared or folder), "
                             f"not to {self.data.name}")
        return self


class HatConfig(RunConfig):
    """What runs that learn a hat network share: the training sampler, the energy's temperature and eq 8's loss.

    Beyond the paper's loss, off unless set: ``energy_reg`` (fixes the energy scale), ``grad_penalty`` (R1) and
    ``hat_grad_clip``; and ``ema_halflife``, an average of the hat's weights for sampling the trained model."""

    sampler: TrainingSampler = Field(default_factory=TrainingSampler, description="the training chains' sampler")
    eval_steps: Count0 = Field(125, description="Langevin steps when sampling the trained model; 0 samples the "
                                                "generator alone, G(Z) + Y0")
    temperature: Positive = Field(1e-8, description="T of the energy U = H / T, eqs 4, 5, 9")
    lr_hat: Positive = Field(1e-4, description="Adam's learning rate of the hat network")
    energy_reg: NonNeg = Field(0.0, description="alpha of the penalty alpha * mean(H(X+)^2 + H(X-)^2); 0 is the "
                                                "paper's loss")
    hat_grad_clip: Positive | None = Field(None, description="the largest gradient norm of the hat network; none: no "
                                                             "clipping")
    hat_grad_clip_scope: Literal["global", "tensor"] = Field("global", description=(
        "global: hat_grad_clip bounds the norm of all the hat's gradients together; tensor: each parameter's on its "
        "own, as the authors' ImageNet runs"))
    grad_penalty: NonNeg = Field(0.0, description="gamma of the R1 penalty gamma * mean ||grad_x H(X+)||^2; 0 is the "
                                                  "paper's loss")
    diverge_gap: Positive = Field(1e5, description="|mean H(X+) - mean H(X-)| above this, or non-finite, stops the run "
                                                   "as diverged")
    ema_halflife: NonNeg = Field(0.0, description=(
        "half-life in iterations of an average of the hat's weights that the trained model samples from, beyond the "
        "paper; 0 samples from the current weights"))
    compile: bool = Field(False, description="torch.compile the hat network for the training chains and updates, "
                                             "eager where it fails")

    def chains(self, ebm: HatEBM, z: Tensor, settings: LangevinConfig, noise: Noise | None = None) -> SampleResult:
        """This run's sampler from latents ``z`` (conditional for tandem, joint for joint runs)."""
        raise NotImplementedError

    def energy(self, hat: nn.Module, generator: nn.Module, latent_shape: tuple[int, ...]) -> HatEBM:
        """This run's energy U(Y, Z) = H(G(Z) + Y) / T (eqs 4, 5, 9), with the priors the run sets."""
        return HatEBM(hat, generator, latent_shape, self.temperature)


class TandemConfig(HatConfig):
    """Tandem synthesis (§3.4, Fig 2): the hat network and the generator learn together; the generator learns from a
    bank of past (X-, Z) pairs with ``gen_loss_weight * mean((G(Z') - X')^2)``."""

    KIND: ClassVar[str] = "tandem"

    sampler: TandemSampler = Field(default_factory=TandemSampler, description="the training chains' sampler")
    lr_gen: Positive = Field(1e-4, description="Adam's learning rate of the generator")
    bank_size: Count = Field(10_000, description="(X-, Z) pairs in the bank the generator learns from")
    gen_loss_weight: Positive = Field(1000.0, description="lambda of the generator loss lambda * mean((G(Z') - "
                                                          "X')^2)")
    gen_steps: Count = Field(1, description="generator Adam steps per iteration, each on its own batch_size bank "
                                            "pairs; new pairs go to the first")

    def chains(self, ebm: HatEBM, z: Tensor, settings: LangevinConfig, noise: Noise | None = None) -> SampleResult:
        return sample_conditional(ebm, z, settings, noise)

    @model_validator(mode="after")
    def _check_bank(self) -> TandemConfig:
        if self.bank_size < self.batch_size * self.gen_steps:
            raise ValueError(f"bank_size ({self.bank_size}) must be at least batch_size x gen_steps "
                             f"({self.batch_size} x {self.gen_steps})")
        return self


class JointConfig(HatConfig):
    """Joint Hat EBM (§3.2, eqs 4-8) on the frozen ``generator``, with optional Gaussian priors on Y
    (``y_prior_std``) and Z (``z_prior``). Networks run in fp32 unless ``amp`` is set. ``hat_init`` (beyond the paper)
    starts the hat at the negated discriminator of the GAN run that made the generator, so that the untrained model
    with Y held at 0, T = 1 and the Z prior is DDLS, and what training adds is the Hat EBM's own learning."""

    KIND: ClassVar[str] = "joint"

    generator: GeneratorConfig = Field(default_factory=GeneratorConfig, description="the frozen generator")
    y_prior_std: Positive | None = Field(None, description="sigma_y of the Y prior ||Y||^2 / (2 sigma_y^2); none: no "
                                                           "prior")
    z_prior: bool = Field(False, description="add ||Z||^2 / 2, the N(0, I) latent prior, to the energy")
    amp: bool = Field(False, description=(
        "bf16 autocast; off, the training and evaluation chains are fp32, as bf16 would hide from the hat any Y below "
        "its spacing near -1 (0.0039) and the data noise"))
    hat_init: PathText | None = Field(None, description="start the hat at -D of this hatebm pretrain gan run, so "
                                                        "that the untrained model is DDLS; beyond the paper")

    def chains(self, ebm: HatEBM, z: Tensor, settings: LangevinConfig, noise: Noise | None = None) -> SampleResult:
        return sample_joint(ebm, z, settings, noise)

    def energy(self, hat: nn.Module, generator: nn.Module, latent_shape: tuple[int, ...]) -> HatEBM:
        return HatEBM(hat, generator, latent_shape, self.temperature, self.y_prior_std, self.z_prior)

    @model_validator(mode="after")
    def _check_moves(self) -> JointConfig:
        if self.sampler.eps_y == 0 and self.sampler.eps_z == 0:
            raise ValueError("sampler.eps_y and sampler.eps_z are both 0: the training chains would not move; set "
                             "either (eps_y=0 holds Y fixed, eps_z=0 holds Z fixed)")
        return self


class PretrainConfig(RunConfig):
    """What pretraining a base generator shares: SN-GAN-family image networks (a GAN may also be MLPs for 2-D data),
    ``lr_gen`` for the generator (or decoder), and Mimicry's SN-GAN defaults (batch 64, Adam betas (0, 0.9))."""

    model: ModelConfig = default(RunConfig, "model", factory=lambda: ModelConfig(hat_width=128, out_scale=1.0))
    iters: Count = Field(100_000, description="generator updates, or the autoencoder's")
    batch_size: Count = default(RunConfig, "batch_size", 64)
    betas: Units = default(RunConfig, "betas", factory=lambda: [0.0, 0.9])
    ckpt_every: Count = default(RunConfig, "ckpt_every", 1000)
    lr_gen: Positive = Field(2e-4, description="Adam's learning rate of the generator, or the autoencoder's decoder")

    @model_validator(mode="after")
    def _check_arch(self) -> PretrainConfig:
        if self.model.arch != "sngan" and self.KIND != "gan":
            raise ValueError(f"{self.KIND} pretraining builds SN-GAN-family image networks: model.arch must be sngan")
        return self


class GanConfig(PretrainConfig):
    """SN-GAN pretraining with the hinge loss (Miyato et al. 2018): the base generator of refinement (§4.1) and the
    discriminator DDLS samples with. ``lr_gen`` trains the generator, ``lr_disc`` the discriminator (widths
    ``model.gen_width`` / ``model.hat_width``)."""

    KIND: ClassVar[str] = "gan"

    lr_disc: Positive = Field(2e-4, description="Adam's learning rate of the discriminator")
    n_dis: Count = Field(5, description="discriminator updates per generator update")


class AutoencoderConfig(PretrainConfig):
    """Deterministic autoencoder pretraining (§4.2): image-shaped latents on the sphere of radius sqrt(m); the decoder
    becomes the generator of a retrofit run. ``lr_gen`` trains the decoder (width ``model.gen_width``), ``lr_enc`` the
    encoder (width ``model.hat_width``)."""

    KIND: ClassVar[str] = "autoencoder"

    lr_enc: Positive = Field(2e-4, description="Adam's learning rate of the encoder")
    loss_weight: Positive = Field(1000.0, description="the loss is loss_weight * mean((decoder(code) - x)^2)")
    latent_noise: NonNeg = Field(2e-2, description="std of the Gaussian noise added to the projected code while "
                                                   "training; 0 adds none")

    @model_validator(mode="after")
    def _check_latent(self) -> AutoencoderConfig:
        if not self.model.latent_shape:
            raise ValueError("the autoencoder's latent is image-shaped (§4.2): set model.latent_shape, e.g. 1,16,16")
        return self


CONFIGS: dict[str, type[RunConfig]] = {c.KIND: c for c in (TandemConfig, JointConfig, GanConfig, AutoencoderConfig)}
