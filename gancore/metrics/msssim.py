"""MS-SSIM among pairs of generated images (Odena et al. 2017; ProGAN §6.1, Table 1).

A *diversity* statistic: the mean multi-scale SSIM over random pairs of distinct generated
images. Lower means more varied output; a collapsed generator scores near 1.

Per-pair MS-SSIM comes from the ``pytorch_msssim`` library (data range 255, Gaussian window
with σ = 1.5, the standard five scale weights of Wang et al. 2003). Small images need fewer
scales and a smaller window, chosen by :func:`msssim_settings`:

- side ≥ 176: the library defaults, 11-px window and all 5 scales;
- otherwise a 7-px window and as many scales as keep the coarsest side ≥ 7, capped at 5
  (16 px → 2 scales, 32 → 3, 64 → 4, 128 → 5). With fewer than 5 scales the first k standard
  weights are renormalized to sum to 1 (identical images score 1 either way).

``pytorch_msssim.ms_ssim`` asserts ``side > (win_size − 1)·16`` whatever the number of
scales, so for sides where that check fails (below 97 px with the 7-px window) the same
multi-scale product is formed here from the library's per-scale ``_ssim`` kernel. That loop
mirrors ``ms_ssim`` step by step (ReLU on contrast terms, 2×2 average pooling with odd-size
padding); a test checks it equals ``ms_ssim`` where both apply.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from pytorch_msssim import ms_ssim
from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim
from torch import Tensor

__all__ = ["STANDARD_WEIGHTS", "msssim_settings", "ms_ssim_batch", "ms_ssim_pairs"]

# Wang et al. (2003) scale weights, finest scale first (also pytorch_msssim's default).
STANDARD_WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

_WIN_SIGMA = 1.5
_SMALL_WINDOW = 7
# Pairs evaluated per library call: bounds memory at large resolutions.
_PAIR_CHUNK = 256


def msssim_settings(side: int) -> tuple[int, list[float]]:
    """``(win_size, weights)`` used for square-ish images whose smaller side is ``side``.

    Raises ValueError below 7 px, where not even one window fits.
    """
    if side >= 11 * 16:
        return 11, list(STANDARD_WEIGHTS)
    if side < _SMALL_WINDOW:
        raise ValueError(f"MS-SSIM needs images of at least {_SMALL_WINDOW} px, got a side of {side}")
    scales = 1
    while scales < len(STANDARD_WEIGHTS) and side >> scales >= _SMALL_WINDOW:
        scales += 1
    if scales == len(STANDARD_WEIGHTS):
        return _SMALL_WINDOW, list(STANDARD_WEIGHTS)
    chosen = STANDARD_WEIGHTS[:scales]
    total = sum(chosen)
    return _SMALL_WINDOW, [w / total for w in chosen]


def _ms_ssim_few_scales(x: Tensor, y: Tensor, *, win_size: int, weights: list[float]) -> Tensor:
    """pytorch_msssim.ms_ssim without its size assertion; per-image values (size_average=False)."""
    win = _fspecial_gauss_1d(win_size, _WIN_SIGMA).repeat([x.shape[1], 1, 1, 1])
    weight_t = x.new_tensor(weights)
    contrast = []
    for level in range(len(weights)):
        ssim_per_channel, cs = _ssim(x, y, data_range=255, win=win, size_average=False)
        if level < len(weights) - 1:
            contrast.append(torch.relu(cs))
            padding = [s % 2 for s in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=padding)
            y = F.avg_pool2d(y, kernel_size=2, padding=padding)
    stacked = torch.stack(contrast + [torch.relu(ssim_per_channel)], dim=0)
    return torch.prod(stacked ** weight_t.view(-1, 1, 1), dim=0).mean(1)


def ms_ssim_batch(x: Tensor, y: Tensor) -> Tensor:
    """Per-pair MS-SSIM of two N×3×H×W image batches (uint8 or float in 0..255) → (N,) float."""
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"expected two equal N×C×H×W batches, got {tuple(x.shape)} and {tuple(y.shape)}")
    side = min(x.shape[-2:])
    win_size, weights = msssim_settings(side)
    x, y = x.float(), y.float()
    if side > (win_size - 1) * 16:
        return ms_ssim(x, y, data_range=255, size_average=False, win_size=win_size, weights=weights)
    return _ms_ssim_few_scales(x, y, win_size=win_size, weights=weights)


def ms_ssim_pairs(images: Tensor, *, num_pairs: int = 10000, seed: int = 0) -> float:
    """Mean MS-SSIM over ``num_pairs`` random pairs of distinct images (ProGAN Table 1: 10000).

    Args:
        images: N×3×H×W uint8 generated images, N ≥ 2.
        num_pairs: pairs drawn with replacement (the paper averages 10000).
        seed: seed of the CPU generator that draws the pairs.
    """
    if not isinstance(images, Tensor) or images.dim() != 4:
        raise ValueError(f"expected an N×3×H×W image tensor, got {getattr(images, 'shape', type(images))}")
    n = images.shape[0]
    if n < 2:
        raise ValueError(f"MS-SSIM among pairs needs at least 2 images, got {n}")
    if num_pairs < 1:
        raise ValueError(f"num_pairs={num_pairs} must be >= 1")
    generator = torch.Generator().manual_seed(seed)
    first = torch.randint(0, n, (num_pairs,), generator=generator)
    # Drawing from n-1 and skipping `first` keeps the partner uniform over the other images.
    second = torch.randint(0, n - 1, (num_pairs,), generator=generator)
    second += (second >= first).long()
    total = 0.0
    with torch.no_grad():
        for start in range(0, num_pairs, _PAIR_CHUNK):
            i = first[start : start + _PAIR_CHUNK].to(images.device)
            j = second[start : start + _PAIR_CHUNK].to(images.device)
            total += float(ms_ssim_batch(images[i], images[j]).double().sum())
    return total / num_pairs
