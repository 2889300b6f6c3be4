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
from hatebm.tf_import.layout import Family, convert


@dataclass
class AdamState:
    """Adam's state in the flat form of :func:`hatebm.checkpoint.flatten_optimizer` and the averaged weights."""

    moments: dict[str, Tensor | Lazy]
    average: dict[str, Tensor | Lazy]


def _arrays(path: str | Path) -> list[np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = sorted(npz.files, key=lambda n: int(n[4:]) if n.startswith("arr_") and n[4:].isdigit() else -1)
            if not names or any(not n.startswith("arr_") for n in names):
                raise ValueError(f"its arrays are {sorted(npz.files)[:5]}, not the positional arr_0, arr_1, ... of "
                                 "np.savez(path, *optimizer.get_weights())")
            return [npz[n] for n in names]
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"--optim {path} is not a readable .npz file ({err})") from None
    except ValueError as err:
        raise ValueError(f"--optim {path}: {err}") from None


def read_optimizer(path: str | Path, hat_tf: TFCheckpoint, family: Family, hat: nn.Module) -> AdamState:
    """Adam's moments and step and the averaged weights of the hat in ``path``, checked against the hat's shapes."""
    arrays = _arrays(path)
    params = [name for name, _ in hat.named_parameters()]
    n = len(params)
    if len(arrays) != 1 + 3 * n:
        raise ValueError(f"--optim {path} holds {len(arrays)} arrays; the optimiser of this hat network (from "
                         f"{hat_tf.prefix}, {n} trainable variables) has {1 + 3 * n}: the step counter and an "
                         "average, m and v per variable")
    average, moments_m, moments_v = arrays[1:1 + n], arrays[1 + n:1 + 2 * n], arrays[1 + 2 * n:]
    if np.asarray(arrays[0]).size != 1:
        raise ValueError(f"--optim {path}: arr_0 has shape {list(np.shape(arrays[0]))}, not the step counter's []")
    step = float(np.asarray(arrays[0]).reshape(()))
    moments: dict[str, Tensor | Lazy] = {}
    averaged: dict[str, Tensor | Lazy] = {}
    for i, name in enumerate(params):
        stored = tuple(hat_tf.entry(family.tf_key(name)).shape)
        for what, values in (("average", average), ("m", moments_m), ("v", moments_v)):
            if tuple(values[i].shape) != stored:
                raise ValueError(f"--optim {path}: array {what} {i} has shape {list(values[i].shape)}, but the hat's "
                                 f"variable {family.tf_key(name)!r} is {list(stored)}; pass the optimiser file saved "
                                 "with this checkpoint")
        averaged[name] = torch.from_numpy(convert(name, average[i]))
        moments[f"{i}.step"] = torch.tensor(step)
        moments[f"{i}.exp_avg"] = torch.from_numpy(convert(name, moments_m[i]))
        moments[f"{i}.exp_avg_sq"] = torch.from_numpy(convert(name, moments_v[i]))
    return AdamState(moments, averaged)
