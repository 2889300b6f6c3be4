"""The typed configuration of a run: one class per kind of run on a shared base (data only: which training procedure
runs each kind is :data:`hatebm.train.TRAINERS`).

- :class:`TandemConfig`: hat network and generator learned together (§3.4, conditional sampler §3.3).
- :class:`JointConfig`: hat network on a frozen generator (§3.2, joint sampler, eqs 6-7), for refinement (§4.1) and
  retrofit (§4.2).
- :class:`GanConfig` and :class:`AutoencoderConfig`: pretraining the base generators a joint run builds on.

Sections (:class:`DataConfig`, :class:`ModelConfig`, :class:`GeneratorConfig`, :class:`LangevinConfig`) are shared.
``validate()`` checks every value's type and range (the table in :mod:`hatebm.config.rules`: non-finite numbers
are always refused) and the constraints between values; every failure is one ValueError naming the dotted key, the
value and what is allowed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

from hatebm.config.rules import check_section
from hatebm.energy import HatEBM
from hatebm.sampling import LangevinConfig, Noise, SampleResult, sample_conditional, sample_joint

if TYPE_CHECKING:
    from torch import Tensor, nn


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
    mlp_act: Literal["silu", "relu"] = "silu"  # MLP hat and critic activation (an SN critic trains with ReLU only)


@dataclass
class DataConfig:
    """Training data; see :func:`hatebm.data.load_images` for names and where they are looked for.

    ``prepared`` (a folder written by ``hatebm data prep``) and ``folder`` (image files of any sizes) are read from
    disk batch by batch by ``workers`` DataLoader processes, never held in memory; ``crop`` and ``flip`` apply to
    them. Other data sets are small and held in memory."""

    name: str = "cifar10"
    root: str | None = None
    split: str = "train"
    resize: Literal["pad", "resize", "crop"] = "pad"  # how images reach model.resolution
    # image folders: the square side images are cropped and resized to; prepared data: the size they were prepared
    # at, fitted to the model by `resize` (default for both: model.resolution)
    size: int | None = None
    crop: Literal["centre", "random"] = "centre"  # streamed data: centred or random (the authors' ImageNet) square
    flip: bool = False  # streamed data: random horizontal flips
    workers: int = 2  # DataLoader worker processes for streamed data (0: read in the training process)
    # an image file of a streamed folder that cannot be read: "stop" the run with one line naming it, or "skip" it
    # (left out of its batch, counted in stats.jsonl as skipped_images)
    bad_images: Literal["stop", "skip"] = "stop"
    download: bool = False  # fetch a missing dataset that has a download address (Fashion-MNIST)
    noise: float = 1e-3  # sigma_data: X+ = data + noise * N(0, I) (eq 8)
    toy_size: int = 50_000  # number of points drawn from a 2-D toy distribution


@dataclass
class GeneratorConfig:
    """The frozen generator of a joint run (§3.2), see :func:`hatebm.generators.load_generator`: a hatebm run or
    checkpoint folder (``hatebm pretrain gan|ae``, a tandem run), a TorchScript file, or a factory
    ``package.module:function`` whose module gets the safetensors state dict ``weights``. A generator module passed
    to :func:`hatebm.train` takes the place of ``source``."""

    source: str | None = None
    weights: str | None = None
    latent_shape: list[int] = field(default_factory=list)  # for TorchScript files and factories (else read or probed)
    trust: bool = False  # load a run's generator recorded as a TorchScript path or factory (code the run names)


@dataclass
class RunConfig:
    """What every run shares: data, networks, the step schedule (learning rates fall by ``lr_gamma`` at each
    milestone), Adam's betas, the device and precision, and how often it logs, draws figures and checkpoints."""

    KIND: ClassVar[str]  # the name a checkpoint records for this class (see CONFIGS)

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    iters: int = 50_000
    batch_size: int = 128  # global: a torchrun job of N ranks gives each rank batch_size / N (N must divide it)
    lr_milestones: list[int] = field(default_factory=list)
    lr_gamma: float = 0.1
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    seed: int = 0
    device: str = "auto"  # "auto" = cuda if available, else cpu
    amp: bool = True  # bf16 autocast for network passes on GPUs and bf16-capable CPUs (Langevin states stay fp32)
    tf32: bool = False  # allow TF32 on Ampere+ GPUs: faster, but hides eps_Y-sized steps (hatebm.precision)
    channels_last: bool = True  # NHWC memory format for the image networks (faster convolutions on CPU and GPU)
    log_every: int = 10
    image_every: int = 500
    ckpt_every: int = 500
    keep_ckpts: int = 2
    eval_samples: int = 1000  # samples written at the end of the run (0 = none)
    on_divergence: Literal["stop", "rollback"] = "stop"  # rollback: to the newest checkpoint, lrs x rollback_lr
    rollback_lr: float = 0.5
    max_rollbacks: int = 3  # then a divergence stops the run

    def validate(self) -> RunConfig:
        """Check every value's type and range (:mod:`hatebm.config.rules`) and the constraints between values;
        returns the config. Every failure is one ValueError naming the dotted key."""
        check_section(self)
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


