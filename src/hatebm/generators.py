"""Frozen generators for the joint Hat EBM (§3.2), from any of three sources, checked against the data at start-up.

- a hatebm run or checkpoint folder holding a generator (``hatebm pretrain gan|ae``, a tandem or joint run);
- a TorchScript file (``torch.jit.save``); pickled modules are never loaded;
- a factory ``package.module:function`` returning an ``nn.Module``, with its safetensors state dict;
- an ``nn.Module`` passed to :func:`hatebm.train` (:func:`custom_generator`).

Every source is described by a JSON ``spec`` that rebuilds the architecture (:mod:`hatebm.checkpoint` lists them);
checkpoints store the spec and the generator's weights, so hatebm-native generators need nothing but the checkpoint
and a user's own module needs only itself passed again.

No code from files: a checkpoint whose spec is ``torchscript`` (loads the file it names) or ``factory`` (imports and
calls the function it names) is only rebuilt when the user names that generator (``generator=`` of
:func:`hatebm.load_model`, ``--generator``; ``generator.source`` of a joint run naming the file or factory itself) or
trusts the checkpoint (``trust=True`` here, ``trust_generator=True`` of :func:`hatebm.load_model`,
``--trust-generator``); anything else is one ValueError naming the spec and both ways to allow it. ``hatebm`` specs
always load: they build a hatebm network from the config.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from hatebm import checkpoint as ckpt
from hatebm.checkpoint import Checkpoint, GeneratorSpec
from hatebm.config import ModelConfig
from hatebm.nets import build_generator

FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass
class LoadedGenerator:
    """A frozen generator (eval mode, no parameter requires a gradient) with its latent shape and the spec that
    rebuilds it (see :func:`build_from_spec`)."""

    module: nn.Module
    latent_shape: tuple[int, ...]
    spec: dict[str, Any]
    sphere: bool = False  # latents of an autoencoder decoder live on the sphere of radius sqrt(m)

    def record(self) -> GeneratorSpec:
        """What a checkpoint stores to rebuild this generator."""
        return GeneratorSpec(self.spec, self.latent_shape, self.sphere)


def _native(model: dict[str, Any]) -> nn.Module:
    return build_generator(ModelConfig.build(model))


def native_spec(model: ModelConfig) -> dict[str, Any]:
    """The spec of the hatebm generator that ``model`` describes."""
    return {"type": "hatebm", "model": model.model_dump()}


def custom_spec(module: nn.Module) -> dict[str, Any]:
    """The spec of a user's own network: its class, for the error that asks for it when a run is loaded again."""
    return {"type": "custom", "class": f"{type(module).__module__}.{type(module).__qualname__}"}


def module_latent_shape(module: nn.Module, given: Sequence[int] | None = None) -> tuple[int, ...] | None:
    """``given``, else the module's ``latent_shape`` or ``latent_dim`` attribute, as a tuple (None when unknown)."""
    shape = given or getattr(module, "latent_shape", None) or getattr(module, "latent_dim", None)
    if shape is None:
        return None
    return tuple(int(s) for s in shape) if isinstance(shape, (tuple, list)) else (int(shape),)


def custom_generator(module: nn.Module, latent_shape: Sequence[int] | None = None) -> LoadedGenerator:
    """A user's generator module, frozen, with its latent shape (``latent_shape``, else the module's attributes)."""
    shape = module_latent_shape(module, latent_shape)
    if shape is None:
        raise ValueError(f"the latent shape of the generator {type(module).__name__} is unknown: give it a "
                         "latent_shape (or latent_dim) attribute, or set generator.latent_shape")
    return LoadedGenerator(_freeze(module), shape, custom_spec(module))


def call_factory(name: str, what: str = "generator") -> nn.Module:
    """The module that the factory ``package.module:function`` returns when called with no arguments."""
    if not FACTORY.match(name):
        raise ValueError(f"{what} factory must be package.module:function, got {name!r}")
    module_name, fn_name = name.split(":")
    try:
        fn = getattr(importlib.import_module(module_name), fn_name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"cannot import {what} factory {name!r} ({err}); make {module_name} importable "
                         f"(installed or on PYTHONPATH) and define {fn_name}() returning the {what}") from None
    module = fn()
    if not isinstance(module, nn.Module):
        raise ValueError(f"{what} factory {name} returned {type(module).__name__}, not a torch.nn.Module")
    return module


UNTRUSTED = ("torchscript", "factory")  # spec types that run code named by the checkpoint


def spec_target(spec: dict[str, Any]) -> str | None:
    """What a ``torchscript`` or ``factory`` spec loads (its path or its ``package.module:function``), else None."""
    if spec.get("type") == "torchscript":
        return str(spec.get("path"))
    if spec.get("type") == "factory":
        return str(spec.get("factory"))
    return None


