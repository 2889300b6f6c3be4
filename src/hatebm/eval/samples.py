"""The samples to evaluate: uint8 images from an .npz or an image folder, or drawn on the fly from a checkpoint, each
with a record of where they came from (kept in the metrics' protocol).

Drawn samples are a seeded set (:func:`draw_set`, or :func:`write_set` straight into an .npz): image i comes from its
own seed, so the set is the same whatever the batch size, and under torchrun each rank draws its share and rank 0
receives the whole set (the others get None).
"""
from __future__ import annotations

import itertools
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np
import torch
from torch import nn

from hatebm import data
from hatebm.options import check_seed
from hatebm.distributed import any_rank, barrier, broadcast, rank_and_world, shard
from hatebm.eval.common import NpzWriter
from hatebm.model import collect

if TYPE_CHECKING:
    from hatebm.model import Model

DEFAULT_N = 1000
Source = str | os.PathLike | Callable[[int], Any]


def draw_set(model: Model, n: int, *, seed: int, steps: int | None = None, batch_size: int = 250,
             progress: bool = True, scratch: str | os.PathLike = ".", **overrides: Any) -> np.ndarray | None:
    """Images 0 .. n-1 of the sample set of ``seed`` (:meth:`Model.draw` with per-image seeds), each rank of a torchrun
    job drawing its share (:func:`set_chunks`); the whole set on rank 0, None on the other ranks. Host memory: the
    uint8 set on rank 0, a share on the others, and one batch."""
    with set_chunks(model, n, seed=seed, steps=steps, batch_size=batch_size, progress=progress, scratch=scratch,
                    **overrides) as chunks:
        return None if chunks is None else collect(chunks, n)


def write_set(model: Model, n: int, out: str | os.PathLike, *, seed: int, steps: int | None = None,
              batch_size: int = 250, progress: bool = True, head: int = 100,
              **overrides: Any) -> np.ndarray | None:
    """Write the set of :func:`draw_set` to the .npz ``out`` (array ``images``, or ``points`` for 2-D toys) as it
    is drawn, never holding it whole (shares of other ranks are read from disk in slices); returns its first ``head``
    items on rank 0, None on the other ranks. Host memory: one batch (and on rank 0, one slice of a share)."""
    out = Path(out)
    with set_chunks(model, n, seed=seed, steps=steps, batch_size=batch_size, progress=progress, scratch=out.parent,
                    **overrides) as chunks:
        if chunks is None:
            return None
        first = next(chunks)
        kept: list[np.ndarray] = []
        room = head
        with NpzWriter(out, "images" if first.dtype == np.uint8 else "points", n) as writer:
            for chunk in itertools.chain([first], chunks):
                writer.write(chunk)
                if room > 0:
                    kept.append(chunk[:room].copy())
                    room -= len(kept[-1])
            writer.close()
        return np.concatenate(kept)


@contextmanager
def set_chunks(model: Model, n: int, *, seed: int, steps: int | None = None, batch_size: int = 250,
               progress: bool = True, scratch: str | os.PathLike = ".",
               **overrides: Any) -> Iterator[Iterator[np.ndarray] | None]:
    """The sample set of ``seed`` in consecutive chunks, in image order, on rank 0 (None on the other ranks).

    One process yields its batches as they are drawn. Under torchrun each rank draws its share and writes it as an .npy
    file into a folder under ``scratch`` (which every rank must reach: a shared file system across nodes; checked
    before drawing), and rank 0 reads the shares back in slices; images never go through a collective. Rank 0 removes
    the folder on leaving, whatever happened."""
    if n < 1:
        raise ValueError(f"the number of samples n must be at least 1, got {n}")
    rank, world = rank_and_world()
    if world == 1:
        yield model.batches(n, steps, batch_size, progress, seed=seed, **overrides)
        return
    part = shard(n)
    folder = Path(scratch) / f".hatebm_samples_{broadcast(uuid.uuid4().hex if rank == 0 else None)}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f".probe_{rank:05d}").touch()
        failed = 0
    except OSError:
        failed = 1
    if any_rank(failed)[0]:
        raise OSError(f"cannot write the ranks' shares of the sample set under {scratch}: every rank must be able to "
                      "write there (a shared file system across nodes); pass another output folder")
    try:
        if part:
            mine = model.draw(len(part), steps, batch_size, progress, seed=seed, start=part.start, **overrides)
            np.save(folder / f".part_{rank:05d}.npy", mine)
            os.replace(folder / f".part_{rank:05d}.npy", folder / f"part_{rank:05d}.npy")
            del mine
        barrier()
        yield _shares(folder, n, world) if rank == 0 else None
    finally:  # a rank that fails ends the torchrun job; rank 0 removes the folder whatever happened
        if rank == 0:
            shutil.rmtree(folder, ignore_errors=True)


def _shares(folder: Path, n: int, world: int, slice_size: int = 1024) -> Iterator[np.ndarray]:
    """The ranks' share files in rank order, in slices of ``slice_size`` images; every share must be there and the
    set complete."""
    expected = [r for r in range(world) if len(shard(n, r, world))]
    missing = [r for r in expected if not (folder / f"part_{r:05d}.npy").is_file()]
    if missing:
        raise OSError(f"the shares of rank(s) {missing} are missing from {folder}: the ranks do not share that folder "
                      "(pass an output folder on a file system every node mounts)")
    shares = [np.load(folder / f"part_{r:05d}.npy", mmap_mode="r") for r in expected]
    total = sum(map(len, shares))
    if total != n:
        raise OSError(f"the ranks' shares in {folder} hold {total} images, not {n}")
    for share in shares:
        for i in range(0, len(share), slice_size):
            yield np.asarray(share[i:i + slice_size])