@dataclass
class HatConfig(RunConfig):
    """What runs that learn a hat network share: the training sampler (at least one step; a tandem run's must move
    Y), the energy's temperature and eq 8's loss.

    Beyond the paper's loss, off unless set: ``energy_reg`` (alpha * mean H^2, fixes the energy scale),
    ``grad_penalty`` (R1: gamma * mean ||grad_x H(X+)||^2) and ``hat_grad_clip``; and ``ema_halflife``, an average of
    the hat's weights for sampling the trained model."""

    sampler: LangevinConfig = field(default_factory=lambda: LangevinConfig(steps=50, eps_y=5e-4, max_drift_y=2.5))
    eval_steps: int = 125  # Langevin steps when sampling the trained model; 0 gives the generator's G(Z) + Y0
    temperature: float = 1e-8
    lr_hat: float = 1e-4
    energy_reg: float = 0.0  # optional alpha * mean(H(X+)^2 + H(X-)^2); 0 = paper's loss
    hat_grad_clip: float | None = None  # optional max grad norm of the hat network
    # "global": hat_grad_clip bounds the norm of all the hat's gradients together; "tensor": each parameter's gradient
    # on its own (the authors' clip_by_norm per variable, their ImageNet runs)
    hat_grad_clip_scope: Literal["global", "tensor"] = "global"
    grad_penalty: float = 0.0  # optional gamma * mean ||grad_x H(X+)||^2 (R1 on the data); 0 = paper's loss
    diverge_gap: float = 1e5  # |mean H(X+) - mean H(X-)| above this (or non-finite) stops the run as diverged
    # beyond the paper: keep an exponential moving average of the hat's weights with this half-life in iterations,
    # from which the trained model samples (training chains use the current weights); 0 = off
    ema_halflife: float = 0.0
    compile: bool = False  # torch.compile the hat network for the training chains and updates (eager where it fails)

    def chains(self, ebm: HatEBM, z: Tensor, settings: LangevinConfig, noise: Noise | None = None) -> SampleResult:
        """This run's sampler from latents ``z`` (conditional for tandem, joint for joint runs)."""
        raise NotImplementedError

    def energy(self, hat: nn.Module, generator: nn.Module, latent_shape: tuple[int, ...]) -> HatEBM:
        """This run's energy U(Y, Z) = H(G(Z) + Y) / T (eqs 4, 5, 9), with the priors the run sets."""
        return HatEBM(hat, generator, latent_shape, self.temperature)

    def validate(self) -> HatConfig:
        super().validate()
        try:
            dataclasses.replace(self.sampler)  # re-runs LangevinConfig's own checks, which name its fields
        except ValueError as err:
            raise ValueError(f"sampler.{err}") from None
        return self


@dataclass
class TandemConfig(HatConfig):
    """Tandem synthesis (§3.4, Fig 2): the hat network and the generator learn together; the generator learns from a
    bank of past (X-, Z) pairs with ``gen_loss_weight * mean((G(Z') - X')^2)``."""

    KIND: ClassVar[str] = "tandem"

    lr_gen: float = 1e-4
    bank_size: int = 10_000
    gen_loss_weight: float = 1000.0  # lambda in lambda * mean((G(Z') - X')^2)
    gen_steps: int = 1  # generator Adam steps per iteration, each on its own B bank pairs (new pairs go to the first B)

    def chains(self, ebm: HatEBM, z: Tensor, settings: LangevinConfig, noise: Noise | None = None) -> SampleResult:
        return sample_conditional(ebm, z, settings, noise)

    def validate(self) -> TandemConfig:
        super().validate()
        if self.bank_size < self.batch_size * self.gen_steps:
            raise ValueError(f"bank_size ({self.bank_size}) must be at least batch_size x gen_steps "
                             f"({self.batch_size} x {self.gen_steps})")
        return self