def untrusted_error(spec: dict[str, Any], what: str, allow: str | None = None) -> ValueError:
    """The error for a ``torchscript`` / ``factory`` spec that was neither named nor trusted: it names the spec and
    the ways to allow it (``allow``, by default those of :func:`hatebm.load_model` and the CLI)."""
    target = spec_target(spec)
    runs = (f"the TorchScript file {target}, which would load and run that file" if spec["type"] == "torchscript"
            else f"the factory {target}, which would import that module and call that function")
    allow = allow or (f"name it yourself (Python: load_model(..., generator={target!r}); CLI: --generator {target}) "
                      "or trust the checkpoint (Python: trust_generator=True; CLI: --trust-generator)")
    return ValueError(f"{what} records its generator as {runs}; a checkpoint never runs code it names unless you "
                      f"allow it: only if you trust {what}, {allow}")


def _torchscript(path: str) -> nn.Module:
    try:
        return torch.jit.load(path, map_location="cpu")
    except Exception as err:  # torch raises RuntimeError or its own errors for non-TorchScript files
        raise ValueError(f"{path} is not a TorchScript file ({str(err).splitlines()[0]}); save the generator with "
                         "torch.jit.save(torch.jit.script(G), path) or pass package.module:function with "
                         "generator.weights=FILE.safetensors (pickled modules are not loaded)") from None


def _freeze(module: nn.Module) -> nn.Module:
    for p in module.parameters():  # parameter by parameter: ScriptModules refuse module.requires_grad_
        p.requires_grad_(False)
    return module.eval()


def named_generator(generator: nn.Module | str) -> nn.Module:
    """The generator a user names: a module, a TorchScript file's path, or ``package.module:function`` (called with
    no arguments)."""
    if isinstance(generator, nn.Module):
        return generator
    if Path(generator).is_file():
        return _torchscript(str(generator))
    if FACTORY.match(generator):
        return call_factory(generator)
    raise ValueError(f"generator {generator!r} is neither a TorchScript file nor a package.module:function factory")


def build_from_spec(spec: dict[str, Any], trust: bool = False, what: str = "this checkpoint",
                    allow: str | None = None) -> nn.Module:
    """The generator architecture a spec describes (weights as initialised; TorchScript files carry their own).

    ``torchscript`` and ``factory`` specs run code that the spec names: without ``trust`` they raise
    :func:`untrusted_error` (``what`` names the checkpoint, ``allow`` the ways to allow it)."""
    if spec.get("type") == "hatebm" and isinstance(spec.get("model"), dict):
        return _native(spec["model"])
    if spec.get("type") in UNTRUSTED and not trust:
        raise untrusted_error(spec, what, allow)
    if spec.get("type") == "torchscript":
        return _torchscript(spec["path"])
    if spec.get("type") == "factory":
        return call_factory(spec["factory"])
    if spec.get("type") == "custom":
        raise ValueError(f"this run's generator is the user-defined {spec['class']}: pass it again (Python: "
                         "generator=MODULE; CLI: --generator MODULE:FUNCTION returning one)")
    raise ValueError(f"{what} records an unknown generator spec {spec!r} (types: hatebm, torchscript, factory, "
                     "custom); use another checkpoint")


def load_weights(module: nn.Module, tensors: dict[str, Tensor], what: str, net: str = "generator") -> None:
    """Load a state dict strictly, as one clear error naming missing and unexpected keys."""
    try:
        module.load_state_dict(tensors)
    except RuntimeError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = " ".join([lines[0].rstrip(":") + ":", *lines[1:2]])
        detail = detail if len(detail) <= 300 else detail[:300] + "..."
        raise ValueError(f"the weights in {what} do not fit the {net}: {detail} "
                         "(check that the factory builds the architecture the weights were saved from)") from None


def generator_from_checkpoint(checkpoint: Checkpoint, what: str, module: nn.Module | None = None,
                              trust: bool = False, allow: str | None = None) -> LoadedGenerator:
    """The generator saved in a checkpoint, rebuilt from its spec (or ``module``, the network the user names: a
    user's own network of the run, or the recorded TorchScript file / factory loaded by the user) with its weights,
    frozen. A ``torchscript`` / ``factory`` spec is only followed with ``trust`` (see :func:`build_from_spec`)."""
    record = checkpoint.generator
    module = module if module is not None else build_from_spec(record.spec, trust, what, allow)
    load_weights(module, checkpoint.nets.get("generator", {}), what)
    return LoadedGenerator(_freeze(module), record.latent_shape, record.spec, record.sphere)


