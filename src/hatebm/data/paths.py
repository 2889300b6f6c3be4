"""Where datasets live: the cache folder, the folders searched for a dataset, and the error for missing data."""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

SPLITS = ("train", "test")


def cache_dir() -> Path:
    """The hatebm cache folder: `$HATEBM_CACHE`, or `~/.cache/hatebm`."""
    return Path(os.environ.get("HATEBM_CACHE") or "~/.cache/hatebm").expanduser()


def search_dirs(subdir: str, root: str | Path | None, extra: Iterable[Path] = ()) -> list[Path]:
    """Folders that may hold dataset `subdir`, in the order they are tried.

    An explicit `root` is authoritative: only `root` and `root/subdir` are tried, so a wrong root never silently
    falls back to other data. Without it: `$HATEBM_DATA/subdir`, `cache_dir()/subdir`, then `extra`.
    """
    if root is not None:
        return [Path(root).expanduser(), Path(root).expanduser() / subdir]
    dirs = [Path(os.environ["HATEBM_DATA"]) / subdir] if os.environ.get("HATEBM_DATA") else []
    return [*dirs, cache_dir() / subdir, *extra]


def find_dir(dirs: Iterable[Path], files: Iterable[str]) -> Path | None:
    """The first folder of `dirs` holding every one of `files`, or None."""
    files = tuple(files)
    return next((d for d in dirs if all((d / f).is_file() for f in files)), None)


def check_split(dataset: str, split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"{dataset}: unknown split {split!r}; use one of {', '.join(SPLITS)}")


def missing_error(dataset: str, files: Iterable[str], dirs: Iterable[Path], howto: str) -> FileNotFoundError:
    """One error naming the files needed, every folder looked in, and how to provide the data."""
    looked = ", ".join(str(d) for d in dirs)
    return FileNotFoundError(
        f"{dataset} not found: need {', '.join(files)}; looked in: {looked}. To provide it: {howto}"
    )
