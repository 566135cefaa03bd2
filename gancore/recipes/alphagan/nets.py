"""alphaGAN's networks and losses, shared by the search and the retrain."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

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


def init_retrain_weights(module: nn.Module) -> nn.Module:
    """The authors' retrain initialization (train_geno_gan.py ``weights_init`` with ``--init_type xavier_uniform``,
    applied to G and D; the paper gives none): every ``nn.Conv2d`` weight Xavier-uniform (gain 1), every affine
    BatchNorm2d weight N(1, 0.02) and bias 0. Biases, linear layers and transposed convs keep PyTorch's defaults:
    the authors select layers by class name containing "Conv2d", which "ConvTranspose2d" does not.

    A spectrally normalised conv is re-initialized through its original weight (what the authors' old-style
    ``spectral_norm`` shared with ``m.weight`` at construction); its power-iteration vectors then start unrelated
    to the new weight, as the authors' random ones do."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            weight = m.parametrizations.weight.original if parametrize.is_parametrized(m, "weight") else m.weight
            with torch.no_grad():
                nn.init.xavier_uniform_(weight, gain=1.0)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            with torch.no_grad():
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)
    return module
