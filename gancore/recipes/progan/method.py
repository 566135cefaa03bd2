"""ProGAN's networks and update step (Karras et al. 2018).

- Table 2 networks with the Table 1 switches of the config (:mod:`gancore.models.progan`);
- §2 progressive growing: the schedule of App. A.1 as a :class:`~gancore.growth.Growth` (phases, fade-in α, faded
  reals, a grid at the end of every phase);
- App. A.1 update: WGAN-GP with ε_drift and n_critic = 1 (:func:`gancore.steps.wgan_gp_step`), Adam(0.001, 0,
  0.99, 1e-8); G's EMA of 0.999 is the engine's.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gancore.growth import Growth
from gancore.models.progan import Discriminator, Generator, sample_latents
from gancore.nn import gradfix
from gancore.nn.fused_scale import fuse_upsample
from gancore.recipes.growing_wgan import GrowingWGANGP
from gancore.recipes.progan.config import ProGANConfig
from gancore.schedule import Schedule, fixed_schedule, progressive_schedule


def build_networks(cfg: ProGANConfig) -> tuple[Generator, Discriminator]:
    """G and D of Table 2 with the Table 1 switches of ``cfg``."""
    common = dict(resolution=cfg.resolution, fmap_base=cfg.fmap_base, fmap_max=cfg.fmap_max,
                  low_capacity=cfg.low_capacity, eq_lr=cfg.eq_lr)
    G = Generator(latent_dim=cfg.latent_dim, pixelnorm=cfg.pixelnorm, normalize_latent=cfg.normalize_latent,
                  norm=cfg.g_norm, act=cfg.g_act, out_act=cfg.g_out, **common)
    D = Discriminator(mbstd=cfg.mbstd, mbstd_group=cfg.mbstd_group, mbdisc=cfg.mbdisc, norm=cfg.d_norm, **common)
    return G, D


def build_schedule(cfg: ProGANConfig) -> Schedule:
    """App. A.1's growth schedule (or one phase at the final resolution: Table 1 row (a) and the Fig. 4 control)."""
    batch_sizes = {} if cfg.keep_batch else cfg.batch_sizes  # keep_batch: batch_size at every resolution
    if not cfg.progressive:
        return fixed_schedule(resolution=cfg.resolution, batch_size=batch_sizes.get(cfg.resolution, cfg.batch_size),
                              kimg=cfg.total_kimg or cfg.stabilize_kimg)
    return progressive_schedule(start_resolution=cfg.start_resolution, resolution=cfg.resolution,
                                stabilize_kimg=cfg.stabilize_kimg, fade_kimg=cfg.fade_kimg,
                                batch_sizes=batch_sizes, default_batch=cfg.batch_size)


class ProGANMethod(GrowingWGANGP):
    """One WGAN-GP step of ProGAN App. A.1 at the growth schedule's current resolution and α."""

    def __init__(self, *, cfg: ProGANConfig, device: torch.device):
        super().__init__()
        self.cfg, self.device = cfg, device
        torch.manual_seed(cfg.seed)  # network init is part of the seeded run
        G, D = build_networks(cfg)
        self.setup(G=G, D=D, growth=Growth(schedule=build_schedule(cfg)))
        if gradfix.wanted(cfg.fused_upsample, device):  # the authors' fused_scale (same function; on CUDA by auto)
            fuse_upsample(self.G)

    def latent_dim(self) -> int:
        return self.cfg.latent_dim

    def latents(self, n: int, rng: torch.Generator) -> Tensor:
        # App. A.1: N(0, I) here, projected onto the hypersphere by G's input PixelNorm (normalize_latent).
        return sample_latents(n, self.cfg.latent_dim, generator=rng).to(self.device)
