"""Spectral normalization (Miyato et al. 2018) as BigGAN uses it in G and D (§3, App. B), with orthogonal init."""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn


_SKIP_SN = False


@contextlib.contextmanager
def skip_spectral_norm() -> Iterator[None]:
    """Build networks without registering spectral norm, for shape-only uses such as parameter counts on the meta
    device: SN adds no parameters, but its registration runs 15 power iterations per layer (seconds per big net)."""
    global _SKIP_SN
    previous, _SKIP_SN = _SKIP_SN, True
    try:
        yield
    finally:
        _SKIP_SN = previous


def sn(module: nn.Module, *, eps: float = 1e-4, ortho_init: bool = False, n_power_iterations: int = 1) -> nn.Module:
    """Spectral normalization (Miyato et al. 2018; BigGAN App. C) of `module.weight` via torch's parametrization.

    Args:
        module: a layer with a `weight` (Conv2d, Linear, Embedding).
        eps: stabiliser of the power-iteration vector norms; BigGAN raises it from 1e-8 (here torch's 1e-12) to 1e-4.
        ortho_init: orthogonally initialise the weight first (BigGAN App. C), so the power-iteration vectors that
            `spectral_norm` warms up at registration already belong to the final weight.
        n_power_iterations: power iterations per training forward pass (1, as in SN-GAN/SAGAN/BigGAN).
    """
    if eps <= 0:
        raise ValueError(f"spectral-norm eps must be > 0, got {eps}")
    if not isinstance(getattr(module, "weight", None), torch.Tensor):
        raise ValueError(f"sn() needs a module with a weight tensor, got {type(module).__name__}")
    if ortho_init:
        nn.init.orthogonal_(module.weight)
    if _SKIP_SN:
        return module
    return nn.utils.parametrizations.spectral_norm(module, n_power_iterations=n_power_iterations, eps=eps)


def SNConv2d(*, in_channels: int, out_channels: int, kernel_size: int = 3, bias: bool = True, sn_eps: float = 1e-4,
             ortho_init: bool = False) -> nn.Module:
    """Spectrally normalised "same"-padded convolution (BigGAN App. B). Arguments as nn.Conv2d plus `sn`'s."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)
    return sn(conv, eps=sn_eps, ortho_init=ortho_init)


def SNLinear(*, in_features: int, out_features: int, bias: bool = True, sn_eps: float = 1e-4,
             ortho_init: bool = False) -> nn.Module:
    """Spectrally normalised fully-connected layer (BigGAN App. B). Arguments as nn.Linear plus `sn`'s."""
    return sn(nn.Linear(in_features, out_features, bias=bias), eps=sn_eps, ortho_init=ortho_init)


def SNEmbedding(*, num_embeddings: int, embedding_dim: int, sn_eps: float = 1e-4,
                ortho_init: bool = False) -> nn.Module:
    """Spectrally normalised class embedding, used by the projection discriminator (BigGAN App. B)."""
    return sn(nn.Embedding(num_embeddings, embedding_dim), eps=sn_eps, ortho_init=ortho_init)
