"""Latent-space sampling and interpolation shared by the paper notebooks.

- ``hypersphere``: ProGAN App. A.1 ("latent vectors correspond to random points on a 512-dimensional hypersphere").
- ``gaussian_latent_walk``: ProGAN §6.2, the latent walk behind the accompanying video.
- ``slerp`` / ``interpolate_latents``: spherical interpolation (Shoemake 1985; White 2016 for GAN latents).
- ``truncated_normal`` / ``sample_latents``: BigGAN §3.1 truncation trick.
"""
from __future__ import annotations

import math
from typing import Literal, Sequence

import numpy as np
import torch
from torch import Tensor

INTERPOLATION_MODES = ("slerp", "lerp")

# Below this angle (radians) sin(omega) is too small to divide by; slerp and lerp agree there to ~omega^2.
_PARALLEL_ANGLE = 1e-4


def hypersphere(z: Tensor, *, eps: float = 1e-8) -> Tensor:
    """Scale each row (last dim) to Euclidean norm sqrt(D).

    ProGAN App. A.1 / §4.2: this equals PixelNorm applied to the latent, ``z / sqrt(mean(z**2) + eps)``, so the
    generator sees exactly these vectors whether or not they were normalised beforehand.
    """
    if z.ndim < 1 or z.shape[-1] == 0:
        raise ValueError(f"hypersphere needs a tensor with a non-empty last dimension, got shape {tuple(z.shape)}")
    return z * torch.rsqrt(z.pow(2).mean(dim=-1, keepdim=True) + eps)


def slerp(a: Tensor, b: Tensor, t: Tensor | float) -> Tensor:
    """Spherical linear interpolation between latents ``a`` and ``b`` (last dim is the latent dim).

    Uses Shoemake's formula on the raw vectors, ``sin((1-t)w)/sin(w) a + sin(tw)/sin(w) b`` with ``w`` the angle
    between them, so for equal-norm inputs every point keeps that norm (it stays on the hypersphere that ProGAN and
    Gaussian latents concentrate on; lerp would cut through the low-density interior).

    Args:
        a: start latent(s), shape (..., D).
        b: end latent(s), broadcastable with ``a``.
        t: a float or 0-d tensor (result has the broadcast shape of a and b), or a 1-d tensor of T positions
           (result has shape (T, ..., D)).

    Nearly parallel inputs fall back to lerp (the limit of the formula). Antipodal inputs have no unique great
    circle and raise ValueError.
    """
    a, b = torch.broadcast_tensors(a, b)
    t_tensor = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    if t_tensor.ndim > 1:
        raise ValueError(f"t must be a float, 0-d or 1-d tensor, got shape {tuple(t_tensor.shape)}")
    scalar_t = t_tensor.ndim == 0
    # Shape t as (T, 1, ..., 1) so it broadcasts against (..., D) and the result gains a leading T axis.
    t_b = t_tensor.reshape(-1, *([1] * a.ndim))

    a_dir = a / a.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    b_dir = b / b.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    # Kahan's form of the angle: arccos(dot) loses half the float32 digits near 0 and pi, exactly where the
    # parallel/antipodal checks below need them.
    omega = 2 * torch.atan2((a_dir - b_dir).norm(dim=-1, keepdim=True), (a_dir + b_dir).norm(dim=-1, keepdim=True))
    if bool((omega > math.pi - _PARALLEL_ANGLE).any()):
        raise ValueError("slerp is undefined for antipodal latents (a ≈ -b): no unique great circle between them")
    parallel = omega < _PARALLEL_ANGLE
    sin_omega = torch.where(parallel, torch.ones_like(omega), torch.sin(omega))
    w_a = torch.where(parallel, 1.0 - t_b, torch.sin((1.0 - t_b) * omega) / sin_omega)
    w_b = torch.where(parallel, t_b, torch.sin(t_b * omega) / sin_omega)
    out = w_a * a + w_b * b
    return out[0] if scalar_t else out


def lerp(a: Tensor, b: Tensor, t: Tensor | float) -> Tensor:
    """Linear interpolation with the same shape rules as :func:`slerp`."""
    a, b = torch.broadcast_tensors(a, b)
    t_tensor = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    if t_tensor.ndim > 1:
        raise ValueError(f"t must be a float, 0-d or 1-d tensor, got shape {tuple(t_tensor.shape)}")
    out = torch.lerp(a, b, t_tensor.reshape(-1, *([1] * a.ndim)))
    return out[0] if t_tensor.ndim == 0 else out


