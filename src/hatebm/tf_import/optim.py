"""The authors' optimiser files: ``np.savez(path, *optimizer.get_weights())`` of tfa's ``MovingAverage`` wrapped
around Keras's (legacy) Adam, as their ``utils.save_model`` writes ``ebm_optim_N.npz``.

The positional arrays (as TF 2.15 with tensorflow-addons 0.23 writes them, tests/fixtures/tf_reference) are the step
counter, one ``average`` slot per trainable variable, Adam's first moments ``m`` for every variable, then its second
moments ``v``: 1 + 3n arrays, variables in the model's ``trainable_variables`` order, which for the authors' hat
networks is hatebm's parameter order (conv_1, conv_2, shortcut per block, then the final dense). The average slot is
the only copy of the moving average of the weights (their decay 0.9999).

Keras's Adam keeps the same biased moments as PyTorch's (``m``, ``v`` are ``exp_avg``, ``exp_avg_sq``); its epsilon
(1e-7) is added to ``sqrt(v)`` before the bias correction, PyTorch's (1e-8) after it, which changes an update by
less than 1e-7 relative wherever sqrt(v) is above 1e-5.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from hatebm.tensorfile import Lazy
from hatebm.tf_import.bundle import TFCheckpoint
from hatebm.tf_import.layout import Family, convert, converted_shape


@dataclass
class AdamState:
    """Adam's state in the flat form of :func:`hatebm.checkpoint.flatten_optimizer` and the averaged weights."""

    moments: dict[str, Tensor | Lazy]
    average: dict[str, Tensor | Lazy]


class _Npz:
    """The positional arrays of an .npz file, their shapes read from the headers and their data only on demand (an
    optimiser file holds three times the network's weights)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            with zipfile.ZipFile(self.path) as zf:
                names = [n.removesuffix(".npy") for n in zf.namelist() if n.endswith(".npy")]
                if not names or any(not (n.startswith("arr_") and n[4:].isdigit()) for n in names):
                    raise ValueError(f"its arrays are {sorted(names)[:5]}, not the positional arr_0, arr_1, ... of "
                                     "np.savez(path, *optimizer.get_weights())")
                self.names = sorted(names, key=lambda n: int(n[4:]))
                self.shapes = [self._header(zf, n) for n in self.names]
        except (OSError, zipfile.BadZipFile, EOFError) as err:
            raise ValueError(f"--optim {path} is not a readable .npz file ({err})") from None
        except ValueError as err:
            raise ValueError(f"--optim {path}: {err}") from None

    @staticmethod
    def _header(zf: zipfile.ZipFile, name: str) -> tuple[int, ...]:
        with zf.open(name + ".npy") as f:
            major, _ = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
        if dtype.hasobject:
            raise ValueError(f"{name} holds Python objects, not numbers")
        return tuple(shape)

    def read(self, i: int) -> np.ndarray:
        with zipfile.ZipFile(self.path) as zf, zf.open(self.names[i] + ".npy") as f:
            return np.lib.format.read_array(f, allow_pickle=False)


def read_optimizer(path: str | Path, hat_tf: TFCheckpoint, family: Family, hat: nn.Module) -> AdamState:
    """Adam's moments and step and the averaged weights of the hat in ``path``, checked against the hat's shapes now
    and read while the checkpoint is written."""
    npz = _Npz(path)
    params = [name for name, _ in hat.named_parameters()]
    n = len(params)
    if len(npz.names) != 1 + 3 * n:
        raise ValueError(f"--optim {path} holds {len(npz.names)} arrays; the optimiser of this hat network (from "
                         f"{hat_tf.prefix}, {n} trainable variables) has {1 + 3 * n}: the step counter and an "
                         "average, m and v per variable")
    if npz.shapes[0] not in ((), (1,)):
        raise ValueError(f"--optim {path}: arr_0 has shape {list(npz.shapes[0])}, not the step counter's []")
    step = torch.tensor(float(npz.read(0).reshape(())))
    moments: dict[str, Tensor | Lazy] = {}
    averaged: dict[str, Tensor | Lazy] = {}
    for i, name in enumerate(params):
        stored = tuple(hat_tf.entry(family.tf_key(name)).shape)
        slots = {what: 1 + k * n + i for k, what in enumerate(("average", "m", "v"))}
        for what, j in slots.items():
            if npz.shapes[j] != stored:
                raise ValueError(f"--optim {path}: array {npz.names[j]} ({what}) has shape {list(npz.shapes[j])}, but "
                                 f"the hat's variable {family.tf_key(name)!r} is {list(stored)}; pass the optimiser "
                                 "file saved with this checkpoint")
        shape = converted_shape(stored)

        def lazy(j: int, name: str = name, shape: tuple[int, ...] = shape) -> Lazy:
            return Lazy(torch.float32, shape, lambda: convert(name, npz.read(j)))

        averaged[name] = lazy(slots["average"])
        moments[f"{i}.step"] = step
        moments[f"{i}.exp_avg"] = lazy(slots["m"])
        moments[f"{i}.exp_avg_sq"] = lazy(slots["v"])
    return AdamState(moments, averaged)
