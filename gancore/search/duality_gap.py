"""The duality gap of a minimax game and its estimate by worst-case copies (alphaGAN §3 eq. 3, Alg. 2).

For a game min_G max_D Adv(G, D), the gap at (G, D) is

    V(G, D) = max_D′ Adv(G, D′) − min_G′ Adv(G′, D)  ≥ 0,

zero exactly at a pure Nash equilibrium. Alg. 2 estimates the two optima by a few optimizer steps from the current
point: D̄ ascends Adv(G, ·) starting from D (G fixed) and Ḡ descends starting from G (D fixed); V ≈ Adv(G, D̄) −
Adv(Ḡ, D). The copies get fresh optimizers every time (each epoch of Alg. 1).

Nothing here knows about images: ``d_objective`` / ``g_objective`` are callables of (G, D, step), so the same code
runs the GAN (:mod:`gancore.recipes.alphagan`) and the closed-form toy game of the tests.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import Tensor, nn

Objective = Callable[[nn.Module, nn.Module, int], Tensor]


def _steps_on_copy(*, moving: nn.Module, fixed: nn.Module, steps: int, loss: Callable[[int], Tensor],
                   optimizer: Callable[[nn.Module], torch.optim.Optimizer]) -> nn.Module:
    """A copy of ``moving`` after ``steps`` optimizer steps on ``loss(r)`` (built from the copy), with ``fixed``
    frozen so no gradient accumulates in it; its requires_grad flags are restored even after an error."""
    opt = optimizer(moving)
    requires = [p.requires_grad for p in fixed.parameters()]
    fixed.requires_grad_(False)
    try:
        for r in range(steps):
            opt.zero_grad(set_to_none=True)
            loss(r).backward()
            opt.step()
    finally:
        for p, flag in zip(fixed.parameters(), requires):
            p.requires_grad_(flag)
    opt.zero_grad(set_to_none=True)
    return moving


def worst_case_discriminator(*, G: nn.Module, D: nn.Module, steps: int, d_loss: Objective,
                             optimizer: Callable[[nn.Module], torch.optim.Optimizer]) -> nn.Module:
    """D̄ (Alg. 2, lines 1–4): a copy of D after ``steps`` steps minimising ``d_loss(G, D̄, r)`` (i.e. ascending
    Adv), with G held fixed. ``optimizer(D̄)`` builds the fresh optimizer over the parameters to update."""
    D_bar = copy.deepcopy(D)
    return _steps_on_copy(moving=D_bar, fixed=G, steps=steps, loss=lambda r: d_loss(G, D_bar, r), optimizer=optimizer)


def worst_case_generator(*, G: nn.Module, D: nn.Module, steps: int, g_loss: Objective,
                         optimizer: Callable[[nn.Module], torch.optim.Optimizer]) -> nn.Module:
    """Ḡ (Alg. 2, lines 5–8): a copy of G after ``steps`` steps minimising ``g_loss(Ḡ, D, r)`` with D held fixed.
    What moves (weights, α or both: Table 4's "Obtain Ḡ") is whatever ``optimizer(Ḡ)`` holds."""
    G_bar = copy.deepcopy(G)
    return _steps_on_copy(moving=G_bar, fixed=D, steps=steps, loss=lambda r: g_loss(G_bar, D, r), optimizer=optimizer)


def duality_gap(*, adv: Callable[[nn.Module, nn.Module], Tensor], G: nn.Module, D: nn.Module, G_bar: nn.Module,
                D_bar: nn.Module) -> tuple[Tensor, Tensor, Tensor]:
    """(V, minmax, maxmin) with minmax = Adv(G, D̄) and maxmin = Adv(Ḡ, D): eq. (3) with the worst-case copies."""
    minmax = adv(G, D_bar)
    maxmin = adv(G_bar, D)
    return minmax - maxmin, minmax, maxmin


__all__ = ["worst_case_discriminator", "worst_case_generator", "duality_gap"]