def from_callable(source: Model | Callable[[int], Any], n: int = DEFAULT_N, *, seed: int = 0,
                  progress: bool = True) -> tuple[np.ndarray | None, dict[str, Any]]:
    """`n` uint8 samples of a `hatebm.model.Model` (its seeded set, :func:`draw_set`: None on ranks other than 0 of a
    torchrun job) or of any function of n returning images (uint8 N×H×W×C, or a float tensor N×C×H×W in [-1, 1]),
    called after seeding torch with `seed`, and their source record."""
    from hatebm.model import Model

    check_seed(seed)
    record = {"callable": getattr(source, "__qualname__", type(source).__name__), "seed": seed, "n": n}
    if isinstance(source, Model):
        return draw_set(source, n, seed=seed, progress=progress), record
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        out = source(n)
    images = data.to_uint8(out.detach()) if isinstance(out, torch.Tensor) else np.asarray(out)
    if images.dtype != np.uint8 or len(images) != n:
        raise ValueError(f"the sample source returned {images.dtype} {images.shape}: it must give {n} uint8 N×H×W×C "
                         "images or a float tensor N×C×H×W in [-1, 1]")
    return images, record


def sample_checkpoint(
    path: str | os.PathLike, n: int = DEFAULT_N, *, steps: int | None = None, seed: int = 0,
    device: str | torch.device | None = None, batch_size: int = 250, progress: bool = True,
    hat: nn.Module | str | None = None, generator: nn.Module | str | None = None, trust_generator: bool = False,
) -> tuple[np.ndarray | None, dict[str, Any]]:
    """`n` uint8 samples of a run folder's newest checkpoint (or a checkpoint folder): the sample set of `seed`
    (:func:`draw_set`; None on ranks other than 0 of a torchrun job) of the run's sampler with `steps` Langevin steps
    (default the model's evaluation steps), and how they were made: {"checkpoint", "step", "steps", "seed", "n"}.
    Runs trained with their own networks need them again: `hat` / `generator` as modules or "module:function"
    factories (see `hatebm.model.load_model`); a generator the checkpoint records as a TorchScript file or a factory
    loads only when `generator` names it or with `trust_generator`."""
    from hatebm.checkpoint import resolve
    from hatebm.model import load_model

    folder = resolve(path)
    model = load_model(folder, device or "auto", hat=hat, generator=generator, trust_generator=trust_generator)
    if model.config.model.arch == "mlp":
        raise ValueError(f"{path} is a 2-D toy model: its samples are points, not images")
    run = folder.parent.parent if folder.parent.name == "checkpoints" else folder
    samples = draw_set(model, n, seed=seed, steps=steps, batch_size=batch_size, progress=progress, scratch=run)
    used = model.sampler.steps if steps is None else steps
    return samples, {"checkpoint": str(folder), "step": model.step, "steps": used, "seed": seed, "n": n}


def load_samples(
    path: Source, n: int | None = None, *, steps: int | None = None, seed: int = 0,
    device: str | torch.device | None = None, progress: bool = True, hat: nn.Module | str | None = None,
    generator: nn.Module | str | None = None, trust_generator: bool = False, n_name: str = "n",
) -> tuple[np.ndarray | None, dict[str, Any]]:
    """(uint8 N×H×W×C samples, their source) from an .npz (array `images`), a folder of image files (PNG, ...), or a
    run or checkpoint folder: then `n` (default 1000) samples are drawn on the fly (`sample_checkpoint`, with
    `steps`, `seed`, `device`, `hat`, `generator` and `trust_generator`; under torchrun, None on ranks other than
    0); or a `Model` or a function of n (`from_callable`). For files, `n` keeps the first n images; errors name it
    `n_name`."""
    if not isinstance(path, (str, os.PathLike)):
        return from_callable(path, DEFAULT_N if n is None else n, seed=seed, progress=progress)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no samples at {path}: pass an .npz holding uint8 images (array `images`), a "
                                "folder of PNG images, or a run or checkpoint folder to sample from")
    if path.suffix == ".safetensors" or (path.is_dir() and any(path.rglob("*.safetensors"))):
        if n is not None and n < 2:  # before drawing: every metric of a set needs two images
            raise ValueError(f"{n_name} must be at least 2 samples to draw from {path}, got {n}")
        folder = path.parent if path.is_file() else path
        return sample_checkpoint(folder, DEFAULT_N if n is None else n, steps=steps, seed=seed, device=device,
                                 progress=progress, hat=hat, generator=generator, trust_generator=trust_generator)
    kind = "npz" if not path.is_dir() else "prepared" if (path / "manifest.json").is_file() else "folder"
    images = data.load_images(kind, root=path)
    if n is not None:
        if not 2 <= n <= len(images):
            raise ValueError(f"{n_name} must be between 2 and the {len(images)} samples in {path}, got {n}")
        images = images[:n]
    return images, {"path": str(path), "n": len(images)}