def load_generator(source: str, weights: str | None = None, latent_shape: Sequence[int] | None = None,
                   trust: bool = False, trust_hint: str = "pass trust=True to load_generator") -> LoadedGenerator:
    """Load the generator ``source`` (a hatebm run/checkpoint folder, a TorchScript file, or ``package.module:function``
    with the safetensors state dict ``weights``), frozen.

    A TorchScript file or a factory given as ``source`` is named by the caller and loads. A run/checkpoint folder
    whose generator is recorded as a TorchScript file or a factory is refused unless ``trust`` (the error says how to
    allow it: ``trust_hint``, e.g. "set <the config key of trust>", or name the file / factory as the source);
    hatebm-native generators of a folder always load.

    The latent shape comes from ``latent_shape``, else from the checkpoint, else from the module's ``latent_shape`` or
    ``latent_dim`` attribute; TorchScript files and factories without such attributes need it given.
    """
    path = Path(source)
    if path.is_dir():
        if weights is not None:
            raise ValueError(f"generator.weights applies to package.module:function factories, not to the "
                             f"checkpoint {source}, which holds its own weights")
        try:
            saved = ckpt.load(path, nets=("generator",))  # its weights alone, not a bank or optimiser states
        except FileNotFoundError as err:
            raise FileNotFoundError(f"generator source {source}: {err}") from None
        target = spec_target(saved.generator.spec)
        allow = (f"{trust_hint}, or name it yourself: generator.source={target}" +
                 (" with generator.weights=FILE.safetensors (its state dict)"
                  if saved.generator.spec.get("type") == "factory" else ""))
        loaded = generator_from_checkpoint(saved, what=source, trust=trust, allow=allow)
        if latent_shape and tuple(latent_shape) != loaded.latent_shape:
            raise ValueError(f"generator.latent_shape={list(latent_shape)} but the checkpoint {source} says "
                             f"{list(loaded.latent_shape)}; drop generator.latent_shape")
        return loaded
    if path.is_file():
        module, spec = _torchscript(source), {"type": "torchscript", "path": str(path.resolve())}
    elif FACTORY.match(source):
        if weights is None:
            raise ValueError(f"the generator factory {source} needs its weights: set generator.weights=FILE.safetensors"
                             " (a state dict saved with safetensors.torch.save_file(G.state_dict(), FILE))")
        module, spec = call_factory(source), {"type": "factory", "factory": source}
    else:
        raise FileNotFoundError(f"generator source {source!r} not found: pass a hatebm run or checkpoint folder, a "
                                "TorchScript file, or package.module:function with generator.weights=FILE.safetensors")
    if weights is not None:
        if not Path(weights).is_file():
            raise FileNotFoundError(f"generator weights {weights} not found (expected a .safetensors state dict)")
        try:
            tensors = load_file(weights)
        except Exception as err:  # safetensors raises its own error type for files that are not safetensors
            raise ValueError(f"generator weights {weights} are not a readable .safetensors state dict ({err}); save "
                             "them with safetensors.torch.save_file(G.state_dict(), FILE)") from None
        load_weights(module, tensors, weights)
    shape = module_latent_shape(module, latent_shape)
    if shape is None:
        raise ValueError(f"the latent shape of generator {source} is unknown: set generator.latent_shape "
                         "(e.g. 128 for vectors, 1,16,16 for image-shaped latents)")
    return LoadedGenerator(_freeze(module), shape, spec)


@torch.no_grad()
def check_generator(gen: LoadedGenerator, image_shape: Sequence[int], name: str = "the generator",
                    n: int = 8, max_abs: float = 3.0) -> None:
    """Probe the generator with ``n`` latents from N(0, I) and raise one clear ValueError when its latent shape, output
    shape (vs ``image_shape``: the data's [C, H, W] at model resolution, or [D] for points) or output range does not fit
    the data.

    Outputs must be finite; images must lie within ``[-max_abs, max_abs]`` (tanh x 1 or x 2 generators are fine) and
    take negative values (a generator of [0, 1] or [0, 255] images needs a wrapper mapping to [-1, 1]).
    """
    device = next(iter(gen.module.parameters()), torch.empty(0)).device
    z = torch.randn(n, *gen.latent_shape, device=device)
    try:
        x = gen.module(z)
    except Exception as err:  # any failure of foreign code on these latents is a shape/config problem
        raise ValueError(f"{name} fails on latents of shape {list(gen.latent_shape)} ({str(err).splitlines()[0]}); "
                         "set generator.latent_shape to the shape it expects") from None
    expected = tuple(int(s) for s in image_shape)
    if not isinstance(x, Tensor) or tuple(x.shape) != (n, *expected):
        found = tuple(x.shape[1:]) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} maps latents {list(gen.latent_shape)} to images of shape {found}, but the data are "
                         f"{expected} (C, H, W at model resolution): match model.channels / model.resolution to the "
                         "generator, or choose another generator")
    lo, hi = x.min().item(), x.max().item()
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} outputs non-finite values on latents from N(0, I)")
    if len(expected) == 3 and not (-max_abs <= lo and hi <= max_abs and lo < 0):
        raise ValueError(f"{name} outputs values in [{lo:.3g}, {hi:.3g}], but images here are in [-1, 1] "
                         f"(generator outputs may reach ±{max_abs:g}): wrap it to map its images to [-1, 1]")
