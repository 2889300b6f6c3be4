"""The sections of a run's configuration, shared by every kind of run: the networks (:class:`ModelConfig`), the data
(:class:`DataConfig`), a joint run's frozen generator (:class:`GeneratorConfig`) and the training sampler (a
:class:`~hatebm.sampling.LangevinConfig` with the tighter ranges training needs). Each option is declared once, with
its type, default, range and meaning (:mod:`hatebm.options`).
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from hatebm.options import AS_INT, Count, Count0, Counts, NonNeg, Options, PathText, Positive
from hatebm.sampling import LangevinConfig


class ModelConfig(Options):
    """Networks: SN-GAN family (``sngan``, images) or MLPs (``mlp``, 2-D data).

    An image-shaped ``latent_shape`` ``[c, h, w]`` makes the generator the autoencoder decoder (§4.2) and the
    discriminator-side network the encoder; otherwise latents are vectors ``[latent_dim]``.
    """

    arch: Literal["sngan", "mlp"] = Field("sngan", description="SN-GAN networks for images, MLPs for 2-D data")
    resolution: Count = Field(32, description="the model's image side in px, to which data are padded or resized; "
                                              "SN-GAN networks exist for 32, 64 and 128")
    channels: Annotated[int, Field(ge=1, le=3), AS_INT] = Field(3, description="1 or 3 for images, 2 for 2-D toy data")
    hat_width: Count = Field(256, description="width of the hat network, and of the SN-GAN discriminator or the "
                                              "encoder when pretraining")
    hat_act: Literal["relu", "silu"] = Field("relu", description="the hat network's activation; the paper's is relu")
    gen_width: Count = Field(256, description="width of the generator, and of the autoencoder's decoder")
    latent_dim: Count = Field(128, description="size of vector latents")
    latent_shape: Counts = Field(default_factory=list, description="an image-shaped latent c,h,w as the "
                                                                   "autoencoder's; empty: vector latents [latent_dim]")
    out_scale: Positive = Field(2.0, description="the generator's output is tanh * out_scale")
    mlp_hidden: Count = Field(128, description="hidden units of the MLPs")
    mlp_depth: Count0 = Field(3, description="hidden layers of the MLPs; 0 is one linear map")
    mlp_act: Literal["silu", "relu"] = Field("silu", description="activation of the MLP hat and critic; an SN critic "
                                                                 "trains with relu only")


class DataConfig(Options):
    """Training data; see :func:`hatebm.data.load_images` for names and where they are looked for.

    ``prepared`` (a folder written by ``hatebm data prep``) and ``folder`` (image files of any sizes) are read from
    disk batch by batch by ``workers`` DataLoader processes, never held in memory; ``crop`` and ``flip`` apply to
    them. Other data sets are small and held in memory."""

    name: str = Field("cifar10", description="the data set: fashion_mnist, cifar10, cifar100, npz, folder, prepared, "
                                             "or a 2-D toy: gmm8, gmm25, rings")
    root: PathText | None = Field(None, description="where the data are; none: the data set's usual places")
    split: str = Field("train", description="the split to train on")
    resize: Literal["pad", "resize", "crop"] = Field("pad", description="how images reach model.resolution")
    size: Count | None = Field(None, description=(
        "image folders: the square side images are cropped and resized to; prepared data: the size they were "
        "prepared at, fitted to the model by resize; none: model.resolution"))
    crop: Literal["centre", "random"] = Field("centre", description="streamed data: a centred or random square, the "
                                                                    "authors' ImageNet crop")
    flip: bool = Field(False, description="streamed data: random horizontal flips")
    workers: Count0 = Field(2, description="DataLoader worker processes for streamed data; 0 reads in the training "
                                           "process")
    bad_images: Literal["stop", "skip"] = Field("stop", description=(
        "an image file of a streamed folder that cannot be read: stop the run naming it, or skip it, counted in "
        "stats.jsonl as skipped_images"))
    download: bool = Field(False, description="fetch a missing data set that has a download address: Fashion-MNIST")
    noise: NonNeg = Field(1e-3, description="sigma_data: X+ = data + noise * N(0, I), eq 8; 0 adds no noise")
    toy_size: Count = Field(50_000, description="points drawn from a 2-D toy distribution")


class GeneratorConfig(Options):
    """The frozen generator of a joint run (§3.2), see :func:`hatebm.generators.load_generator`. A generator module
    passed to :func:`hatebm.train` takes the place of ``source``."""

    source: PathText | None = Field(None, description=(
        "a hatebm run or checkpoint folder (hatebm pretrain gan|ae, a tandem run), a TorchScript file, or a factory "
        "package.module:function"))
    weights: PathText | None = Field(None, description="the safetensors state dict a factory's module gets")
    latent_shape: Counts = Field(default_factory=list, description="the latent shape of a TorchScript file or "
                                                                   "factory; empty: read from it or probed")
    trust: bool = Field(False, description="load a run's generator recorded as a TorchScript path or factory, code "
                                           "the run names")


class TrainingSampler(LangevinConfig):
    """The sampler of a training run's chains: at least one step. Any LangevinConfig given is taken as its values."""

    steps: Count = Field(50, description="a training run's Langevin steps per chain, at least one; eval_steps=0 may "
                                         "still sample the generator alone")

    @model_validator(mode="before")
    @classmethod
    def _from_settings(cls, value: Any) -> Any:
        return dict(value) if isinstance(value, LangevinConfig) and type(value) is not cls else value


class TandemSampler(TrainingSampler):
    """The sampler of tandem training: the conditional sampler moves only Y, so Y must move."""

    eps_y: Positive = Field(5e-4, description="step size of Y: the tandem sampler moves only Y, so 0 would train on "
                                              "the generator's own samples")
