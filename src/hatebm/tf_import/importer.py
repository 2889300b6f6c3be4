"""``hatebm import-tf``: the authors' released TensorFlow networks as an ordinary hatebm run folder.

A hat experiment (synthesis, refinement, retrofit) needs ``ebm`` and ``gen``; ``gen`` alone (a released SN-GAN or
decoder) makes a generator-only run that a joint run refines (``generator.source=RUN``), of kind ``gan`` (SN-GAN
generators) or ``autoencoder`` (the retrofit decoder, with ``inf`` its encoder). A joint experiment's generator is
written as its own run in ``OUT/generator``, which the joint run names as ``generator.source``, as for any joint run.

``optim`` (their ``ebm_optim_N.npz``) brings in Adam's moments and the moving average of the hat's weights (as
``hat_ema``, which hatebm samples by default); ``bank`` and ``bank_z`` (their ``persistent_N.npy`` and
``persistent_z_N.npy``) a tandem run's bank. Without them a resumed run starts Adam afresh, keeps no average, and a
tandem run starts its bank from the generator as at step 0.

Tensors are read, converted and written one at a time (:mod:`hatebm.tensorfile`), so an import holds little more than
its largest tensor in memory.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from hatebm import checkpoint as ckpt
from hatebm.checkpoint import IMPORTED, NATIVE, Checkpoint, GeneratorSpec, RankState
from hatebm.config import GanConfig, ModelConfig, RunConfig, override, preset
from hatebm.data import DataInfo
from hatebm.generators import native_spec
from hatebm.model import load_model
from hatebm.nets import build_encoder, build_generator, build_hat
from hatebm.tensorfile import Lazy
from hatebm.tf_import.bundle import TFCheckpoint
from hatebm.tf_import.experiments import PROTOCOLS, Experiment, ema_halflife, experiment
from hatebm.tf_import.layout import Family, convert, converted_shape, step_of, widths
from hatebm.tf_import.optim import AdamState, read_optimizer
from hatebm.train.outputs import write_config
from hatebm.train.runtime import rank_seed

Tensors = dict[str, "torch.Tensor | Lazy"]


def _open(path: str | Path | None, flag: str) -> TFCheckpoint | None:
    if path is None:
        return None
    try:
        return TFCheckpoint(path)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{flag}: {err}") from None


def _sizes(tf: TFCheckpoint, kind: str, resolution: int, exp: str) -> dict[str, int]:
    try:
        return widths(kind, {k: e.shape for k, e in tf.entries.items()}, resolution)
    except KeyError as err:
        raise ValueError(f"{tf.prefix} lacks {err.args[0]!r}: it is not a checkpoint of the {kind} network of "
                         f"{exp} ({resolution} px)") from None
    except ValueError as err:
        raise ValueError(f"{tf.prefix}: {err}; it is not a checkpoint of the {kind} network of {exp} "
                         f"({resolution} px)") from None


def _model(exp: Experiment, name: str, hat: TFCheckpoint | None, gen: TFCheckpoint,
           inf: TFCheckpoint | None) -> ModelConfig:
    """The networks' section: widths, channels and latent size from the checkpoints' shapes."""
    g = _sizes(gen, exp.generator, exp.resolution, name)
    model = ModelConfig(resolution=exp.resolution, channels=g["channels"], gen_width=g["width"],
                        out_scale=exp.gen_factor)
    if exp.generator == "decoder":
        model.latent_shape = [g["latent_channels"], exp.resolution // 2, exp.resolution // 2]
    else:
        model.latent_dim = g["latent_dim"]
    for tf, kind in ((hat, "hat"), (inf, "encoder")):
        if tf is not None:
            h = _sizes(tf, kind, exp.resolution, name)
            if h["channels"] != model.channels:
                raise ValueError(f"{tf.prefix} takes {h['channels']}-channel images, the generator {gen.prefix} makes "
                                 f"{model.channels}-channel ones: pass networks of one experiment")
            model.hat_width = h["width"]
    return model


def _weights(tf: TFCheckpoint, kind: str, net: nn.Module, resolution: int) -> Tensors:
    """The state dict of ``net`` (built on the meta device) as lazy reads of ``tf``, each shape checked now."""
    fam, out = Family(kind, resolution), {}
    for key, value in net.state_dict().items():
        if key.endswith("num_batches_tracked"):
            out[key] = torch.zeros((), dtype=torch.int64)
            continue
        tf_key = fam.tf_key(key)
        entry = tf.entry(tf_key)
        stored, expect = tuple(entry.shape), tuple(value.shape)
        if converted_shape(stored) != expect:
            raise ValueError(f"{tf.prefix}: the variable {tf_key!r} has shape {list(stored)}, but the network read "
                             f"from the checkpoint's other shapes needs {list(expect)} in hatebm's layout; the "
                             "checkpoint mixes networks or is corrupt")
        out[key] = Lazy(torch.float32, expect, lambda k=key, t=tf_key: convert(k, tf.read(t)))
    return out


def _meta(build: Any, model: ModelConfig) -> nn.Module:
    with torch.device("meta"):
        return build(model)


BUILDERS = {"hat": build_hat, "generator": build_generator, "decoder": build_generator, "encoder": build_encoder}


def network(prefix: str | Path, kind: str, resolution: int, out_scale: float = 1.0) -> nn.Module:
    """One of the authors' networks as the hatebm module it equals: ``kind`` ``hat``, ``generator`` (SN-GAN, with
    output ``out_scale * tanh``), ``decoder`` or ``encoder`` (the retrofit autoencoder's) at ``resolution`` px, its
    widths read from the checkpoint ``prefix``."""
    if kind not in BUILDERS:
        raise ValueError(f"unknown network kind {kind!r}; choose one of {', '.join(BUILDERS)}")
    tf = TFCheckpoint(prefix)
    s = _sizes(tf, kind, resolution, f"a {resolution}-px network")
    model = ModelConfig(resolution=resolution, channels=s["channels"], hat_width=s["width"], gen_width=s["width"],
                        latent_dim=s.get("latent_dim", 128), out_scale=out_scale)
    if kind in ("decoder", "encoder"):
        model.latent_shape = [s["latent_channels"], resolution // 2, resolution // 2]
    net = BUILDERS[kind](model)
    lazy = _weights(tf, kind, _meta(BUILDERS[kind], model), resolution)
    net.load_state_dict({k: torch.from_numpy(v.make()) if isinstance(v, Lazy) else v for k, v in lazy.items()})
    return net.eval()


def _adam_groups(net: nn.Module, lr: float, betas: Sequence[float]) -> list[dict[str, Any]]:
    return torch.optim.Adam(net.parameters(), lr=lr, betas=tuple(betas)).state_dict()["param_groups"]


def _bank(path: str | Path, what: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as err:
        raise ValueError(f"{what} {path} is not a readable .npy array ({err})") from None
    return array


def _ranks(cfg: RunConfig, ranks: int, bank: tuple[np.ndarray, np.ndarray] | None = None) -> dict[int, RankState]:
    """The per-rank states of a fresh job of ``ranks`` ranks (as :meth:`TrainingRun.start` seeds them), each with its
    contiguous shard of ``bank`` (their NHWC images and latents, memory-mapped), read while its rank file is
    written, in hatebm's layout (NCHW, float32)."""
    if bank is not None and len(bank[0]) % ranks:
        raise ValueError(f"--bank holds {len(bank[0])} pairs, which {ranks} ranks cannot share evenly")
    states = {}
    for r in range(ranks):
        rng = torch.Generator().manual_seed(rank_seed(cfg.seed, r)).get_state()
        shard = None
        if bank is not None:
            (x, z), k = bank, len(bank[0]) // ranks
            n, h, w, c = x[r * k:(r + 1) * k].shape
            shard = (Lazy(torch.float32, (n, c, h, w),
                          lambda r=r: np.ascontiguousarray(x[r * k:(r + 1) * k].transpose(0, 3, 1, 2), np.float32)),
                     Lazy(torch.float32, (n, *z.shape[1:]), lambda r=r: np.array(z[r * k:(r + 1) * k], np.float32)))
        states[r] = RankState({"epoch": 0, "pos": 0}, {"rng.torch": rng}, shard)  # type: ignore[arg-type]
    return states


def _check_flags(exp: Experiment, name: str, ebm: Any, gen: Any, inf: Any, optim: Any, bank: Any, bank_z: Any,
                 protocol: str, ranks: int) -> None:
    """One ValueError for files and settings that do not go together."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if isinstance(ranks, bool) or not isinstance(ranks, int) or ranks < 1:
        raise ValueError(f"--ranks must be a positive int, got {ranks!r}")
    if gen is None:
        raise ValueError(f"--gen is needed: every experiment's model includes its generator ({name}: gen_N.ckpt)")
    if ebm is None and (optim or bank or bank_z):
        raise ValueError("--optim, --bank and --bank-z belong to a hat network's run: pass --ebm too")
    if exp.eval_steps is None and ebm is not None:
        raise ValueError(f"{name} trains an autoencoder, no hat network: drop --ebm")
    if inf is not None and (exp.generator != "decoder" or ebm is not None):
        raise ValueError("--inf is the retrofit autoencoder's encoder, imported with its decoder alone (--gen and "
                         f"--inf of cifar10_ae, no --ebm); {name}" + (" with --ebm" if ebm is not None else "")
                         + " has none")
    if (bank is None) != (bank_z is None) or (bank is not None and exp.joint):
        raise ValueError("--bank and --bank-z go together, and only with a synthesis (tandem) experiment")
    if optim is not None and protocol == "fid":
        raise ValueError("--protocol fid samples as their FID scripts did, from the hat's own weights; --optim would "
                         "make hatebm sample its moving average: drop --optim (or import it with --protocol train)")


def import_tf(name: str, out: str | Path, ebm: str | Path | None = None, gen: str | Path | None = None,
              inf: str | Path | None = None, optim: str | Path | None = None, bank: str | Path | None = None,
              bank_z: str | Path | None = None, overrides: Sequence[str] = (), protocol: str = "train",
              ranks: int = 1, load: bool = True) -> Any:
    """Import the authors' networks of experiment ``name`` (their config names, e.g. ``cifar10_synth``) into the new
    run folder ``out``; ``overrides`` (``key=value``) change the config. ``protocol="fid"`` takes the sampling settings
    of their FID scripts in place of their training ones (see :mod:`hatebm.tf_import.experiments`): for sampling and
    scoring, not for resuming. ``ranks`` is the number of ranks (GPUs) that will resume it (each its own RNG, data
    position and bank shard). Returns the :class:`hatebm.Model` of the run (``load=False``: its checkpoint folder).
    An import that fails leaves nothing behind."""
    exp = experiment(name)
    _check_flags(exp, name, ebm, gen, inf, optim, bank, bank_z, protocol, ranks)
    out = Path(out)
    if ckpt.list_checkpoints(out) or ckpt.list_checkpoints(out / "generator"):
        raise ValueError(f"{out} already holds checkpoints; choose a new --out")
    hat_tf, gen_tf, inf_tf = _open(ebm, "--ebm"), _open(gen, "--gen"), _open(inf, "--inf")
    model = _model(exp, name, hat_tf, gen_tf, inf_tf)
    info = DataInfo(exp.resolution, exp.resolution, model.channels)
    generator = _meta(build_generator, model)
    gen_spec = GeneratorSpec(native_spec(model), tuple(model.latent_shape) or
                             (model.latent_dim,), sphere=exp.generator == "decoder")
    gen_nets = {"generator": _weights(gen_tf, exp.generator, generator, exp.resolution)}
    step = step_of(str(ebm if ebm is not None else gen))
    if hat_tf is None:  # a generator-only run
        cfg = override(_generator_config(exp, model), list(overrides))
        if inf_tf is not None:
            gen_nets["encoder"] = _weights(inf_tf, "encoder", _meta(build_encoder, model), exp.resolution)
        saved = Checkpoint(step, cfg, info, gen_spec, None, gen_nets, {}, _ranks(cfg, ranks), ranks, origin=IMPORTED)
        return _write_all(out, [(out, saved)], load, method="generator")
    writes = []
    changes = [f"eval_steps={exp.eval_steps}", *exp.extra, *(exp.fid if protocol == "fid" else ())]
    changes += ["sampler.order=zy"] if exp.joint else []
    if optim is not None:
        changes.append(f"ema_halflife={ema_halflife()}")
    if exp.joint:
        gen_out = out / "generator"
        changes.append(f"generator.source={gen_out.resolve()}")
        gen_cfg = _generator_config(exp, model)
        writes.append((gen_out, Checkpoint(step, gen_cfg, info, gen_spec, None, gen_nets, {}, _ranks(gen_cfg, 1), 1,
                                           origin=IMPORTED)))
    banks = None
    if bank is not None:
        banks = _banks(bank, bank_z, model, exp)
        changes.append(f"bank_size={banks[0].shape[0]}")
    cfg = override(preset(exp.preset).replace(model=model), changes + list(overrides))
    hat = _meta(build_hat, model)
    nets: dict[str, Tensors] = {"hat": _weights(hat_tf, "hat", hat, exp.resolution), **gen_nets}
    optimizers = {"hat": ({}, _adam_groups(hat, cfg.lr_hat, cfg.betas))}
    if not exp.joint:
        optimizers["generator"] = ({}, _adam_groups(generator, cfg.lr_gen, cfg.betas))
    if optim is not None:
        state: AdamState = read_optimizer(optim, hat_tf, Family("hat", exp.resolution), hat)
        optimizers["hat"] = (state.moments, optimizers["hat"][1])
        nets["hat_ema"] = state.average
    writes.append((out, Checkpoint(step, cfg, info, gen_spec, NATIVE, nets, optimizers, _ranks(cfg, ranks, banks),
                                   ranks, origin=IMPORTED)))
    return _write_all(out, writes, load)


def _generator_config(exp: Experiment, model: ModelConfig) -> RunConfig:
    """The config of a generator-only run: the autoencoder's (retrofit decoders) or a GAN's (SN-GAN generators)."""
    if exp.generator == "decoder":
        return preset("ae_cifar10").replace(model=model)
    return GanConfig(data=preset(exp.preset).data, model=model)


def _banks(bank: str | Path, bank_z: str | Path, model: ModelConfig,
           exp: Experiment) -> tuple[np.ndarray, np.ndarray]:
    """Their persistent banks (NHWC images, latents), memory-mapped and checked against the model."""
    x, z = _bank(bank, "--bank"), _bank(bank_z, "--bank-z")
    image = (exp.resolution, exp.resolution, model.channels)
    if x.ndim != 4 or tuple(x.shape[1:]) != image:
        raise ValueError(f"--bank {bank} holds an array of shape {list(x.shape)}; the model's bank is "
                         f"N×{'×'.join(map(str, image))} (NHWC, as their persistent_N.npy)")
    if z.shape != (x.shape[0], model.latent_dim):
        raise ValueError(f"--bank-z {bank_z} holds shape {list(z.shape)}, not {[x.shape[0], model.latent_dim]} (one "
                         "latent per bank image)")
    return x, z


def _write_all(out: Path, writes: list[tuple[Path, Checkpoint]], load: bool, method: str = "hat") -> Any:
    """Write each checkpoint with its run folder's config.json; the Model of ``out`` (or its checkpoint folder). A
    failure (a corrupt tensor found while writing) removes what this import wrote."""
    existed = out.exists()
    try:
        for folder, saved in writes:
            saved.config.validate()
            written = ckpt.save(folder, saved)
            write_config(folder, saved.config)
    except BaseException:
        shutil.rmtree(out if not existed else out / "generator", ignore_errors=True)
        raise
    return load_model(out, "cpu", method=method) if load else written
