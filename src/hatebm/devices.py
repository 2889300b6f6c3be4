"""The one meaning of ``device="auto"`` across hatebm (CUDA when it is available, else the CPU), the CPU thread
count a process should use, and how a network is compiled."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn


def resolve_device(device: str | torch.device | None = "auto") -> str | torch.device:
    """``"auto"`` (or None) as ``"cuda"`` or ``"cpu"``; any other device unchanged, once checked: a name torch does not
    know, or a CUDA device this machine lacks, is one ValueError naming it."""
    if device is None or device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"unknown device {str(device)!r} (--device, or the config key device): use auto, cpu, cuda "
                         "or cuda:N") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device {str(device)!r} (--device, or the config key device) needs a CUDA GPU, and this "
                             "torch sees none: use cpu or auto")
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(f"device {str(device)!r} (--device, or the config key device): this machine has "
                             f"{count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
    return device


def cpu_threads(environ: Mapping[str, str] | None = None, cgroup: str | os.PathLike = "/sys/fs/cgroup/cpu.max") -> int:
    """Threads one process should use on the CPU: ``$OMP_NUM_THREADS`` where set, else the cores this process may run
    on (its affinity mask, capped by a cgroup v2 CPU quota such as ``docker --cpus``, which torch's default ignores),
    shared among the ``$LOCAL_WORLD_SIZE`` ranks of a torchrun job on this machine; at least 1."""
    environ = os.environ if environ is None else environ
    if threads := _count(environ, "OMP_NUM_THREADS"):
        return threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = Path(cgroup).read_text().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota to honour
    return max(1, cores // (_count(environ, "LOCAL_WORLD_SIZE") or 1))


def _count(environ: Mapping[str, str], key: str) -> int | None:
    """``environ[key]`` as a positive int; None when unset or not one."""
    value = environ.get(key, "")
    return int(value) if value.isdigit() and int(value) > 0 else None


class Compiled(nn.Module):
    """``net`` compiled with ``torch.compile`` (``backend``, dynamic shapes: one graph serves every batch size, so the
    chains, the updates, figures and the last, smaller batch of a sample set recompile nothing). A graph that fails to
    compile runs eagerly instead (dynamo's ``suppress_errors``, with torch's warning), set around this module's calls
    only, never process-wide. Its state dict is ``net``'s (under ``net.``)."""

    def __init__(self, net: nn.Module, backend: str = "inductor") -> None:
        super().__init__()
        self.net = net
        object.__setattr__(self, "_fn", torch.compile(net, dynamic=True, backend=backend))  # not a submodule

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        with torch._dynamo.config.patch(suppress_errors=True):
            return self._fn(*args, **kwargs)


def compiled(net: nn.Module, backend: str = "inductor") -> nn.Module:
    """``net`` compiled (:class:`Compiled`), so that compiling never stops a run or a sampler that would run without
    it."""
    return Compiled(net, backend)
