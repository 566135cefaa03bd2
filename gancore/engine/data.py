"""The run's training images as the loop reads them: uint8 at the top resolution in, float [-1, 1] minibatches out.

A data set is an :class:`~gancore.data.ImageData` (in memory, or a prepared store streamed from disk) or anything
with the same reading interface (alphaGAN's training half). The loop's batch order is
:class:`~gancore.data.BatchStream`'s, so resume stays exact whatever the data lives in.

- In memory: a minibatch is indexed from memory (on a CUDA run, from a copy on the GPU when it fits).
- Streamed: reader threads ``pread`` the next minibatch from the store into pinned memory while the current step
  runs (the loop tells :meth:`RealImages.prefetch` which items come next; a guess that turns out wrong is read
  again, so the order never changes), and the copy to the GPU is ``non_blocking``.
- Lower resolutions (ProGAN's growth) are 2×2-pooled from the top level on the device
  (:func:`gancore.data.levels.pooled`): the same values a stored pyramid holds, bit for bit.
- Conversion to float and normalization happen on the device.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch
from torch import Tensor

from gancore.config import RunConfig
from gancore.data.levels import pooled

__all__ = ["NoData", "RealImages", "build_data", "training_images"]


def build_data(cfg: RunConfig, *, resolution: int):
    """The run's training set as an :class:`~gancore.data.ImageData` (prepared into a store on first use when it
    comes from files); a dry run on real data decodes nothing."""
    from gancore.data import build_dataset
    from gancore.distributed import info

    if cfg.dry_run and cfg.dataset != "shapes":
        return None
    size = min(cfg.dataset_size, 64) if cfg.dry_run else cfg.dataset_size
    return build_dataset(cfg.dataset, resolution=resolution, data_dir=cfg.data_dir, size=size, seed=cfg.seed,
                         download=cfg.download, strict=cfg.strict_images, max_images=cfg.max_images,
                         in_memory=cfg.data_in_memory, store_dir=cfg.store_dir or None,
                         on_changed=cfg.data_changed, progress=info().is_main)


class NoData:
    """Stands in for real data in a dry run with cifar10/folder: nothing is decoded."""

    labels = torch.zeros(1, dtype=torch.long)

    def __len__(self) -> int:
        return 1


class RealImages:
    """Real minibatches from a data set, as float [-1, 1] on the training device (see the module docstring).

    Data held in memory is copied to a CUDA ``device`` once when it fits in ``device_budget_bytes`` (then batches
    are indexed on the GPU with no host transfer); larger data stays on the host and only each minibatch moves.
    ``workers`` reader threads prefetch from a store (0: read in the training thread)."""

    def __init__(self, *, data: Any, device: torch.device | None = None, device_budget_bytes: int = 2 << 30,
                 workers: int = 0):
        self.data, self.labels = data, data.labels
        self._placed: Tensor | None = None
        if data.in_memory and device is not None and data.top().numel() <= device_budget_bytes:
            self._placed = data.top().to(device)
        self._pin = device is not None and device.type == "cuda"
        self._workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers) if workers and not data.in_memory else None
        self._ahead: tuple[Tensor, Tensor, list[Future]] | None = None

    def __len__(self) -> int:
        return len(self.data)

    @property
    def prefetches(self) -> bool:
        return self._pool is not None

    @property
    def source_device(self) -> torch.device:
        """Where minibatches are indexed from: the GPU copy of in-memory data, else the host."""
        return self._placed.device if self._placed is not None else torch.device("cpu")

    def prefetch(self, idx: Tensor) -> None:
        """Start reading items ``idx`` (what the loop expects to ask for next) in the reader threads."""
        if self._pool is None:
            return
        res = self.data.stored_resolution
        out = torch.empty(len(idx), 3, res, res, dtype=torch.uint8, pin_memory=self._pin)
        parts = [p for p in torch.arange(len(idx)).chunk(self._workers) if len(p)]
        futures = [self._pool.submit(self.data.store.read_into, idx[p].numpy(), out[p[0]:p[-1] + 1].numpy())
                   for p in parts]
        self._ahead = (idx, out, futures)

    def read(self, idx: Tensor, device: torch.device) -> Tensor:
        """uint8 images ``idx`` at the stored resolution, on ``device``."""
        if self._placed is not None:
            return self._placed[idx.to(self._placed.device)].to(device, non_blocking=True)
        if self.data.in_memory:
            return self.data.top()[idx].to(device, non_blocking=True)
        ahead, self._ahead = self._ahead, None
        if ahead is not None and torch.equal(ahead[0], idx):
            for future in ahead[2]:
                future.result()
            batch = ahead[1]
        else:  # no guess, or a wrong one (the request size changed): read now
            if ahead is not None:
                for future in ahead[2]:
                    future.result()  # its threads write into a buffer nobody will read; let them finish first
            batch = self.data.read(idx, pin=self._pin)
        return batch.to(device, non_blocking=True)

    def batch(self, idx: Tensor, *, resolution: int | None = None, device: torch.device,
              flip: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Reals for items ``idx`` at ``resolution`` (default: the data's top); ``flip`` (bool per image) mirrors
        those images left-right (ProGAN App. G)."""
        images = self.read(idx, device)
        x = pooled(images, resolution or self.data.resolution).div_(127.5).sub_(1.0)
        if flip is not None and bool(flip.any()):
            x = torch.where(flip.to(device).view(-1, 1, 1, 1), x.flip(-1), x)
        labels = self.labels[idx].to(device, non_blocking=True)
        return x, labels

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def training_images(data: Any, device: torch.device, *, workers: int = 0) -> Any:
    """What the loop draws from: the data set's reader (or :class:`NoData` in a dry run on real data)."""
    if data is None:
        return NoData()
    return RealImages(data=data, device=device if device.type == "cuda" else None, workers=workers)
