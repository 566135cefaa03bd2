"""The run's training images as the loop reads them: uint8 levels in, float [-1, 1] minibatches out.

A data set is anything with ``labels``, ``__len__`` and ``cache.at(resolution)`` (uint8 N×3×H×W): the
:class:`~gancore.data.ImageData` of :func:`gancore.data.build_dataset`, or a paper's own bank of images (alphaGAN's
training half). The loop's batch order is :class:`~gancore.data.BatchStream`'s, so resume stays exact.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gancore.config import RunConfig

__all__ = ["NoData", "RealImages", "build_data"]


def build_data(cfg: RunConfig, *, resolution: int):
    """The run's training set as an :class:`~gancore.data.ImageData`; a dry run on real data decodes nothing."""
    from gancore.data import build_dataset

    if cfg.dry_run and cfg.dataset != "shapes":
        return None
    size = min(cfg.dataset_size, 64) if cfg.dry_run else cfg.dataset_size
    return build_dataset(cfg.dataset, resolution=resolution, data_dir=cfg.data_dir, size=size,
                         seed=cfg.seed, download=cfg.download, strict=cfg.strict_images)


class NoData:
    """Stands in for real data in a dry run with cifar10/folder: nothing is decoded."""

    labels = torch.zeros(1, dtype=torch.long)

    def __len__(self) -> int:
        return 1


class RealImages:
    """Real minibatches from a data set's uint8 levels, as float [-1, 1] on the training device.

    A level is copied to ``device`` once when it fits in ``device_budget_bytes`` (then batches are indexed on the
    GPU with no host transfer); larger levels, e.g. 30k CelebA-HQ images at 1024² (94 GB), stay on the host and only
    each minibatch is transferred.
    """

    def __init__(self, *, data: Any, device: torch.device | None = None, device_budget_bytes: int = 2 << 30):
        self.data = data
        self.labels = data.labels
        self._levels: dict[int, Tensor] = {}
        self._device = device
        self._budget = device_budget_bytes

    def __len__(self) -> int:
        return len(self.data)

    def level(self, resolution: int | None = None) -> Tensor:
        resolution = resolution or self.data.cache.resolution
        if resolution not in self._levels:
            lv = self.data.cache.at(resolution)
            fits = lv.numel() * lv.element_size() <= self._budget
            self._levels[resolution] = lv.to(self._device) if self._device is not None and fits else lv
        return self._levels[resolution]

    def batch(self, idx: Tensor, *, resolution: int | None = None, device: torch.device,
              flip: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Reals for indices ``idx`` at ``resolution`` (default: the top level); ``flip`` (bool per image) mirrors
        those images left-right (ProGAN App. G)."""
        lv = self.level(resolution)
        x = lv[idx.to(lv.device)].to(device, non_blocking=True).float().div_(127.5).sub_(1.0)
        if flip is not None and bool(flip.any()):
            x = torch.where(flip.to(device).view(-1, 1, 1, 1), x.flip(-1), x)
        labels = self.labels[idx].to(device, non_blocking=True)
        return x, labels


def training_images(data: Any, device: torch.device) -> Any:
    """What the loop draws from: the data's levels (moved to a CUDA device when they fit), or :class:`NoData`."""
    if data is None:
        return NoData()
    return RealImages(data=data, device=device if device.type == "cuda" else None)
