"""Reading streamed items without raising where the reader runs: a DataLoader worker's exception reaches the training
process wrapped in a multi-line report ("Caught ValueError in DataLoader worker process 0. Original Traceback ..."),
so a file that cannot be read comes back as an :class:`Unreadable` item in place of its image, and the training
process decides what to do with it (:class:`hatebm.train.stream.LoaderStream`: stop with one line, or skip it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch.utils.data import Dataset

from hatebm.data.prepared import FolderImages


@dataclass(frozen=True)
class Unreadable:
    """An item that could not be read: the error's message, and whether it is an image file of a folder that
    ``data.bad_images=skip`` may leave out (a broken prepared folder is not)."""

    message: str
    skippable: bool
    file: str = ""  # the image file, for folders


class Guarded(Dataset):
    """``dataset`` whose items are :class:`Unreadable` where reading raises ValueError or OSError."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: Any) -> Any:
        try:
            return self.dataset[key]
        except (ValueError, OSError) as err:
            if isinstance(self.dataset, FolderImages) and isinstance(err, ValueError):
                return Unreadable(str(err), True, str(self.dataset.file(key)))
            return Unreadable(str(err), False)