@dataclass
class JointConfig(HatConfig):
    """Joint Hat EBM (§3.2, eqs 4-8) on the frozen ``generator``, with optional Gaussian priors on Y
    (``y_prior_std``) and Z (``z_prior``). Networks run in fp32 unless ``amp`` is set. ``hat_init`` (beyond the paper)
    starts the hat at the negated discriminator of the GAN run that made the generator, so that the untrained model
    with Y held at 0, T = 1 and the Z prior is DDLS, and what training adds is the Hat EBM's own learning."""

    KIND: ClassVar[str] = "joint"

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    y_prior_std: float | None = None  # sigma_y of the Y prior ||Y||^2 / (2 sigma_y^2); None = no prior
    z_prior: bool = False  # add ||Z||^2 / 2 (the N(0, I) latent prior) to the joint energy
    # fp32: evaluation chains are fp32, and so are the training chains; bf16 would also hide any Y below its spacing
    # near -1 (0.0039) and the data noise sigma_data from the hat.
    amp: bool = False
    hat_init: str | None = None  # beyond the paper: start the hat at -D of this `hatebm pretrain gan` run (DDLS)

    def chains(self, ebm: HatEBM, z: Tensor, settings: LangevinConfig, noise: Noise | None = None) -> SampleResult:
        return sample_joint(ebm, z, settings, noise)

    def energy(self, hat: nn.Module, generator: nn.Module, latent_shape: tuple[int, ...]) -> HatEBM:
        return HatEBM(hat, generator, latent_shape, self.temperature, self.y_prior_std, self.z_prior)

    def validate(self) -> JointConfig:
        super().validate()
        if self.sampler.eps_y == 0 and self.sampler.eps_z == 0:
            raise ValueError("sampler.eps_y and sampler.eps_z are both 0: the training chains would not move; set "
                             "either (eps_y=0 holds Y fixed, eps_z=0 holds Z fixed)")
        return self


@dataclass
class PretrainConfig(RunConfig):
    """What pretraining a base generator shares: SN-GAN-family image networks, ``lr_gen`` for the generator (or
    decoder), and Mimicry's SN-GAN defaults (batch 64, Adam betas (0, 0.9))."""

    model: ModelConfig = field(default_factory=lambda: ModelConfig(hat_width=128, out_scale=1.0))
    iters: int = 100_000  # generator (or autoencoder) updates
    batch_size: int = 64
    betas: list[float] = field(default_factory=lambda: [0.0, 0.9])
    ckpt_every: int = 1000
    lr_gen: float = 2e-4

    def validate(self) -> PretrainConfig:
        super().validate()
        if self.model.arch != "sngan" and self.KIND != "gan":
            raise ValueError(f"{self.KIND} pretraining builds SN-GAN-family image networks: model.arch must be sngan")
        return self


@dataclass
class GanConfig(PretrainConfig):
    """SN-GAN pretraining with the hinge loss (Miyato et al. 2018): the base generator of refinement (§4.1) and the
    discriminator DDLS samples with. ``lr_gen`` trains the generator, ``lr_disc`` the discriminator (widths
    ``model.gen_width`` / ``model.hat_width``)."""

    KIND: ClassVar[str] = "gan"

    lr_disc: float = 2e-4
    n_dis: int = 5  # discriminator updates per generator update



@dataclass
class AutoencoderConfig(PretrainConfig):
    """Deterministic autoencoder pretraining (§4.2): image-shaped latents on the sphere of radius sqrt(m); the decoder
    becomes the generator of a retrofit run. ``lr_gen`` trains the decoder (width ``model.gen_width``), ``lr_enc`` the
    encoder (width ``model.hat_width``)."""

    KIND: ClassVar[str] = "autoencoder"

    lr_enc: float = 2e-4
    loss_weight: float = 1000.0  # loss = loss_weight * mean((decoder(code) - x)^2)
    latent_noise: float = 2e-2  # std of the Gaussian noise added to the projected code while training

    def validate(self) -> AutoencoderConfig:
        super().validate()
        if not self.model.latent_shape:
            raise ValueError("the autoencoder's latent is image-shaped (§4.2): set model.latent_shape, e.g. 1,16,16")
        return self


CONFIGS: dict[str, type[RunConfig]] = {c.KIND: c for c in (TandemConfig, JointConfig, GanConfig, AutoencoderConfig)}
