"""What a trained critic responds to: its scores on controlled degradations of real images.

Not from one of the papers: a probe for reading short runs. A generator only learns what its critic can tell apart.
If blurring the real images barely moves the critic's score while the generator's samples score far below the
reals, the critic separates fakes by colour and layout but has not learned edges yet, so nothing pushes the
generator towards sharp shapes. That is how the reduced-scale ProGAN run ends up drawing soft blobs (issue note,
measured on a 48 kimg 16×16 run: blurring moved the critic by 0.01, the samples sat 1.1 below the reals).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gancore.nn import downsample2x, upsample2x

__all__ = ["degradations", "critic_probe"]


def _check_images(x: Tensor, name: str) -> None:
    if x.dim() != 4 or x.shape[0] < 1:
        raise ValueError(f"{name} must be a non-empty N×C×H×W batch, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be float images in [-1, 1] (convert uint8 with x / 127.5 - 1), got {x.dtype}")


def degradations(reals: Tensor, *, noise_std: float = 0.1, seed: int = 0) -> dict[str, Tensor]:
    """The real batch and three controlled degradations of it, each the same shape.

    - ``blur 3×3``: a 3×3 box filter (edges replicated), which softens every edge by about one pixel;
    - ``one octave lost``: 2×2 average pooling then nearest upsampling, the real-image blend ProGAN uses at α = 0
      (§2), i.e. what the previous resolution could express;
    - ``noise``: additive Gaussian noise of ``noise_std`` (seeded), a high-frequency change with sharp edges kept.

    Args:
        reals: float images in [-1, 1], N×C×H×W with even H and W.
        noise_std: standard deviation of the added noise, in the [-1, 1] pixel scale.
        seed: seed of the noise.
    """
    _check_images(reals, "reals")
    if reals.shape[-1] % 2 or reals.shape[-2] % 2:
        raise ValueError(f"reals need even height and width for the octave degradation, got {tuple(reals.shape)}")
    blur = F.avg_pool2d(F.pad(reals, (1, 1, 1, 1), mode="replicate"), kernel_size=3, stride=1)
    octave = upsample2x(downsample2x(reals))  # the low-pass path of the fade-in blend (gancore.growth.fade_in)
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(reals.shape, generator=gen, dtype=torch.float32).to(reals)
    return {"real": reals, "blur 3×3": blur, "one octave lost": octave,
            f"noise σ={noise_std:g}": reals + noise_std * noise}


@torch.no_grad()
def critic_probe(critic: Callable[[Tensor], Tensor], reals: Tensor, fakes: Tensor, *, noise_std: float = 0.1,
                 seed: int = 0, batch_size: int = 256) -> list[dict[str, float | str]]:
    """The critic's mean score on reals, on each of :func:`degradations`, and on generator samples.

    Every row holds the mean and standard deviation of the scores and ``gap``, the mean minus the reals' mean. A
    critic that has learned a property gives the degradation that removes it a clearly negative gap; compare each gap
    with the samples' gap (WGAN critics have no fixed scale, so gaps are only comparable within one critic).

    Args:
        critic: maps a float image batch to one score per image (e.g. ``lambda x: D(x, resolution=32)``).
        reals: float images in [-1, 1], N×C×H×W.
        fakes: generator samples in the same range and shape (the number of images may differ).
        noise_std, seed: passed to :func:`degradations`.
        batch_size: images scored per critic call. Keep it a multiple of the minibatch-stddev group (4 in ProGAN)
            so every group holds images of one kind only.
    """
    _check_images(fakes, "fakes")
    if fakes.shape[1:] != reals.shape[1:]:
        raise ValueError(f"fakes have shape {tuple(fakes.shape[1:])} per image, reals {tuple(reals.shape[1:])}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    sets = {**degradations(reals, noise_std=noise_std, seed=seed), "generator samples": fakes}
    scores = {}
    for name, x in sets.items():
        s = torch.cat([critic(chunk).float().reshape(-1) for chunk in x.split(batch_size)])
        if s.numel() != x.shape[0]:
            raise ValueError(f"the critic returned {s.numel()} scores for {x.shape[0]} images; it must give one each")
        scores[name] = s
    real_mean = scores["real"].mean().item()
    return [{"input": name, "mean score": s.mean().item(), "std": s.std(correction=0).item(),
             "gap to reals": s.mean().item() - real_mean} for name, s in scores.items()]
