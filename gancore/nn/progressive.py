"""ProGAN's generator stem and feature-map ladder (Table 2, App. A.1–A.2), shared by every growing model (ProGAN's
nets and DGGAN's growable ones)."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gancore.nn.equalized import EqualizedLinear

BASE_RESOLUTION = 4  # every growing model starts from a 4×4 feature map


def resolution_ladder(resolution: int) -> list[int]:
    """[4, 8, ..., resolution]; `resolution` must be a power of two >= 4."""
    if not isinstance(resolution, int) or resolution < BASE_RESOLUTION or resolution & (resolution - 1):
        raise ValueError(f"resolution must be a power of two >= {BASE_RESOLUTION} (4, 8, ..., 1024), got {resolution!r}")
    return [2**k for k in range(2, int(math.log2(resolution)) + 1)]


def progan_channels(resolution: int, *, fmap_base: int = 8192, fmap_max: int = 512, fmap_min: int = 1,
                    low_capacity: bool = False) -> dict[int, int]:
    """Feature maps per resolution, {4: n4, 8: n8, ..., resolution: n_res} (ProGAN Table 2, App. A.2).

    n_r = clamp(fmap_base / (r / 2), fmap_min, fmap_max), which for the defaults gives Table 2: 512 for 4..32, then
    256@64, 128@128, 64@256, 32@512, 16@1024. n_r is the width of every feature map that lives at resolution r
    (G: both Conv 3×3 outputs of block r; D: fromRGB_r and the first Conv 3×3 of block r, whose second conv outputs
    n_{r/2} before the downsample, mirroring G).

    low_capacity (App. A.2, the §6.1 / Table 1 networks): "halve the number of feature maps in Conv 3×3 layers at the
    16×16 resolution, and divide by 4 in the subsequent resolutions". Interpreted per resolution: n_r unchanged for
    r < 16, n_16 / 2, and n_r / 4 for r > 16 (each clamped to >= fmap_min). At 128² this gives
    512, 512, 256, 128, 64, 32 — the "32 feature maps to the last Conv 3×3 layers" the paper states.
    """
    if min(fmap_base, fmap_max, fmap_min) < 1 or fmap_min > fmap_max:
        raise ValueError(f"need 1 <= fmap_min <= fmap_max and fmap_base >= 1, got fmap_base={fmap_base}, "
                         f"fmap_max={fmap_max}, fmap_min={fmap_min}")
    out = {}
    for r in resolution_ladder(resolution):
        n = min(max(fmap_base // (r // 2), fmap_min), fmap_max)
        if low_capacity and r >= 16:
            n = max(n // (2 if r == 16 else 4), fmap_min)
        out[r] = n
    return out


class LatentProjection(nn.Module):
    """Table 2's generator "Conv 4×4": latent (N×D) → N×C×4×4, as a dense layer with one bias per channel.

    A 4×4 transposed convolution of a 1×1 input is exactly this dense map. The gain is sqrt(2)/4 as in the official
    implementation: the original "full" 4×4 conv had fan-in D·16, so gain sqrt(2)/sqrt(D·16) = (sqrt(2)/4)/sqrt(D);
    keeping that constant keeps the first layer's output scale (and its Adam step size) as in the paper.

    Args:
        latent_dim: D, the latent size.
        channels: C, the feature maps at 4×4.
        equalized: runtime weight scaling (ProGAN §4.1) or plain He init (App. A.2 baseline).
    """

    def __init__(self, *, latent_dim: int, channels: int, equalized: bool = True) -> None:
        super().__init__()
        self.channels = channels
        self.dense = EqualizedLinear(in_features=latent_dim, out_features=channels * 16, bias=False,
                                     gain=math.sqrt(2) / 4, equalized=equalized)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, z: Tensor) -> Tensor:
        return self.dense(z).view(-1, self.channels, 4, 4) + self.bias.view(1, -1, 1, 1)
