"""How the authors' Keras networks (point0bar1/hat-ebm ``nets.py``) lie in their checkpoints, and how each variable
becomes a hatebm state-dict entry.

Keras ``save_weights`` names a variable by its attribute path in the subclassed model, e.g.
``block2/conv_1/kernel/.ATTRIBUTES/VARIABLE_VALUE``. Layouts differ from PyTorch's: convolution kernels are HWIO
(PyTorch: OIHW), dense kernels [in, out] (PyTorch: [out, in]), and Keras batch norm adds epsilon 1e-3 to the variance
where PyTorch adds 1e-5. hatebm's generators keep PyTorch's epsilon, so the importer stores the moving variance plus
the difference (1e-3 - 1e-5): ``(x - m) / sqrt((v + 1e-3 - 1e-5) + 1e-5)`` is Keras's normalisation, exact up to one
float32 rounding of the variance. Every other layer is the same operation in both codes (checked against TF outputs
by ``tests/tf_import``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
KERAS_BN_EPS, TORCH_BN_EPS = 1e-3, 1e-5
BN_EPS_SHIFT = np.float32(KERAS_BN_EPS - TORCH_BN_EPS)
_LAYER = {"conv1": "conv_1", "conv2": "conv_2", "sc": "sc", "bn1": "bn_1", "bn2": "bn_2"}
_BN = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}


@dataclass(frozen=True)
class Family:
    """One kind of the authors' networks: ``kind`` is ``hat``, ``generator``, ``decoder`` or ``encoder``."""

    kind: str
    resolution: int

    @property
    def blocks(self) -> int:
        """Residual blocks of the network at this resolution (the encoder and decoder are the 32-px autoencoder's)."""
        if self.kind in ("encoder", "decoder"):
            return 4
        up = {32: 3, 64: 4, 128: 5}[self.resolution]
        return up + 1 if self.kind == "hat" else up

    def block_name(self, i: int) -> str:
        """The Keras attribute of hatebm's block ``i`` (``blocks.i``)."""
        if self.kind == "hat":
            return "conv_1" if i == 0 else f"block{i + 1}"
        return f"block{i + 2}" if self.kind == "generator" else f"block{i + 1}"

    def tf_key(self, torch_key: str) -> str:
        """The checkpoint key holding hatebm's state-dict entry ``torch_key`` (see :func:`convert`)."""
        parts = torch_key.split(".")
        last = self.blocks + (1 if self.kind == "hat" else 2 if self.kind == "generator" else 1)
        if parts[0] == "blocks":
            path = [self.block_name(int(parts[1])), _LAYER[parts[2]]]
            layer, param = parts[2], parts[3]
        else:
            layer, param = parts[0], parts[1]
            path = [{"fc": f"lin_{last}" if self.kind == "hat" else "lin_1", "bn": f"bn_{last}",
                     "conv": f"conv_{last}", "to_latent": "conv2latent"}[layer]]
        if layer.startswith("bn"):
            name = _BN[param]
        else:
            name = "kernel" if param == "weight" else param
        return "/".join([*path, name]) + SUFFIX


def converted_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape :func:`convert` gives a variable of ``shape``."""
    return shape[::-1] if len(shape) == 2 else (shape[3], shape[2], *shape[:2]) if len(shape) == 4 else shape


def convert(torch_key: str, value: np.ndarray) -> np.ndarray:
    """A Keras variable in hatebm's layout for the state-dict entry ``torch_key`` (a new C-ordered float32 array)."""
    value = np.asarray(value, dtype=np.float32)
    if value.ndim == 4:  # conv kernel HWIO -> OIHW
        return np.ascontiguousarray(value.transpose(3, 2, 0, 1))
    if value.ndim == 2:  # dense kernel [in, out] -> [out, in]
        return np.ascontiguousarray(value.T)
    if torch_key.endswith("running_var"):
        return value + BN_EPS_SHIFT
    return value.copy()


def widths(kind: str, shapes: dict[str, tuple[int, ...]], resolution: int) -> dict[str, int]:
    """The widths and sizes of a checkpoint's network, read from its variables' shapes: ``channels`` (image
    channels), ``width`` (the ``ngf`` of nets.py), and for generators ``latent_dim`` or for the autoencoder
    ``latent_channels``. KeyError names a variable the family must have, ValueError one of an impossible shape."""
    fam = Family(kind, resolution)

    def shape(torch_key: str) -> tuple[int, ...]:
        key = fam.tf_key(torch_key)
        found = tuple(shapes[key])
        if len(found) != (2 if torch_key == "fc.weight" else 4) or min(found) < 1:
            raise ValueError(f"the variable {key!r} has shape {list(found)}, not that of a "
                             f"{'dense' if len(found) == 2 else 'convolution'} kernel")
        return found

    if kind == "hat":
        return {"width": shape("fc.weight")[0], "channels": shape("blocks.0.conv1.weight")[2]}
    if kind == "generator":
        dense = shape("fc.weight")
        if dense[1] % 16:
            raise ValueError(f"the variable {fam.tf_key('fc.weight')!r} has {dense[1]} outputs, not 4 x 4 x width")
        return {"width": dense[1] // 16, "latent_dim": dense[0], "channels": shape("conv.weight")[3]}
    if kind == "decoder":
        first = shape("blocks.0.conv1.weight")
        return {"width": first[3], "latent_channels": first[2], "channels": shape("conv.weight")[3]}
    first = shape("blocks.0.conv1.weight")
    return {"width": first[3], "channels": first[2], "latent_channels": shape("to_latent.weight")[3]}


STEP = re.compile(r"_(\d+)\.ckpt$")


def step_of(prefix: str) -> int:
    """The training step in the authors' file names (``ebm_25000.ckpt``: saved after step 25000), else 0."""
    found = STEP.search(str(prefix))
    return int(found.group(1)) if found else 0
