"""Checkpoints (DESIGN §6): one schema, :class:`Checkpoint`, written and read here only; never a pickle.

``<run>/checkpoints/step_00000100/`` holds ``tensors.safetensors`` and ``state.json``, shared by the ranks of the job
(written by rank 0), and one ``rank<r>.safetensors`` per rank r, written by that rank (:mod:`hatebm.checkpoint_files`
writes and reads the files):

========================  =========================================================================================
tensors.safetensors       ``<net>.<param>`` network weights (``hat``, ``generator``, ``discriminator``, ``encoder``);
                          ``optim.<net>.<i>.<key>`` optimiser state
rank<r>.safetensors       rank r's own state (:class:`RankState`): ``stream.<key>`` its data stream position (int64
                          scalars: ``epoch``, ``pos``, ...), ``rng.torch`` (and ``rng.cuda``) its RNG states, and
                          ``bank.x`` / ``bank.z`` its shard of the bank (tandem runs)
state.json:
``format``                schema version (:data:`FORMAT`)
``step``                  optimisation steps done
``run`` / ``config``      the config's class and its values (:func:`hatebm.config.to_dict`)
``data_info``             the training data's original H, W, C
``optim_groups``          each optimiser's param groups
``world``                 the number of ranks that wrote it, and of rank files (a run resumes with as many; 0 in
                          checkpoints written only to load networks from)
``generator``             how to rebuild the generator: ``spec``, ``latent_shape``, ``sphere``
``hat``                   the hat network's spec (runs that learn one), else null
``lr_scale``              the factor divergence rollbacks left on the learning rates (1 without; optional)
``origin``                what wrote the checkpoint where it was not a training run: ``import-tf`` (optional)
========================  =========================================================================================

Specs are ``{"type": "hatebm"}`` (a hatebm network; generators carry their ``model`` section),
``{"type": "torchscript", "path": ...}``,
``{"type": "factory", "factory": "module:function"}`` or ``{"type": "custom", "class": "module.Class"}`` (a module
passed to :func:`hatebm.train`, which must be passed again to load the run). The folder is written under a temporary
name and renamed into place once every rank's file is in it, so a crash never leaves a half-written checkpoint behind;
sampling reads only the shared file's sampling weights, and a rank resuming a job only the shared files and its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from hatebm.checkpoint_files import (STATE, TENSORS, list_checkpoints, net_names, rank_file, read_files, read_rank,
                                     remove_stale, resolve, write_files)
from hatebm.config import RunConfig, from_dict, to_dict
from hatebm.data import DataInfo
from hatebm.distributed import rank_and_world
from hatebm.tensorfile import Lazy

# the file functions are hatebm.checkpoint's too (ckpt.resolve, ckpt.list_checkpoints, ...)
__all__ = ["FORMAT", "IMPORTED", "NATIVE", "RANK_KEYS", "STATE", "TENSORS", "Checkpoint", "GeneratorSpec", "RankState",
           "flatten_optimizer", "list_checkpoints", "load", "net_names", "rank_file", "read_files", "read_rank",
           "remove_stale", "resolve", "restore_optimizer", "save", "subdict", "to_dict_tagged", "write_files"]
FORMAT = 4  # the schema version hatebm writes and reads (3: every rank's state in tensors.safetensors)
NATIVE = {"type": "hatebm"}  # the spec of a hatebm network
IMPORTED = "import-tf"  # the origin of checkpoints written by `hatebm import-tf`
RANK_KEYS = ("stream.epoch", "stream.pos", "rng.torch")  # what every rank file holds


@dataclass
class GeneratorSpec:
    """How a checkpoint's generator is rebuilt: architecture ``spec``, latent shape, and whether its latents live on
    the sphere of radius sqrt(m) (autoencoder decoders)."""

    spec: dict[str, Any]
    latent_shape: tuple[int, ...]
    sphere: bool = False


@dataclass
class RankState:
    """What each rank of a job keeps apart from the others, in its own file: its data position, RNG states and tandem
    bank shard."""

    stream: dict[str, int]
    rng: dict[str, Tensor]
    bank: tuple[Tensor, Tensor] | None = None  # tandem runs: this rank's shard of the (X, Z) bank of §3.4

    def tensors(self) -> dict[str, Tensor | Lazy]:
        """This state as the tensors of its rank file."""
        out: dict[str, Tensor | Lazy] = {f"stream.{k}": torch.tensor(v, dtype=torch.int64)
                                         for k, v in self.stream.items()}
        out.update(self.rng)
        if self.bank is not None:
            out["bank.x"], out["bank.z"] = self.bank
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, Tensor], where: str) -> RankState:
        """The state in the rank file ``where``; ValueError if it lacks part of it."""
        missing = [k for k in RANK_KEYS if k not in tensors]
        try:
            stream = {k[len("stream."):]: int(v) for k, v in tensors.items() if k.startswith("stream.")}
        except (RuntimeError, ValueError):  # not a scalar
            missing.append("a stream position of one number")
        if missing:
            raise ValueError(f"{where} lacks {', '.join(missing)}; move its checkpoint folder out of checkpoints/ to "
                             "resume from an earlier one")
        bank = (tensors["bank.x"], tensors["bank.z"]) if "bank.x" in tensors else None
        return cls(stream, {k: v for k, v in tensors.items() if k.startswith("rng.")}, bank)


@dataclass
class Checkpoint:
    """Everything a run saves: networks, optimisers, RNG, data position, and what rebuilds its model."""

    step: int
    config: RunConfig
    data_info: DataInfo
    generator: GeneratorSpec
    hat: dict[str, Any] | None  # None: the run learns no hat network (GAN, autoencoder)
    nets: dict[str, dict[str, Tensor]]  # network name -> state dict
    optimizers: dict[str, tuple[dict[str, Tensor], list[dict[str, Any]]]] = field(default_factory=dict)
    ranks: dict[int, RankState] = field(default_factory=dict)  # rank -> state: every rank's (one process writing
    # or loading all), one rank's (that rank of a job; load(rank=r)) or none (load(nets=...))
    world: int = 0  # the number of ranks of the job that wrote it (0: none, a checkpoint to load networks from)
    lr_scale: float = 1.0  # learning rates' factor left by divergence rollbacks (on_divergence=rollback)
    origin: str | None = None  # what wrote it, where not hatebm's training: "import-tf" (:mod:`hatebm.tf_import`)

    def files(self) -> tuple[dict[str, Tensor], dict[str, Any], dict[int, dict[str, Tensor | Lazy]]]:
        """The shared tensors, the state.json and the rank files (rank -> tensors) that store this checkpoint."""
        tensors: dict[str, Tensor] = {}
        for name, weights in self.nets.items():
            tensors.update({f"{name}.{k}": v for k, v in weights.items()})
        for name, (flat, _) in self.optimizers.items():
            tensors.update({f"optim.{name}.{k}": v for k, v in flat.items()})
        g = self.generator
        state = {"format": FORMAT, **to_dict_tagged(self.config), "data_info": vars(self.data_info),
                 "optim_groups": {name: groups for name, (_, groups) in self.optimizers.items()},
                 "world": self.world, "hat": self.hat, "lr_scale": self.lr_scale,
                 **({"origin": self.origin} if self.origin else {}),
                 "generator": {"spec": g.spec, "latent_shape": list(g.latent_shape), "sphere": g.sphere}}
        return tensors, state, {r: rank.tensors() for r, rank in self.ranks.items()}

    @classmethod
    def from_files(cls, tensors: dict[str, Tensor], state: dict[str, Any], where: str = "checkpoint") -> Checkpoint:
        """Parse a checkpoint's shared tensors and state.json (:func:`load` adds the rank states); a state.json that is
        not a checkpoint's (not an object, entries missing or of the wrong type, a config that does not validate) is
        one ValueError naming ``where``."""
        if not isinstance(state, dict):
            raise ValueError(f"{where}: {STATE} holds a JSON {type(state).__name__}, not a checkpoint's object; use "
                             "another checkpoint of the run")
        if "format" not in state:
            raise ValueError(f"{where}: {STATE} records no checkpoint format; use another checkpoint of the run")
        if state["format"] != FORMAT:
            older = isinstance(state["format"], int) and state["format"] < FORMAT
            raise ValueError(f"{where} has checkpoint format {state['format']}, this hatebm reads format {FORMAT}: " +
                             ("read it with the hatebm that wrote it" if older else "upgrade hatebm to read it"))
        try:
            try:
                config = from_dict({"run": state["run"], **state["config"]}).validate()
            except ValueError as err:
                raise ValueError(f"its config: {err}") from None
            groups = state["optim_groups"]
            g = state["generator"]
            if not isinstance(g["spec"], dict) or not isinstance(g["spec"].get("type"), str):
                raise ValueError(f"generator spec {g['spec']!r} is not an object with a \"type\"")
            generator = GeneratorSpec(g["spec"], tuple(_number("generator.latent_shape", s, int)
                                                       for s in g["latent_shape"]), bool(g["sphere"]))
            info = state["data_info"]
            if not isinstance(info, dict) or sorted(info) != ["channels", "height", "width"]:
                raise ValueError(f"data_info {info!r} is not {{\"height\", \"width\", \"channels\"}}")
            info, hat = DataInfo(**info), state["hat"]
            step = _number("step", state["step"], int)
            if hat is not None and not isinstance(hat, dict):
                raise TypeError("hat")
            world = _number("world", state["world"], int)
            if world < 0:
                raise ValueError(f"world is {world}, not a number of ranks")
            lr_scale = _number("lr_scale", state.get("lr_scale", 1.0), float)
            origin = state.get("origin")
            if origin is not None and not isinstance(origin, str):
                raise TypeError("origin")
        except (KeyError, TypeError) as err:
            raise ValueError(f"{where}: {STATE} lacks or garbles {err}; use another checkpoint of the run") from None
        except ValueError as err:
            raise ValueError(f"{where}: {STATE}: {err}; use another checkpoint of the run") from None
        nets: dict[str, dict[str, Tensor]] = {}
        for key, value in tensors.items():
            head, _, rest = key.partition(".")
            if head != "optim":
                nets.setdefault(head, {})[rest] = value
        optimizers = {name: (subdict(tensors, f"optim.{name}"), groups[name]) for name in groups}
        return cls(step, config, info, generator, hat, nets, optimizers, world=world, lr_scale=lr_scale, origin=origin)


def _number(key: str, value: Any, tp: type) -> Any:
    """``value`` of the state.json entry ``key`` as ``tp`` (int or float), or the ValueError naming it."""
    try:
        return tp(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{key} is {value!r}, not a number") from None


def to_dict_tagged(cfg: RunConfig) -> dict[str, Any]:
    """``{"run": kind, "config": values}`` as stored in state.json."""
    d = to_dict(cfg)
    return {"run": d.pop("run"), "config": d}


def flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], list[dict[str, Any]]]:
    """Optimiser state as flat tensors plus its JSON-able param groups."""
    sd = opt.state_dict()
    tensors = {f"{i}.{k}": torch.as_tensor(v) for i, st in sd["state"].items() for k, v in st.items()}
    return tensors, sd["param_groups"]


def restore_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, Tensor], groups: list[dict[str, Any]]) -> None:
    state: dict[int, dict[str, Tensor]] = {}
    for key, value in tensors.items():
        i, k = key.split(".", 1)
        state.setdefault(int(i), {})[k] = value
    opt.load_state_dict({"state": state, "param_groups": groups})


def save(run_dir: str | Path, ckpt: Checkpoint, keep: int = 0) -> Path:
    """Write ``ckpt`` into the run folder atomically and prune all but the newest ``keep`` (0 keeps all). One process
    writes every rank's file (``ckpt.ranks`` holds all ``ckpt.world``); in a torchrun job every rank calls it with its
    own state alone, writes its file, and rank 0 the shared ones (:func:`hatebm.checkpoint_files.write_files`)."""
    rank, world = rank_and_world()
    expect = list(range(ckpt.world)) if world == 1 else [rank]
    if sorted(ckpt.ranks) != expect or world not in (1, ckpt.world):
        raise ValueError(f"a checkpoint of {ckpt.world} rank(s) saved by rank {rank} of {world} holds the states of "
                         f"ranks {sorted(ckpt.ranks)}, not {expect}")
    return write_files(run_dir, ckpt.step, *ckpt.files(), keep=keep)


def load(path: str | Path, nets: tuple[str, ...] | None = None, rank: int | None = None) -> Checkpoint:
    """Read a checkpoint (a checkpoint folder, or a run folder: its newest). With ``nets``, only those networks'
    weights: no optimiser states and no rank file (what sampling needs); with ``rank``, the shared files and that
    rank's file alone (what a rank of a job resumes from; none if the job that wrote it had no such rank); else all."""
    folder = resolve(path)
    saved = Checkpoint.from_files(*read_files(folder, nets), where=str(folder))
    read = () if nets is not None else range(saved.world) if rank is None else [rank] if rank < saved.world else []
    saved.ranks = {r: RankState.from_tensors(read_rank(folder, r), str(folder / rank_file(r))) for r in read}
    return saved


def subdict(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """Entries under ``prefix.`` with the prefix removed."""
    n = len(prefix) + 1
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
