"""A training set behind one interface, whether its images are held in memory or streamed from a prepared store.

:class:`ImageData` answers what training and evaluation ask of data: its size, labels and class names, the images of
given items at the top resolution (:meth:`ImageData.read`, what the loader pools on the device to any lower one),
and the first ``n`` images at any resolution (:meth:`ImageData.images`, for metrics and figures). Small data (the
shapes at reduced scale, CIFAR-10) lives in memory; large data stays on disk and is read row by row. Sent to
another process (a Ray worker), a store-backed set travels as its path and is opened there.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gancore.data.levels import pooled_uint8
from gancore.data.store import StoreReader

__all__ = ["ImageData"]


class ImageData:
    """uint8 images N×3×R×R (R = ``resolution``, a power of two), int64 labels and class names."""

    def __init__(self, *, labels: Tensor, class_names: list[str], name: str, images: Tensor | None = None,
                 store: StoreReader | None = None, resolution: int | None = None):
        if (images is None) == (store is None):
            raise ValueError("an ImageData holds either images (in memory) or a store (on disk)")
        self._images, self.store = images, store
        self.labels, self.class_names, self.name = labels, list(class_names), name
        self.stored_resolution = images.shape[-1] if images is not None else store.resolution
        self.resolution = resolution or self.stored_resolution  # served: lower than stored for CIFAR-10 at 16²

    @classmethod
    def open(cls, folder: str | Path, *, resolution: int | None = None, in_memory: bool = False,
             name: str | None = None) -> "ImageData":
        """A prepared store, read from disk, or loaded whole into memory (``in_memory``)."""
        store = StoreReader(folder)
        kind, names = store.meta["kind"], store.meta["class_names"]
        labels = torch.from_numpy(store.labels)
        if in_memory:
            images = torch.from_numpy(np.ascontiguousarray(store.memmap()[store.valid]))
            return cls(labels=labels, class_names=names, name=name or kind, images=images, resolution=resolution)
        return cls(labels=labels, class_names=names, name=name or kind, store=store, resolution=resolution)

    def __len__(self) -> int:
        return len(self.labels)

    def __reduce__(self):
        if self.store is not None:  # a worker opens the store by path instead of receiving its bytes
            return _reopen, (str(self.store.folder), self.resolution, self.name)
        return object.__reduce__(self)

    @property
    def in_memory(self) -> bool:
        return self._images is not None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def nbytes(self) -> int:
        """Bytes of the stored images (in memory, or on disk)."""
        return self._images.numel() if self._images is not None else self.store.nbytes

    @property
    def resolutions(self) -> list[int]:
        return [2 ** k for k in range(2, self.resolution.bit_length())]

    def top(self) -> Tensor:
        """The images at the stored resolution, all of them: in memory, or a memory map of the store."""
        if self._images is not None:
            return self._images
        rows = self.store.valid
        array = self.store.memmap()
        if len(rows) == array.shape[0] and (len(rows) == 0 or rows[-1] == len(rows) - 1):
            return torch.from_numpy(array)  # every row decoded: the map itself, pages read when touched
        return torch.from_numpy(array[rows])  # pragma: no cover - skipped files: a copy of the valid rows

    def read(self, idx: Tensor, *, pin: bool = False) -> Tensor:
        """uint8 images ``idx`` at the stored resolution, on the CPU (in pinned memory with ``pin``)."""
        if self._images is not None:
            out = self._images[idx]
            return out.pin_memory() if pin else out
        res = self.stored_resolution
        out = torch.empty(len(idx), 3, res, res, dtype=torch.uint8, pin_memory=pin)
        self.store.read_into(idx.numpy(), out.numpy())
        return out

    def images(self, resolution: int | None = None, n: int | None = None) -> Tensor:
        """The first ``n`` images (default all) at ``resolution`` (default the served top), pooled from the top
        level (2×2 averages of the unrounded chain, :mod:`gancore.data.levels`)."""
        resolution = resolution or self.resolution
        if resolution not in self.resolutions + [self.resolution]:
            raise ValueError(f"resolution={resolution!r} is not available; valid values are "
                             f"{self.resolutions}")
        n = len(self) if n is None else min(n, len(self))
        if self._images is not None:
            first = self._images[:n]
        elif resolution == self.stored_resolution:
            return self.top()[:n]
        else:
            first = self.read(torch.arange(n))
        return pooled_uint8(first, resolution)

    def select(self, idx: Tensor, resolution: int | None = None) -> Tensor:
        """uint8 images of items ``idx`` at ``resolution`` (default the served top)."""
        return pooled_uint8(self.read(idx), resolution or self.resolution)

    @property
    def cache(self) -> "_Levels":
        """Levels by resolution (``cache.at(r)``: every image at r), as the in-memory pyramid of earlier versions
        offered them; prefer :meth:`images`, which pools only the images asked for."""
        return _Levels(self)


class _Levels:
    def __init__(self, data: ImageData):
        self._data = data

    @property
    def resolution(self) -> int:
        return self._data.resolution

    @property
    def resolutions(self) -> list[int]:
        return self._data.resolutions

    def __len__(self) -> int:
        return len(self._data)

    def at(self, resolution: int) -> Tensor:
        if resolution not in self.resolutions:
            raise ValueError(f"resolution={resolution!r} is not in the cache; valid values are {self.resolutions}")
        if not self._data.in_memory and resolution != self._data.stored_resolution:
            warnings.warn(f"pooling every image of a streamed data set to {resolution}²; ask images(resolution, n) "
                          "for the ones you need", stacklevel=2)
        return self._data.images(resolution)


def _reopen(folder: str, resolution: int, name: str) -> ImageData:
    return ImageData.open(folder, resolution=resolution, name=name)
