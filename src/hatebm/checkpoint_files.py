"""The files of a checkpoint folder (:mod:`hatebm.checkpoint` holds its schema): atomic writes from one process or
from every rank of a job, reads, listing, pruning and the clean-up of interrupted writes.

``<run>/checkpoints/step_00000100/`` holds the shared files ``tensors.safetensors`` and ``state.json`` (rank 0's)
and one ``rank<r>.safetensors`` per rank of the job (that rank's own state). A folder is written under a temporary
name, ``.tmp_step_00000100_<pid of rank 0>``, and renamed into place once every file in it is written and synced, so
a checkpoint folder is always whole: a crash leaves a temporary folder (removed by :func:`remove_stale`), never a
checkpoint that lacks a rank's file. In a job each rank writes its own file into that folder: no tensor passes
between ranks.
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping

from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from torch import Tensor

from hatebm import tensorfile
from hatebm.distributed import any_rank, broadcast, rank_and_world
from hatebm.tensorfile import Lazy

STATE, TENSORS, PREFIX, TMP = "state.json", "tensors.safetensors", "step_", ".tmp_"
Tensors = Mapping[str, "Tensor | Lazy"]


def rank_file(rank: int) -> str:
    """The name of rank ``rank``'s file in a checkpoint folder."""
    return f"rank{rank}.safetensors"


def write_files(run_dir: str | Path, step: int, tensors: Tensors, state: dict[str, Any],
                ranks: Mapping[int, Tensors] | None = None, keep: int = 0) -> Path:
    """Write the folder of step ``step`` atomically (temporary name, fsync, rename): ``tensors`` and ``state`` as its
    shared files and each ``ranks[r]`` as rank r's file; prune to the newest ``keep`` (0 keeps all).
    :class:`hatebm.tensorfile.Lazy` tensors are made one at a time while the file is written.

    In a torchrun job every rank calls it with its own entry of ``ranks`` (the other ranks' ``tensors`` and ``state``
    are not written): each writes its file into the temporary folder rank 0 made, then rank 0 writes the shared files
    and renames the folder. Only rank 0's folder name and one flag per stage pass between the ranks.

    A write that fails on any rank (disk full, read-only, no permission) raises one OSError on every rank, removes the
    temporary folder and leaves every earlier checkpoint as it was; any other failure removes the folder too."""
    root = Path(run_dir) / "checkpoints"
    final = root / f"{PREFIX}{step:08d}"
    main = rank_and_world()[0] == 0
    tmp = root / broadcast(f"{TMP}{PREFIX}{step:08d}_{os.getpid()}")  # rank 0's name (with its pid) on every rank

    def make() -> None:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()

    def own() -> None:
        for r, rank_tensors in (ranks or {}).items():
            _write(rank_tensors, tmp / rank_file(r))

    def commit() -> None:
        _write(tensors, tmp / TENSORS)
        (tmp / STATE).write_text(json.dumps({"step": step, **state}, indent=1))
        _fsync(tmp / STATE)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)

    for work in (make if main else None, own, commit if main else None):
        _together(work, run_dir, final, tmp, main)
    if keep and main:
        for old in list_checkpoints(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _write(tensors: Tensors, path: Path) -> None:
    tensorfile.save(tensors, path)
    _fsync(path)


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _together(work: Callable[[], None] | None, run_dir: str | Path, final: Path, tmp: Path, main: bool) -> None:
    """Run this rank's ``work`` (None: nothing), then learn whether any rank's failed (a collective every rank calls
    in the same order); if one did, rank 0 removes ``tmp`` and every rank raises."""
    failure: BaseException | None = None
    try:
        if work is not None:
            work()
    except BaseException as err:  # a lazy tensor that could not be made (a corrupt source file), an interrupt, I/O
        failure = err
    if not any_rank(int(failure is not None))[0]:
        return
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
    if failure is not None and not isinstance(failure, (OSError, SafetensorError)):
        raise failure
    earlier = list_checkpoints(run_dir)
    kept = f"the newest intact one is {earlier[-1]}" if earlier else "no earlier checkpoint exists"
    if failure is None:
        raise OSError(errno.EIO, f"could not write checkpoint {final}: another rank failed to write its file (its "
                                 f"error says why); {kept}: fix that, then continue with --resume")
    # safetensors reports I/O errors as its own type, "(os error N)"
    code = getattr(failure, "errno", None) or int((re.findall(r"os error (\d+)", str(failure)) or [errno.EIO])[0])
    raise OSError(code, f"could not write checkpoint {final} ({os.strerror(code)}); {kept}: free disk space or fix "
                        "permissions, then continue with --resume") from None


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
    """The shared (tensors, state) of a checkpoint folder, or of a run folder's newest checkpoint; with ``nets``, only
    the tensors of those networks are read from the file. Rank files are read by :func:`read_rank`."""
    folder = resolve(path)
    try:
        if nets is None:
            return load_file(str(folder / TENSORS)), json.loads((folder / STATE).read_text())
        with safe_open(str(folder / TENSORS), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys() if k.partition(".")[0] in nets}
        return tensors, json.loads((folder / STATE).read_text())
    except Exception as err:  # safetensors raises its own error type for corrupt headers
        raise _unreadable(folder, err) from None


def read_rank(folder: Path, rank: int) -> dict[str, Tensor]:
    """The tensors of rank ``rank``'s file in the checkpoint folder ``folder``; one ValueError naming the file if it
    is missing or unreadable."""
    path = folder / rank_file(rank)
    if not path.is_file():
        raise ValueError(f"checkpoint {folder} lacks {path.name}, rank {rank}'s bank shard, RNG and data position "
                         f"(each rank writes its own file into the folder): copy the checkpoint folder whole, or move "
                         "it out of checkpoints/ to resume from an earlier one")
    try:
        return load_file(str(path))
    except Exception as err:  # safetensors raises its own error type for corrupt headers
        raise ValueError(f"checkpoint {folder}: {path.name} is unreadable ({err}); move the folder out of "
                         "checkpoints/ to resume from an earlier one") from None


def net_names(path: str | Path) -> set[str]:
    """The networks a checkpoint holds weights of (``hat``, ``hat_ema``, ...), from its file's header alone."""
    folder = resolve(path)
    try:
        with safe_open(str(folder / TENSORS), framework="pt") as f:
            heads = {k.partition(".")[0] for k in f.keys()}
    except Exception as err:  # safetensors raises its own error type for corrupt headers
        raise _unreadable(folder, err) from None
    return heads - {"optim"}


def _unreadable(folder: Path, err: Exception) -> ValueError:
    return ValueError(f"checkpoint {folder} is unreadable ({err}); use an earlier one from its checkpoints/ folder")
