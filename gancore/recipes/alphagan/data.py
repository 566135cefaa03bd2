"""alphaGAN's images: the run's images at exactly its resolution, and §5.1's train/validation split."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gancore.engine.data import build_data
from gancore.recipes.alphagan.config import AlphaGANConfig


class ImageBank:
    """uint8 images at the run's resolution with their labels, held in memory and read by the loop like any data
    set (one level: alphaGAN trains at one resolution)."""

    in_memory = True

    def __init__(self, *, images: Tensor, labels: Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    @property
    def resolution(self) -> int:
        return self.images.shape[-1]

    stored_resolution = resolution

    def top(self) -> Tensor:
        return self.images

    def subset(self, idx: Tensor) -> "ImageBank":
        return ImageBank(images=self.images[idx], labels=self.labels[idx])

    def batch(self, idx: Tensor, *, device: torch.device) -> tuple[Tensor, Tensor]:
        """Images ``idx`` as float [-1, 1] on ``device``, and their labels (the search's validation batches)."""
        x = self.images[idx].to(device).float().div_(127.5).sub_(1.0)
        return x, self.labels[idx].to(device)


def build_images(cfg: AlphaGANConfig) -> ImageBank | None:
    """The training images at ``cfg.resolution``. A resolution that is not a power of two (STL-10's 48², §5.2) is
    rendered or loaded at the next power of two and area-resized, as the paper resizes STL-10's 96² images."""
    res = cfg.resolution
    source = res if res & (res - 1) == 0 else 1 << res.bit_length()
    data = build_data(cfg, resolution=source)
    if data is None:
        return None
    images = data.images(source)
    if source != res:
        resized = [F.interpolate(images[i:i + 512].float(), size=(res, res), mode="area")
                   for i in range(0, len(images), 512)]
        images = torch.cat(resized).round_().clamp_(0, 255).to(torch.uint8)
    return ImageBank(images=images, labels=data.labels)


def split_halves(n: int, *, val_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """§5.1's random split of the training set into a training and a validation half (seeded, disjoint)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 5_000_011))
    n_val = max(1, min(n - 1, int(round(n * val_fraction))))
    return perm[n_val:].sort().values, perm[:n_val].sort().values
