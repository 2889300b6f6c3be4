"""Checkpoints (DESIGN §6): one schema, :class:`Checkpoint`, written and read here only; never a pickle.

``<run>/checkpoints/step_00000100/`` holds ``tensors.safetensors`` and ``state.json``:

========================  =========================================================================================
tensors                   ``<net>.<param>`` network weights (``hat``, ``generator``, ``discriminator``, ``encoder``);
                          ``optim.<net>.<i>.<key>`` optimiser state; per rank r of the job, ``rank<r>.rng.torch``
                          (and ``rank<r>.rng.cuda``) RNG states and ``rank<r>.bank.x`` / ``.bank.z`` its bank shard
                          (tandem runs)
``format``                schema version (:data:`FORMAT`)
``step``                  optimisation steps done
``run`` / ``config``      the config's class and its values (:func:`hatebm.config.to_dict`)
``data_info``             the training data's original H, W, C
``optim_groups``          each optimiser's param groups
``world``                 the number of ranks that wrote it (a run resumes with as many)
``streams``               each rank's data stream position (epoch, pos)
``generator``             how to rebuild the generator: ``spec``, ``latent_shape``, ``sphere``
``hat``                   the hat network's spec (runs that learn one), else null
``lr_scale``              the factor divergence rollbacks left on the learning rates (1 without; optional)
``origin``                what wrote the checkpoint where it was not a training run: ``import-tf`` (optional)
========================  =========================================================================================

Specs are ``{"type": "hatebm"}`` (a hatebm network; generators carry their ``model`` section),
``{"type": "torchscript", "path": ...}``,
``{"type": "factory", "factory": "module:function"}`` or ``{"type": "custom", "class": "module.Class"}`` (a module
passed to :func:`hatebm.train`, which must be passed again to load the run). The folder is written under a temporary
name and renamed into place, so a crash never leaves a half-written checkpoint behind.
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from torch import Tensor

from hatebm.config import RunConfig, from_dict, to_dict
from hatebm.data import DataInfo
from hatebm import tensorfile
from hatebm.tensorfile import Lazy

FORMAT = 3  # the schema version hatebm writes and reads
NATIVE = {"type": "hatebm"}  # the spec of a hatebm network
STATE, TENSORS, PREFIX, TMP = "state.json", "tensors.safetensors", "step_", ".tmp_"
IMPORTED = "import-tf"  # the origin of checkpoints written by `hatebm import-tf`
RANK_KEY = re.compile(r"rank\d+")


@dataclass
class GeneratorSpec:
    """How a checkpoint's generator is rebuilt: architecture ``spec``, latent shape, and whether its latents live on
    the sphere of radius sqrt(m) (autoencoder decoders)."""

    spec: dict[str, Any]
    latent_shape: tuple[int, ...]
    sphere: bool = False


@dataclass
class RankState:
    """What each rank of a job keeps apart from the others: its data position, RNG states and tandem bank shard."""

    stream: dict[str, int]
    rng: dict[str, Tensor]
    bank: tuple[Tensor, Tensor] | None = None  # tandem runs: this rank's shard of the (X, Z) bank of §3.4


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
    ranks: list[RankState] = field(default_factory=list)  # one per rank of the job, rank 0 first
    lr_scale: float = 1.0  # learning rates' factor left by divergence rollbacks (on_divergence=rollback)
    origin: str | None = None  # what wrote it, where not hatebm's training: "import-tf" (:mod:`hatebm.tf_import`)

    def files(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """The (tensors, state.json) pair that stores this checkpoint."""
        tensors: dict[str, Tensor] = {}
        for r, rank in enumerate(self.ranks):
            tensors.update({f"rank{r}.{k}": v for k, v in rank.rng.items()})
            if rank.bank is not None:
                tensors[f"rank{r}.bank.x"], tensors[f"rank{r}.bank.z"] = rank.bank
        for name, weights in self.nets.items():
            tensors.update({f"{name}.{k}": v for k, v in weights.items()})
        for name, (flat, _) in self.optimizers.items():
            tensors.update({f"optim.{name}.{k}": v for k, v in flat.items()})
        g = self.generator
        state = {"format": FORMAT, **to_dict_tagged(self.config), "data_info": vars(self.data_info),
                 "optim_groups": {name: groups for name, (_, groups) in self.optimizers.items()},
                 "world": len(self.ranks), "streams": [rank.stream for rank in self.ranks], "hat": self.hat,
                 "lr_scale": self.lr_scale, **({"origin": self.origin} if self.origin else {}),
                 "generator": {"spec": g.spec, "latent_shape": list(g.latent_shape), "sphere": g.sphere}}
        return tensors, state

    @classmethod
    def from_files(cls, tensors: dict[str, Tensor], state: dict[str, Any], where: str = "checkpoint") -> Checkpoint:
        """Parse a checkpoint's tensors and state.json; a state.json that is not a checkpoint's (not an
        object, entries missing or of the wrong type, a config that does not validate) is one ValueError naming
        ``where``."""
        if not isinstance(state, dict):
            raise ValueError(f"{where}: {STATE} holds a JSON {type(state).__name__}, not a checkpoint's object; use "
                             "another checkpoint of the run")
        if "format" not in state:
            raise ValueError(f"{where}: {STATE} records no checkpoint format; use another checkpoint of the run")
        if state["format"] != FORMAT:
            raise ValueError(f"{where} has checkpoint format {state['format']}, this hatebm reads format {FORMAT}: "
                             "upgrade hatebm to read it")
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
            info, streams, hat = DataInfo(**info), state["streams"], state["hat"]
            step = _number("step", state["step"], int)
            if hat is not None and not isinstance(hat, dict):
                raise TypeError("hat")
            if _number("world", state["world"], int) != len(streams):
                raise KeyError("world")
            lr_scale = _number("lr_scale", state.get("lr_scale", 1.0), float)
            origin = state.get("origin")
            if origin is not None and not isinstance(origin, str):
                raise TypeError("origin")
        except (KeyError, TypeError) as err:
            raise ValueError(f"{where}: {STATE} lacks or garbles {err}; use another checkpoint of the run") from None
        except ValueError as err:
            raise ValueError(f"{where}: {STATE}: {err}; use another checkpoint of the run") from None
        ranks = [_rank_state(tensors, f"rank{r}", stream) for r, stream in enumerate(streams)]
        nets: dict[str, dict[str, Tensor]] = {}
        for key, value in tensors.items():
            head, _, rest = key.partition(".")
            if head != "optim" and not RANK_KEY.fullmatch(head):
                nets.setdefault(head, {})[rest] = value
        optimizers = {name: (subdict(tensors, f"optim.{name}"), groups[name]) for name in groups}
        return cls(step, config, info, generator, hat, nets, optimizers, ranks, lr_scale, origin)


def _number(key: str, value: Any, tp: type) -> Any:
    """``value`` of the state.json entry ``key`` as ``tp`` (int or float), or the ValueError naming it."""
    try:
        return tp(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{key} is {value!r}, not a number") from None


def _rank_state(tensors: dict[str, Tensor], prefix: str, stream: dict[str, int]) -> RankState:
    own = subdict(tensors, prefix)
    bank = (own["bank.x"], own["bank.z"]) if "bank.x" in own else None
    return RankState(stream, {k: v for k, v in own.items() if k.startswith("rng.")}, bank)


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
    """Write ``ckpt`` into the run folder atomically and prune all but the newest ``keep`` (0 keeps all)."""
    return write_files(run_dir, ckpt.step, *ckpt.files(), keep=keep)


def load(path: str | Path, nets: tuple[str, ...] | None = None) -> Checkpoint:
    """Read a checkpoint (a checkpoint folder, or a run folder: its newest); with ``nets``, only those networks'
    weights (no optimiser states, RNG or bank: what sampling needs)."""
    folder = resolve(path)
    return Checkpoint.from_files(*read_files(folder, nets), where=str(folder))


def write_files(run_dir: str | Path, step: int, tensors: dict[str, Tensor | Lazy], state: dict[str, Any],
                keep: int = 0) -> Path:
    """Write the folder of step ``step`` atomically (temporary name, fsync, rename); prune to the newest ``keep``.
    :class:`hatebm.tensorfile.Lazy` tensors are made one at a time while the file is written.

    A write that fails (disk full, read-only, no permission) removes its temporary folder, leaves every earlier
    checkpoint as it was and raises one OSError saying so; any other failure removes the temporary folder too."""
    root = Path(run_dir) / "checkpoints"
    final = root / f"{PREFIX}{step:08d}"
    tmp = root / f"{TMP}{PREFIX}{step:08d}_{os.getpid()}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        tensorfile.save(tensors, tmp / TENSORS)
        (tmp / STATE).write_text(json.dumps({"step": step, **state}, indent=1))
        for f in (tmp / TENSORS, tmp / STATE):
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except (OSError, SafetensorError) as err:  # safetensors reports I/O errors as its own type, "(os error N)"
        shutil.rmtree(tmp, ignore_errors=True)
        earlier = list_checkpoints(run_dir)
        kept = f"the newest intact one is {earlier[-1]}" if earlier else "no earlier checkpoint exists"
        code = getattr(err, "errno", None) or int((re.findall(r"os error (\d+)", str(err)) or [errno.EIO])[0])
        raise OSError(code, f"could not write checkpoint {final} ({os.strerror(code)}); {kept}: free disk space or "
                            "fix permissions, then continue with --resume") from None
    except BaseException:  # a lazy tensor that could not be made (a corrupt source file), an interrupt
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if keep:
        for old in list_checkpoints(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def remove_stale(run_dir: str | Path) -> list[Path]:
    """Remove the temporary folders of checkpoint writes whose process is gone (killed mid-write); returns them."""
    root = Path(run_dir) / "checkpoints"
    stale = []
    for p in root.glob(f"{TMP}{PREFIX}*_*") if root.is_dir() else ():
        pid = p.name.rsplit("_", 1)[1]
        if not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(p, ignore_errors=True)
            stale.append(p)
    return stale


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process writes nothing yet: a folder with its pid is a dead process's, reused pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first (temporary folders are ignored)."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    done = [p for p in root.iterdir() if p.name.startswith(PREFIX) and (p / STATE).is_file() and (p / TENSORS).is_file()]
    return sorted(done, key=lambda p: int(p.name[len(PREFIX):]))


def resolve(path: str | Path) -> Path:
    """A checkpoint folder from itself or from a run folder (its newest checkpoint)."""
    p = Path(path)
    if (p / STATE).is_file():
        return p
    found = list_checkpoints(p)
    if not found:
        root = p / "checkpoints"
        folders = [q for q in sorted(root.glob(f"{PREFIX}*")) if q.is_dir()] if root.is_dir() else []
        folders += [p] if p.name.startswith(PREFIX) and p.is_dir() else []
        lacks = {q: " and ".join(f for f in (STATE, TENSORS) if not (q / f).is_file()) for q in folders}
        incomplete = "".join(f"; {q} is incomplete (it lacks {what})" for q, what in lacks.items())
        raise FileNotFoundError(f"no checkpoint at {p}: expected a checkpoint folder (with {STATE}) or a run folder "
                                f"with checkpoints/{PREFIX}*{incomplete}; train one with `hatebm train PRESET --out "
                                f"{p}`")
    return found[-1]


def read_files(path: str | Path, nets: tuple[str, ...] | None = None) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """The (tensors, state) of a checkpoint folder, or of a run folder's newest checkpoint; with ``nets``, only the
    tensors of those networks are read from the file."""
    folder = resolve(path)
    try:
        if nets is None:
            return load_file(str(folder / TENSORS)), json.loads((folder / STATE).read_text())
        with safe_open(str(folder / TENSORS), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys() if k.partition(".")[0] in nets}
        return tensors, json.loads((folder / STATE).read_text())
    except Exception as err:  # safetensors raises its own error type for corrupt headers
        raise _unreadable(folder, err) from None


def net_names(path: str | Path) -> set[str]:
    """The networks a checkpoint holds weights of (``hat``, ``hat_ema``, ...), from its file's header alone."""
    folder = resolve(path)
    try:
        with safe_open(str(folder / TENSORS), framework="pt") as f:
            heads = {k.partition(".")[0] for k in f.keys()}
    except Exception as err:  # safetensors raises its own error type for corrupt headers
        raise _unreadable(folder, err) from None
    return {h for h in heads if h != "optim" and not RANK_KEY.fullmatch(h)}


def _unreadable(folder: Path, err: Exception) -> ValueError:
    return ValueError(f"checkpoint {folder} is unreadable ({err}); use an earlier one from its checkpoints/ folder")


def subdict(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """Entries under ``prefix.`` with the prefix removed."""
    n = len(prefix) + 1
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
