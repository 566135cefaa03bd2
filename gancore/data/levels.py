"""Lower resolutions of uint8 images by repeated 2×2 average pooling (ProGAN §2, Fig. 2), computed when needed.

ProGAN's D sees real images "downsampled to match the current resolution of the network". Instead of a stored
pyramid, a level is computed from the top-level images (a training batch on the device, or a slice of the data for
metrics): the *unrounded* float chain is pooled and rounded once per level. Every intermediate value is exact in
float32 (a level-k value is a sum of 4^k bytes over a power of two, and 255·4^8 < 2^24 up to 1024→4), so the result
does not depend on the device, the batch or the order of the sums: it equals, bit for bit, the uint8 pyramid that
:class:`~gancore.data.MultiResCache` stores.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["pooled", "pooled_uint8"]

# Images pooled per step on the CPU: bounds the float32 temporary to ~200 MB even at 1024×1024.
_CHUNK_PIXELS = 1 << 24


def pooled(images: Tensor, resolution: int) -> Tensor:
    """uint8 (or integer-valued float) N×3×R×R → float N×3×r×r holding the rounded level-r values (0..255)."""
    top = images.shape[-1]
    if resolution > top or top % resolution or (top // resolution) & (top // resolution - 1):
        raise ValueError(f"resolution {resolution} is not a power-of-two fraction of the images' {top}")
    x = images.float()
    if resolution == top:
        return x
    while x.shape[-1] > resolution:
        x = F.avg_pool2d(x, 2)
    # round() is round-half-to-even, so ties carry no brightness bias.
    return x.round_()


def pooled_uint8(images: Tensor, resolution: int) -> Tensor:
    """uint8 N×3×R×R → uint8 N×3×r×r, pooled in chunks (a slice of a data set for metrics or figures)."""
    top = images.shape[-1]
    if resolution == top:
        return images
    out = torch.empty(images.shape[0], 3, resolution, resolution, dtype=torch.uint8)
    chunk = max(1, _CHUNK_PIXELS // (top * top))
    for a in range(0, images.shape[0], chunk):
        out[a:a + chunk] = pooled(images[a:a + chunk], resolution).clamp_(0, 255).to(torch.uint8)
    return out
