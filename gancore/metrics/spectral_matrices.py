"""Weights as matrices and the batched singular-value kernels (BigGAN §4.1) behind
:func:`~gancore.metrics.spectral.top_singular_values`: clean parameter names, ≥2-D weights reshaped to matrices, the
first layer, exact (``svdvals``) and block-power top-k singular values. See :mod:`gancore.metrics.spectral` for what
is measured and why.
"""
from __future__ import annotations

import math
import re
from typing import Literal

import torch
from torch import Tensor, nn

Method = Literal["svd", "power"]
METHODS: tuple[str, ...] = ("svd", "power")

_PARAMETRIZED = re.compile(r"parametrizations\.(?P<name>[^.]+)\.original\d*$")


# ---------------------------------------------------------------------------------------------------------------------
# Singular values
# ---------------------------------------------------------------------------------------------------------------------
def clean_param_name(name: str) -> str:
    """``blocks.0.conv1.parametrizations.weight.original`` → ``blocks.0.conv1.weight``; other names pass through."""
    return _PARAMETRIZED.sub(lambda m: m["name"], name)


def weight_matrices(module: nn.Module) -> dict[str, Tensor]:
    """Every ≥2-D parameter of ``module`` as a detached float32 matrix, keyed by its clean name (BigGAN §4.1).

    The raw parameter is read, so spectrally normalised layers give their un-normalised weight. A conv weight
    out×in×kh×kw becomes out × (in·kh·kw), the matrix whose σ0 spectral norm divides by (Miyato et al. 2018).
    """
    matrices: dict[str, Tensor] = {}
    for name, param in module.named_parameters():
        if param.dim() < 2:
            continue
        clean = clean_param_name(name)
        if clean in matrices:  # two parametrization originals of one weight would collide; keep them apart
            clean = name
        matrices[clean] = param.detach().reshape(param.shape[0], -1).float()
    return matrices


def first_layer_name(module: nn.Module) -> str | None:
    """Clean name of the first ≥2-D weight of ``module`` that is not an embedding table, or None.

    Registration order is data-flow order in these networks; embedding tables are skipped because BigGAN's G registers
    its shared class embedding before ``linear``, the first layer proper that §4.1 singles out.
    """
    embedding_params = {id(p) for m in module.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    for name, param in module.named_parameters():
        if param.dim() >= 2 and id(param) not in embedding_params:
            return clean_param_name(name)
    return None


def _batched_top_k(stack: Tensor, *, k: int, method: str, power_iters: int, oversample: int, seed: int) -> Tensor:
    """Top-k singular values of a b×m×n float32 stack → b×min(k, m, n), NaN rows for non-finite matrices."""
    finite = torch.isfinite(stack).flatten(1).all(dim=1)
    if not bool(finite.all()):  # zero the bad matrices (their values become NaN below); copy only then
        stack = torch.where(finite[:, None, None], stack, torch.zeros((), device=stack.device))
    # Transposing leaves the singular values unchanged. svdvals wants the tall form: for a conv weight's wide
    # out × in·kh·kw matrix, its transposed view (column-major, as LAPACK wants, and no copy) ran 4-7× faster on CPU
    # (ch=96 128² G+D: 39 s → 10 s). Subspace iteration wants the wide form, whose short side bounds its block size.
    tall = stack.shape[-2] >= stack.shape[-1]
    if tall != (method == "svd"):
        stack = stack.mT
    if method == "svd":
        values = torch.linalg.svdvals(stack)
    else:
        values = _power_svdvals(stack, k=k, iters=power_iters, oversample=oversample, seed=seed)
    values = values[:, :k].float()
    return torch.where(finite[:, None], values, torch.full((), math.nan, device=values.device))


def _power_svdvals(stack: Tensor, *, k: int, iters: int, oversample: int, seed: int) -> Tensor:
    # Orthogonal (block power) iteration on Wᵀ W with an oversampled block, then the exact singular values of the
    # small projection W·Q (Rayleigh–Ritz). The error of σ_i shrinks like (σ_q / σ_i)^(2·iters), q = k + oversample.
    m, n = stack.shape[-2:]
    q = min(k + oversample, m)
    generator = torch.Generator().manual_seed(seed)
    basis = torch.randn(stack.shape[0], n, q, generator=generator).to(stack.device)
    for _ in range(iters):
        left = torch.linalg.qr(stack @ basis).Q
        basis = torch.linalg.qr(stack.mT @ left).Q
    return torch.linalg.svdvals(stack @ basis)
