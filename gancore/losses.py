"""GAN losses and regularizers shared by the papers.

- WGAN-GP with the drift term: ProGAN App. A.1 (ε_drift = 0.001) and §6.5 (the γ-scaled penalty).
- Hinge loss: BigGAN §3 / App. C.
- Non-saturating logistic loss and the zero-centred R1 penalty: BigGAN §4.2.
- Off-diagonal orthogonal regularization: BigGAN §3.1, eq. (3).

Gradient penalties need a double backward, which ``torch.compile`` does not support (DESIGN.md): callers run
them eagerly even when the forward passes are compiled.
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor

from gancore.nn.gradfix import input_gradient_only


# ---- WGAN-GP (ProGAN) ------------------------------------------------------------------------------
def wgan_g_loss(fake_scores: Tensor) -> Tensor:
    """Generator side of the Wasserstein loss: maximise D(G(z))."""
    return -fake_scores.mean()


def wgan_d_loss(real_scores: Tensor, fake_scores: Tensor, *, drift: float = 0.0) -> Tensor:
    """Critic side, plus ProGAN's drift term ε_drift·E[D(x)²] that keeps real scores near zero (App. A.1)."""
    loss = fake_scores.mean() - real_scores.mean()
    if drift:
        loss = loss + drift * real_scores.square().mean()
    return loss


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, *, gamma: float = 1.0,
                     generator: torch.Generator | None = None) -> Tensor:
    """E[(‖∇D(x̂)‖₂ − γ)² / γ²] on random interpolates x̂ (Gulrajani et al.; ProGAN §6.5 generalises γ).

    ``γ = 1`` is the usual 1-Lipschitz penalty; ProGAN's CIFAR-10 result uses γ = 750. The caller multiplies by λ.
    The interpolation weights come from ``generator`` (on CPU) so runs resume bit-exactly.
    """
    eps = torch.rand(real.shape[0], 1, 1, 1, generator=generator, dtype=real.dtype)
    eps = eps.to(real.device)
    mixed = (real.detach() + eps * (fake.detach() - real.detach())).requires_grad_(True)
    scores = critic(mixed)
    with input_gradient_only():  # only ∇ₓ̂D is asked for: gradfix layers skip their weight gradients
        (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norm = grad.flatten(1).float().norm(2, dim=1)  # fp32 even when the critic ran under bf16 autocast
    return ((norm - gamma) / gamma).square().mean()


# ---- Hinge and non-saturating (BigGAN) ---------------------------------------------------------------
def hinge_d_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """BigGAN's discriminator hinge loss: E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))]."""
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


def hinge_g_loss(fake_scores: Tensor) -> Tensor:
    return -fake_scores.mean()


def ns_d_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Non-saturating logistic loss (Goodfellow et al.), D side."""
    return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()


def ns_g_loss(fake_scores: Tensor) -> Tensor:
    return F.softplus(-fake_scores).mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """Zero-centred R1: E[‖∇ₓD(x)‖²] on reals (BigGAN §4.2; the caller multiplies by γ/2)."""
    real = real.detach().requires_grad_(True)
    scores = critic(real)
    with input_gradient_only():
        (grad,) = torch.autograd.grad(scores.sum(), real, create_graph=True)
    return grad.flatten(1).square().sum(1).mean()


# ---- Orthogonal regularization (BigGAN §3.1) --------------------------------------------------------------
def orthogonal_regularization(weights: Iterable[Tensor], *, beta: float = 1e-4) -> Tensor:
    """R_β(W) = β‖WᵀW ⊙ (1 − I)‖²_F summed over weights (each flattened to out × in), BigGAN eq. (3).

    BigGAN removes the diagonal so only the *angles* between filters are pushed apart, not their norms.
    """
    total = None
    for w in weights:
        m = w.flatten(1)
        gram = m @ m.t()
        off = gram - torch.diag(torch.diagonal(gram))
        term = off.square().sum()
        total = term if total is None else total + term
    if total is None:
        return torch.zeros(())
    return beta * total
