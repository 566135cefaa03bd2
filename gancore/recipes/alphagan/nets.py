"""alphaGAN's networks and losses, shared by the search and the retrain."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from gancore import losses
from gancore.models.alphagan import AlphaGANDiscriminator, AlphaGANGenerator
from gancore.models.alphagan_space import Genotype
from gancore.recipes.alphagan.config import AlphaGANConfig


def build_networks(cfg: AlphaGANConfig, *, genotype: Genotype | None) -> tuple[AlphaGANGenerator, AlphaGANDiscriminator]:
    """The supernet (``genotype=None``) or a retrain G, and the fixed (or, in a search with ``search_d``, searched) D."""
    G = AlphaGANGenerator(channels=cfg.g_channels, dim_z=cfg.dim_z, bottom_width=cfg.bottom_width, genotype=genotype,
                          relaxation=cfg.relaxation, tau=cfg.gumbel_tau)
    D = AlphaGANDiscriminator(channels=cfg.d_channels, resolution=cfg.resolution,
                              searchable=cfg.search_d and genotype is None)
    return G, D


def loss_fns(name: str) -> tuple[Callable[[Tensor, Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """(D loss, G loss) of ``hinge`` or ``ns``; Adv(G, D) = −D loss (eq. 3)."""
    return (losses.hinge_d_loss, losses.hinge_g_loss) if name == "hinge" else (losses.ns_d_loss, losses.ns_g_loss)


def adam(params, *, lr: float, betas: tuple[float, float], weight_decay: float = 0.0) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)
