"""Resampling and counting, shared by every model (ProGAN App. A.1: 2×2 replication up, 2×2 average pooling down)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def count_params(module: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable, by default) parameters, as in ProGAN Table 2's "Total trainable parameters"."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _require_4d(x: Tensor, name: str) -> None:
    if x.dim() != 4:
        raise ValueError(f"{name} expects an N×C×H×W tensor, got shape {tuple(x.shape)}")


# ---------------------------------------------------------------------------------------------------------------------
# Resampling — ProGAN App. A.1
# ---------------------------------------------------------------------------------------------------------------------
def upsample2x(x: Tensor) -> Tensor:
    """Nearest-neighbour 2× upsampling, i.e. 2×2 element replication (ProGAN App. A.1, Fig. 2 "[2×]")."""
    _require_4d(x, "upsample2x")
    return F.interpolate(x, scale_factor=2, mode="nearest")


def downsample2x(x: Tensor) -> Tensor:
    """2×2 average pooling (ProGAN App. A.1, Fig. 2 "[0.5×]"). H and W must be even."""
    _require_4d(x, "downsample2x")
    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"downsample2x needs even H and W, got {tuple(x.shape[-2:])}")
    return F.avg_pool2d(x, kernel_size=2)


class Upsample2x(nn.Module):
    """Module form of `upsample2x`, so it can sit inside an nn.Sequential block (ProGAN Table 2 "Upsample").

    ``fused`` (set by gancore.nn.fused_scale.fuse_upsample): the next convolution upsamples itself, so this passes
    its input through."""

    def __init__(self) -> None:
        super().__init__()
        self.fused = False

    def forward(self, x: Tensor) -> Tensor:
        return x if self.fused else upsample2x(x)


class Downsample2x(nn.Module):
    """Module form of `downsample2x`, so it can sit inside an nn.Sequential block (ProGAN Table 2 "Downsample")."""

    def forward(self, x: Tensor) -> Tensor:
        return downsample2x(x)