def interpolate_latents(
    a: Tensor, b: Tensor, steps: int, *, mode: Literal["slerp", "lerp"] = "slerp"
) -> Tensor:
    """``steps`` evenly spaced latents from ``a`` to ``b`` (both endpoints included), shape (steps, D).

    ``a`` and ``b`` are single latents of shape (D,) or (1, D).
    """
    if mode not in INTERPOLATION_MODES:
        raise ValueError(f"mode={mode!r} is not one of {INTERPOLATION_MODES}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps={steps!r} must be an int >= 2 (both endpoints are included)")
    a = _single_latent(a, "a")
    b = _single_latent(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same latent size, got {tuple(a.shape)} and {tuple(b.shape)}")
    t = torch.linspace(0.0, 1.0, steps, dtype=a.dtype, device=a.device)
    return slerp(a, b, t) if mode == "slerp" else lerp(a, b, t)


def gaussian_latent_walk(
    num_frames: int, dim: int, *, sigma_frames: float = 45.0, seed: int = 0
) -> Tensor:
    """Smooth looping latent walk for videos, shape (num_frames, dim) on the sqrt(dim) hypersphere.

    ProGAN §6.2: "we first randomize a latent code for each frame (512 components sampled individually from
    N(0, 1)), then we blur the latents across time with a Gaussian (σ = 45 frames @ 60Hz), and finally normalize
    each vector to lie on a hypersphere."

    The blur wraps around in time (circular), so the last frame flows into the first and the walk loops without
    a seam; the paper does not say how its edges were handled. ``sigma_frames=0`` skips the blur.

    Args:
        num_frames: number of frames (>= 1).
        dim: latent size (>= 1).
        sigma_frames: Gaussian standard deviation along time, in frames (paper: 45 at 60 fps).
        seed: seed for the per-frame N(0, 1) draws; the same seed gives the same walk.
    """
    _check_positive_int(num_frames, "num_frames")
    _check_positive_int(dim, "dim")
    if not math.isfinite(sigma_frames) or sigma_frames < 0:
        raise ValueError(f"sigma_frames={sigma_frames!r} must be a finite number >= 0")
    noise = torch.randn(num_frames, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    if sigma_frames > 0:
        from scipy.ndimage import gaussian_filter1d  # deferred: scipy.ndimage costs 0.3 s at every start-up

        blurred = gaussian_filter1d(noise.numpy(), sigma=sigma_frames, axis=0, mode="wrap")
        noise = torch.from_numpy(np.ascontiguousarray(blurred))
    return hypersphere(noise).to(torch.float32)


def truncated_normal(
    shape: Sequence[int] | int, *, threshold: float, generator: torch.Generator | None = None
) -> Tensor:
    """N(0, 1) samples restricted to [-threshold, threshold] by resampling (BigGAN §3.1 truncation trick).

    BigGAN §3.1: "values which fall outside a range are resampled to fall inside that range". Every element with
    |z| > threshold is redrawn until none remain, so the result follows the truncated normal exactly; clipping
    would instead pile mass at ±threshold.

    Args:
        shape: output shape.
        threshold: truncation bound (> 0); smaller trades variety for fidelity.
        generator: optional torch.Generator for reproducible draws.
    """
    if not threshold > 0:  # also rejects NaN
        raise ValueError(f"threshold={threshold!r} must be > 0")
    z = torch.randn(shape, generator=generator)
    outside = z.abs() > threshold
    while bool(outside.any()):
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > threshold
    return z


def sample_latents(n: int, dim: int, *, seed: int | None = None, generator: torch.Generator | None = None,
                   truncation: float | None = None, device: torch.device | str | None = None) -> Tensor:
    """``n`` latents of size ``dim``, shape (n, dim), from ``seed`` or from a caller's ``generator``.

    Plain N(0, 1) by default (ProGAN's generator projects them onto the hypersphere itself, App. A.1); with
    ``truncation`` they come from :func:`truncated_normal` (BigGAN §3.1). With a seed, row i depends only on
    (seed, n, dim), so widgets and static figures that use the same seed show the same images. Latents are drawn
    on the generator's device and then moved to ``device``, so a seeded CPU generator gives the same latents
    whichever device the model is on (exact resume across devices).
    """
    _check_positive_int(n, "n")
    _check_positive_int(dim, "dim")
    if seed is not None and generator is not None:
        raise ValueError("give either seed or generator, not both")
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
    if truncation is None:
        draw_device = generator.device if generator is not None else device
        z = torch.randn(n, dim, generator=generator, device=draw_device)
    else:
        z = truncated_normal((n, dim), threshold=truncation, generator=generator)
    return z.to(device) if device is not None else z


def _single_latent(z: Tensor, name: str) -> Tensor:
    if z.ndim == 2 and z.shape[0] == 1:
        z = z[0]
    if z.ndim != 1:
        raise ValueError(f"{name} must be one latent of shape (D,) or (1, D), got shape {tuple(z.shape)}")
    return z


def _check_positive_int(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} must be an int >= 1")
