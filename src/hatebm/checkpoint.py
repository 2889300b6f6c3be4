"""Atomic checkpoints (DESIGN §6): one folder per checkpoint, never a pickle.

``<run>/checkpoints/step_00000100/`` holds ``tensors.safetensors`` (network weights under ``hat.``/``generator.``,
optimiser state under ``optim.<name>.``, the bank, RNG states and any other tensors) and ``state.json`` (step, the
resolved config, optimiser hyper-parameters, sampler settings and other plain values). The folder is written under a
temporary name and renamed into place, so a crash never leaves a half-written checkpoint behind.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

STATE, TENSORS, PREFIX = "state.json", "tensors.safetensors", "step_"


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


def save(run_dir: str | Path, step: int, tensors: dict[str, Tensor], state: dict[str, Any], keep: int = 0) -> Path:
    """Write a checkpoint atomically and prune all but the newest ``keep`` (0 keeps all)."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{PREFIX}{step:08d}"
    tmp = root / f".tmp_{PREFIX}{step:08d}_{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp / TENSORS))
    (tmp / STATE).write_text(json.dumps({"step": step, **state}, indent=1))
    for f in (tmp / TENSORS, tmp / STATE):
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    if keep:
        for old in list_checkpoints(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


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
        raise FileNotFoundError(f"no checkpoint at {p}: expected a checkpoint folder (with {STATE}) or a run folder "
                                f"with checkpoints/{PREFIX}*; train one with `hatebm train PRESET --out {p}`")
    return found[-1]


def load(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Read a checkpoint (folder or run folder) into (tensors, state)."""
    ckpt = resolve(path)
    try:
        return load_file(str(ckpt / TENSORS)), json.loads((ckpt / STATE).read_text())
    except Exception as err:  # safetensors raises its own error type for corrupt headers
        raise ValueError(f"checkpoint {ckpt} is unreadable ({err}); use an earlier one from its checkpoints/ folder") from None


def subdict(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """Entries under ``prefix.`` with the prefix removed."""
    n = len(prefix) + 1
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def prefixed(prefix: str, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    return {f"{prefix}.{k}": v for k, v in tensors.items()}
